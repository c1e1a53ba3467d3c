"""ksmlab.widgets, driven headlessly: buttons clicked, values set, and the model state,
the schedule string and the banner text checked after each action."""

import functools

import matplotlib
import pytest

matplotlib.use("Agg")

import ksmlab  # noqa: E402
from ksmlab import Fixes, scenarios  # noqa: E402
from ksmlab.scenarios import ksm_pages_mapped  # noqa: E402
from ksmlab.widgets import ExplorerPanel, Stepper, SysfsPanel  # noqa: E402
from ksmlab.widgets.session import StepSession  # noqa: E402

NAMES = scenarios.names()
PNG = b"\x89PNG\r\n\x1a\n"


def buggy(name):
    scn = scenarios.get(name)
    return Fixes.all().without(scn.fix) if scn.fix else Fixes.none()


@functools.cache
def textbook(name):
    """The explorer's counterexample with the scenario's fix off (schedule text)."""
    r = ksmlab.explore(name, fixes=buggy(name))
    assert r.found
    return r.counterexample.schedule, r.counterexample.violation


@pytest.fixture
def steppers():
    made = []

    def make(*args, **kwargs):
        s = Stepper(*args, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.session.close()


def click_through(stepper, schedule):
    """Click each step's task button; stop at the first refused click. Returns the
    number of clicks accepted."""
    done = 0
    for name in ksmlab.Schedule.parse(schedule):
        before = stepper.schedule
        stepper.buttons[name].click()
        if stepper.schedule == before:
            return done
        done += 1
    return done


def test_stepper_starts_with_the_race_on_and_states_the_goal(steppers):
    s = steppers("fork_behind_unmerge_cursor", figures=False)
    assert s.fix_boxes["cursor_insertion"].value is False
    assert all(b.value for n, b in s.fix_boxes.items() if n != "cursor_insertion")
    assert "Bug 1" in s.goal.value and "Goal: break the property" in s.goal.value
    assert s.schedule == ""
    assert s.banner_text == "Step 0: runnable now: F, U."
    assert s.buttons["F"].description == "F: start" and not s.buttons["F"].disabled
    assert s.undo_button.disabled
    assert bytes(s.image.value) == b""  # figures off


@pytest.mark.parametrize("name", NAMES)
def test_textbook_clicks_with_the_fix_off_show_the_violation(name, steppers):
    schedule, violation = textbook(name)
    s = steppers(name, fixes=buggy(name), figures=False)
    assert click_through(s, schedule) == len(ksmlab.Schedule.parse(schedule))
    s.figures = True  # drawn once at the end (each click's drawing is timed in the bench)
    s.refresh()
    assert s.schedule == schedule
    n = len(ksmlab.Schedule.parse(schedule))
    assert s.banner_text == f"Property broken after step {n}: {violation}"
    assert "Property broken" in s.banner.value
    assert s.session.violation == violation
    assert f"VIOLATION: {violation}" in s.trace_html.value
    assert bytes(s.image.value).startswith(PNG)
    w = s.session.world
    if scenarios.get(name).fix in (
        "cursor_insertion",
        "swapcache_copy_on_fault",
        "follow_page_migration_wait",
    ):
        assert ksm_pages_mapped(w)  # what the banner says, in the model's state
    elif scenarios.get(name).kept_in_3_9:
        assert violation.startswith("invariant unstable_tree_consistent:")
    else:
        assert violation.startswith("oops:") and s.session.sched.oops is not None
    # once the property is broken, no task runs on: undo or reset first
    assert all(b.disabled for b in s.buttons.values())
    s.buttons[sorted(s.buttons)[0]].click()
    assert "refused: the property is already broken" in s.message.value
    assert s.schedule == schedule


@pytest.mark.parametrize("name", [n for n in NAMES if not scenarios.get(n).kept_in_3_9])
def test_same_clicks_with_the_fix_on_end_cleanly_or_are_refused(name, steppers):
    schedule, _ = textbook(name)
    s = steppers(name, fixes=buggy(name), figures=False)
    fix = scenarios.get(name).fix
    if fix:
        s.fix_boxes[fix].value = True  # the toggle restarts the scenario
    else:
        s.set_fixes(Fixes.all())
    assert s.session.fixes == Fixes.all()
    assert s.schedule == "" and s.session.world.fixes == Fixes.all()
    steps = ksmlab.Schedule.parse(schedule)
    done = click_through(s, schedule)
    if done < len(steps):
        refused = steps[done]
        assert s.buttons[refused].disabled
        reason = s.session.sched.why_not(refused)
        assert reason and f"refused: {reason}" in s.message.value
        assert s.session.violation is None
        assert "Step " in s.banner_text
    else:
        assert s.session.violation is None
    # the rest of the run, first runnable task each time: it must end cleanly
    for _ in range(500):
        runnable = s.session.sched.runnable()
        if not runnable:
            break
        s.buttons[runnable[0]].click()
    assert s.session.sched.finished
    assert s.banner_text.startswith("The run ended cleanly after ")
    assert s.session.violation is None and not ksm_pages_mapped(s.session.world)


def _first_blocked(name, fixes):
    """A round-robin schedule that leaves some task blocked, and that task."""
    sched = ksmlab.Scheduler(scenarios.get(name), fixes)
    try:
        for i in range(200):
            blocked = [n for n, t in sorted(sched.tasks.items()) if t.blocked]
            if blocked:
                return str(sched.schedule), blocked[0], sched.tasks[blocked[0]].status()
            runnable = sched.runnable()
            sched.step(runnable[i % len(runnable)])
    finally:
        sched.close()
    raise AssertionError("nothing blocked")


@pytest.mark.parametrize(
    "name, fixes, reason",
    [
        ("migration_during_break_ksm", Fixes.all(), "is under migration by M"),
        ("migration_during_break_ksm", Fixes.none(), "is locked by M"),
        ("merge_across_nodes_switch", Fixes.all(), "ksmd sleeps until run=1"),
    ],
)
def test_blocked_task_button_is_disabled_with_the_reason(name, fixes, reason, steppers):
    schedule, task, status = _first_blocked(name, fixes)
    assert reason in status
    s = steppers(name, fixes=fixes, figures=False)
    assert s.replay(schedule) == ""
    assert s.schedule == schedule
    assert s.buttons[task].disabled and s.buttons[task].tooltip == status
    assert reason in s.statuses[task].value
    s.buttons[task].click()  # a click on a disabled button changes nothing
    assert s.schedule == schedule
    assert f"refused: task {task} is blocked at" in s.message.value
    assert s.error.value == ""


def test_undo_and_reset_restore_the_world(steppers):
    name = "fork_behind_unmerge_cursor"
    s = steppers(name, figures=False)
    for n in "UUUF":
        s.buttons[n].click()
    assert s.schedule == "U*3 F"
    assert s.buttons["F"].description == "F: __ksm_enter:alloc_mm_slot"
    s.undo_button.click()
    assert s.schedule == "U*3"
    ref = ksmlab.replay(name, "U*3", buggy(name))
    assert s.session.world.fingerprint() == ref.scheduler.world.fingerprint()
    ref.scheduler.close()
    s.reset_button.click()
    assert s.schedule == "" and s.banner_text == "Step 0: runnable now: F, U."
    fresh = scenarios.get(name).build(buggy(name))
    assert s.session.world.fingerprint() == fresh.world.fingerprint()
    s.undo_button.click()  # nothing to undo: said, not raised
    assert "nothing to undo" in s.message.value and s.error.value == ""


def test_any_breaking_schedule_wins_not_only_the_textbook_one(steppers):
    # bug 1 with the fork first: C registers behind the cursor at the head... and the
    # explorer's schedule tree shows "U F .." also loses data: click that one
    s = steppers("fork_behind_unmerge_cursor", figures=False)
    s.buttons["U"].click()
    s.buttons["F"].click()
    while not s.session.sched.finished and s.session.violation is None:
        s.buttons[s.session.sched.runnable()[-1]].click()
    assert s.schedule != textbook("fork_behind_unmerge_cursor")[0]
    assert s.banner_text.startswith("Property broken after step ")


def test_a_failing_callback_shows_an_error_and_does_not_raise(steppers, monkeypatch):
    s = steppers("fork_behind_unmerge_cursor", figures=False)

    def boom(name):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(s.session, "step", boom)
    s.buttons["U"].click()
    assert "error: RuntimeError: model exploded" in s.error.value
    monkeypatch.undo()
    s.buttons["U"].click()
    assert s.error.value == "" and s.schedule == "U"


def test_stepper_pictures_follow_the_steps(steppers):
    s = steppers("fork_behind_unmerge_cursor")
    first = bytes(s.image.value)
    assert first.startswith(PNG)
    s.buttons["U"].click()
    assert bytes(s.image.value).startswith(PNG) and bytes(s.image.value) != first
    assert "mm_slot ring: [ksm_mm_head] -> [A] -> [P]&lt;cursor&gt;" not in s.text_picture.value
    s.buttons["U"].click()
    s.buttons["U"].click()
    assert "mm_slot ring: [ksm_mm_head] -&gt; [A] -&gt; [P]&lt;cursor&gt;" in s.text_picture.value


# -- session ---------------------------------------------------------------------------------
def test_session_task_rows_and_banner():
    sess = StepSession("stale_stable_node_switch")
    rows = {name: (button, status, ok) for name, button, status, ok in sess.tasks()}
    assert rows["K"] == ("K: start", "not started: ksmd: one pass once run=1", True)
    assert sess.step("K") == ""
    assert rows and sess.tasks()[0][2].startswith("blocked at ksm_scan_thread:wait_event")
    assert sess.step("K").startswith("step 2 refused: task K is blocked at")
    assert sess.banner() == ("running", "Step 1: runnable now: R, W.")
    sess.close()


# -- explorer panel -------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES[:4])
def test_explorer_panel_finds_and_replays_each_bug(name):
    p = ExplorerPanel(figures=False)
    p.scenario.value = name
    fix = scenarios.get(name).fix
    assert p.fixes == Fixes.all().without(fix)
    p.explore_button.click()
    assert p.error.value == ""
    schedule, violation = textbook(name)
    assert p.result.found and p.result.counterexample.schedule == schedule
    assert "violation found with" in p.verdict.value
    assert p.progress.value == p.result.schedules
    assert f"schedule ({p.result.counterexample.preemptions} preemptions" in p.table.value
    assert p.table.value.count("<tr>") == p.result.counterexample.steps + 1
    assert not p.replay_button.disabled
    p.replay_button.click()
    assert p.error.value == ""
    assert p.stepper_box.children == (p.stepper,)
    assert p.stepper.schedule == schedule
    assert p.stepper.banner_text.endswith(violation)
    p.stepper.session.close()


def test_explorer_panel_with_the_fix_finds_nothing_and_refuses_replay():
    p = ExplorerPanel("fork_behind_unmerge_cursor", figures=False)
    p.fix_boxes["cursor_insertion"].value = True
    p.bound.value = 1
    p.explore_button.click()
    assert "no violation within bound 1" in p.verdict.value
    assert p.result.exhaustive and p.replay_button.disabled and p.table.value == ""
    p.replay_button.click()  # disabled, but a click must still not raise
    assert "error: ValueError: nothing to replay" in p.error.value


def test_explorer_panel_random_strategy_and_limits():
    p = ExplorerPanel("swapin_after_unmerge_walk", figures=False)
    p.strategy.value = "random"
    p.seed.value = 3
    p.max_schedules.value = 40
    p.explore_button.click()
    assert p.error.value == ""
    assert p.result.strategy == "random" and p.result.schedules <= 40
    assert p.progress.value == p.result.schedules
    p.scenario.value = "fork_behind_unmerge_cursor"  # a new scenario clears the result
    assert p.result is None and p.verdict.value == "" and p.replay_button.disabled


# -- sysfs panel ----------------------------------------------------------------------------
def test_sysfs_panel_writes_errors_and_passes():
    p = SysfsPanel()
    k = p.kernel
    p.pass_button.click()
    assert p.status.value.count("ksmd did not run") == 1
    p.knob.value, p.value.value = "run", "1"
    p.write_button.click()
    assert "echo 1 &gt; run: ok" in p.status.value and k.sysfs.read("run") == 1
    p.pass_button.click()
    p.pass_button.click()
    assert "ksmd pass 2: scanned 16 pages" in p.status.value
    assert k.sysfs.read("pages_shared") == 4 and k.sysfs.read("pages_sharing") == 12
    assert "<td style='padding:0 6px'>pages_sharing</td><td style='padding:0 6px'>12</td>" in (
        p.counters_html.value
    )
    assert [h["pages_sharing"] for h in p.history] == [0, 0, 12]
    assert bytes(p.plot.value).startswith(PNG)
    p.knob.value, p.value.value = "merge_across_nodes", "0"
    p.write_button.click()
    assert "write error EBUSY" in p.status.value and k.sysfs.read("merge_across_nodes") == 1
    p.knob.value, p.value.value = "run", "banana"
    p.write_button.click()
    assert "write error EINVAL" in p.status.value and k.sysfs.read("run") == 1
    assert p.write("run", 2).endswith(": ok") and k.sysfs.read("pages_shared") == 0
    assert p.write("merge_across_nodes", 0).endswith(": ok")
    assert "<td style='padding:0 6px'>merge_across_nodes</td><td style='padding:0 6px'>0</td>" in (
        p.knobs_html.value
    )
    assert p.error.value == ""


def test_sysfs_panel_on_a_given_kernel_without_figures():
    k = ksmlab.Kernel(nodes=1)
    p = SysfsPanel(k, figures=False)
    p.write("pages_to_scan", 0)
    p.write("run", 1)
    p.pass_button.click()
    assert "pages_to_scan is 0" in p.status.value
    assert bytes(p.plot.value) == b"" and p.error.value == ""
