"""ksmlab.widgets, driven headlessly: buttons clicked, values set, and the model state,
the schedule string and the banner text checked after each action."""

import html
import re

import matplotlib
import pytest
from ksmtest import buggy, counterexample

matplotlib.use("Agg")

import ksmlab  # noqa: E402
from ksmlab import Fixes, scenarios  # noqa: E402
from ksmlab.scenarios import ksm_pages_mapped  # noqa: E402
from ksmlab.widgets import ExplorerPanel, Stepper, SysfsPanel  # noqa: E402
from ksmlab.widgets.session import StepSession  # noqa: E402

NAMES = scenarios.names()
PNG = b"\x89PNG\r\n\x1a\n"


def plain(value):
    """An HTML widget's text without its tags."""
    return html.unescape(re.sub(r"<[^>]+>", "", value))


def textbook(name):
    """The explorer's counterexample with the scenario's fix off (schedule text)."""
    cx = counterexample(name)
    return cx.schedule, cx.violation


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
    assert s.buttons["F"].description == "Step F" and not s.buttons["F"].disabled
    assert s.run_buttons["F"].description == "Run F until blocked"
    assert plain(s.statuses["F"].value) == "F: not started: P forks child C (dup_mmap)"
    assert s.undo_button.disabled
    assert s.image.value == "" and s.image.layout.display == "none"  # figures off


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
    # the trace's table wraps long lines between words
    assert f"VIOLATION: {violation}" in " ".join(s.trace_html.value.split())
    assert s.image.value.count("<svg") == 2
    # the boxes the violation names are marked
    assert 'culprit" data-node=' in s.image.value
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
    assert reason in plain(s.statuses[task].value)
    assert "ksmlab-status-blocked" in s.statuses[task].value
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
    assert plain(s.statuses["F"].value).startswith("F: at __ksm_enter:alloc_mm_slot: ")
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
    first = s.image.value
    assert first.count("<svg") == 2 and "memory map at the start" in first
    assert " changed" not in first  # nothing is highlighted before a step
    s.buttons["U"].click()
    assert "memory map after step 1" in s.image.value and s.image.value != first
    # two steps later the unmerge walk has moved the cursor on to P: its box is outlined
    s.buttons["U"].click()
    s.buttons["U"].click()
    assert 'class="ksmlab-node slot_cursor changed" data-node="slot:P"' in s.image.value
    assert "mm_slot ring: [ksm_mm_head] -> [A] -> [P]&lt;cursor&gt;" not in s.text_picture.value
    s.buttons["U"].click()
    s.buttons["U"].click()
    assert "mm_slot ring: [ksm_mm_head] -&gt; [A] -&gt; [P]&lt;cursor&gt;" in s.text_picture.value


# -- session ---------------------------------------------------------------------------------
def test_session_task_rows_and_banner():
    sess = StepSession("stale_stable_node_switch")
    rows = {name: (state, status, ok) for name, state, status, ok in sess.tasks()}
    assert rows["K"] == ("ready", "not started: ksmd: one pass once run=1", True)
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
    assert p.progress.value == 100 and p.progress_text.value == (
        f"<div>done: {p.result.schedules} schedules</div>"
    )
    assert f"schedule ({p.result.counterexample.preemptions} preemptions" in p.table.value
    assert p.table.value.count("<tr>") == p.result.counterexample.steps + 1
    assert not p.replay_button.disabled
    p.replay_button.click()
    assert p.error.value == ""
    assert p.stepper_box.children == (p.stepper,)
    assert p.stepper.schedule == ""  # at the start, ready to step forward
    for _ in ksmlab.Schedule.parse(schedule):
        p.stepper.next_button.click()
    assert p.stepper.schedule == schedule
    assert p.stepper.banner_text.endswith(violation)
    assert p.stepper.next_button.disabled
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
    assert p.progress.value == 100
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
    assert "ksmd ran one pass: scanned 16 pages (full_scans now 2)" in p.status.value
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
    # run=2 resets full_scans: the next pass says 1, as the counter reads, not "pass 3"
    p.knob.value, p.value.value = "run", "2"
    p.write_button.click()
    p.value.value = "1"
    p.write_button.click()
    p.pass_button.click()
    assert "ksmd ran one pass: scanned 16 pages (full_scans now 1)" in p.status.value
    assert k.sysfs.read("full_scans") == 1


def test_sysfs_panel_on_a_given_kernel_without_figures():
    k = ksmlab.Kernel(nodes=1)
    p = SysfsPanel(k, figures=False)
    p.write("pages_to_scan", 0)
    p.write("run", 1)
    p.pass_button.click()
    assert "pages_to_scan is 0" in p.status.value
    assert bytes(p.plot.value) == b"" and p.error.value == ""


# -- run until blocked, retry notes --------------------------------------------------------
def test_run_until_blocked_button_and_the_retry_note(steppers):
    s = steppers("migration_during_break_ksm", fixes=Fixes.all(), figures=False)
    s.replay("M M M U U")
    assert s.notes.value == ""
    for _ in range(3):  # the end of the first pass: remove_migration_ptes, then EAGAIN
        s.buttons["M"].click()
    assert s.session.retries("M") == 1
    assert plain(s.notes.value) == (
        "M is looping on a retry: it has gone round migrate_pages:retry once (EAGAIN: the "
        "next pass tries again). \u201cRun M until blocked\u201d takes it through the passes "
        "in one click."
    )
    for _ in range(6):  # one whole pass: alloc, 2 unmaps, 2 remaps, EAGAIN
        s.buttons["M"].click()
    assert "gone round migrate_pages:retry 2 times" in plain(s.notes.value)
    s.run_buttons["M"].click()
    assert plain(s.message.value) == "M ran 49 steps, until it finished."
    assert s.schedule == "M*3 U*2 M*58" and s.notes.value == ""
    assert "ksmlab-status-finished" in s.statuses["M"].value
    assert "ksmlab-status-blocked" not in s.statuses["U"].value  # M is gone: U can run
    assert s.run_buttons["M"].disabled and s.buttons["M"].disabled
    assert s.error.value == ""


def test_run_until_blocked_stops_at_the_violation(steppers):
    name = "fork_behind_unmerge_cursor"
    schedule, violation = textbook(name)
    steps = ksmlab.Schedule.parse(schedule)
    last = steps[-1]
    start = len(steps)
    while start > 0 and steps[start - 1] == last:
        start -= 1
    s = steppers(name, figures=False)
    assert s.replay(ksmlab.Schedule(steps[:start])) == ""
    s.run_buttons[last].click()
    assert s.schedule == schedule  # it stopped at the step that broke the property
    assert s.session.violation == violation
    assert plain(s.message.value) == (
        f"{last} ran {len(steps) - start} steps, until the property broke."
    )
    assert all(b.disabled for b in (*s.buttons.values(), *s.run_buttons.values()))


def test_run_until_blocked_of_a_blocked_task_is_refused(steppers):
    s = steppers("stale_stable_node_switch", fixes=Fixes.all(), figures=False)
    s.run_buttons["K"].click()
    assert plain(s.message.value) == "K ran 1 step, until it blocked at ksm_scan_thread:wait_event."
    s.run_buttons["K"].click()  # disabled in a browser; a click still changes nothing
    assert plain(s.message.value).startswith("step 2 refused: task K is blocked at")
    assert s.schedule == "K"


# -- clicks in order -----------------------------------------------------------------------
def test_click_queue_applies_clicks_in_the_order_the_browser_sent_them():
    from ksmlab.widgets.common import ClickQueue

    drains, done = [], []
    q = ClickQueue(defer=drains.append)
    # handled in the kernel in the order 2, 1, 3 (one overtook another); stamped 1, 2, 3
    q.submit(lambda: done.append("b"), stamp=2)
    q.submit(lambda: done.append("a"), stamp=1)
    q.submit(lambda: done.append("c"), stamp=3)
    assert done == [] and q.pending == 3 and len(drains) == 1  # one drain scheduled
    drains.pop()()
    assert done == ["a", "b", "c"] and q.pending == 0
    q.submit(lambda: done.append("d"), stamp=5)
    q.submit(lambda: done.append("from code"))  # no stamp: at once, after the queued ones
    assert done[3:] == ["d", "from code"] and q.pending == 0 and drains == [q.drain]
    later = ClickQueue()  # a stamp but no event loop to defer to (no kernel): at once
    later.submit(lambda: done.append("e"), stamp=1)
    assert done[-1] == "e"


def test_click_queue_serialises_a_click_that_comes_during_another():
    from ksmlab.widgets.common import ClickQueue

    done = []
    q = ClickQueue()  # no event loop: each click applied at once

    def first():
        done.append("first begins")
        q.submit(lambda: done.append("second"))  # e.g. handled while the first one draws
        done.append("first ends")

    q.submit(first)
    assert done == ["first begins", "first ends", "second"]


def test_stepper_clicks_go_through_its_queue_in_order(steppers):
    s = steppers("fork_behind_unmerge_cursor", figures=False)
    drains = []
    s.clicks._defer = drains.append
    for i, n in enumerate("UUUFFUUU"):
        s.clicks.submit(lambda n=n: s.click(n), stamp=i)
    assert s.schedule == ""
    drains.pop()()
    assert s.schedule == "U*3 F*2 U*3"


# -- fixes: replay offered, no repr -----------------------------------------------------------
def test_toggling_a_fix_offers_to_replay_the_same_schedule(steppers):
    name = "fork_behind_unmerge_cursor"
    schedule, _ = textbook(name)
    s = steppers(name, figures=False)
    assert s.replay_button.layout.display == "none"
    s.replay(schedule)
    s.fix_boxes["cursor_insertion"].value = True
    assert s.schedule == ""
    assert plain(s.message.value) == (
        "Fixes now all fixes on: the scenario restarted. The replay button takes the same "
        "steps again under these fixes."
    )
    assert "Fixes(" not in s.message.value and "Fixes." not in s.message.value
    n = len(ksmlab.Schedule.parse(schedule))
    assert s.replay_button.layout.display is None
    assert s.replay_button.description == f"Replay the same {n} steps under these fixes"
    s.replay_button.click()
    assert s.session.fixes == Fixes.all()
    done = len(s.session.schedule)
    assert 0 < done <= n and s.session.violation is None
    text = plain(s.message.value)
    if done < n:
        refused = ksmlab.Schedule.parse(schedule)[done]
        assert text == (
            f"Replayed {done} of {n} steps: step {done + 1} refused: "
            f"{s.session.sched.why_not(refused)}."
        )
    else:
        assert text == f"Replayed all {n} steps."
    assert s.replay_button.layout.display == "none"
    s.fix_boxes["stable_node_removal"].value = False
    assert plain(s.message.value).startswith(
        "Fixes now on: cursor_insertion, swapcache_copy_on_fault, follow_page_migration_wait; "
        "off: stable_node_removal: the scenario restarted."
    )


def test_fixes_in_words():
    from ksmlab.widgets.common import fixes_text

    assert fixes_text(Fixes.all()) == "all fixes on"
    assert fixes_text(Fixes.none()) == "no fix on"
    assert fixes_text(Fixes.none().with_("cursor_insertion")) == (
        "on: cursor_insertion; off: swapcache_copy_on_fault, follow_page_migration_wait, "
        "stable_node_removal"
    )


# -- what is shown ---------------------------------------------------------------------------
def test_goal_is_text_without_the_title_twice(steppers):
    s = steppers("fork_behind_unmerge_cursor", figures=False)
    title = scenarios.get("fork_behind_unmerge_cursor").title
    assert "<pre" not in s.goal.value
    assert s.goal.value.count(html.escape(title)) == 1
    assert plain(s.goal.value).startswith(title + "Be the scheduler: pick which task")
    scn = scenarios.get("fork_behind_unmerge_cursor")
    assert plain(s.goal.value).endswith(f"Goal: break the property \u201c{scn.property}\u201d.")
    assert scn.window_text not in plain(s.goal.value)  # the goal, not the breaking moment


def test_fix_toggles_can_be_hidden(steppers):
    shown = steppers("fork_behind_unmerge_cursor", figures=False)
    assert shown.fix_row.layout.display is None
    s = steppers("fork_behind_unmerge_cursor", figures=False, fix_toggles=False)
    assert s.fix_row.layout.display == "none" and s.fix_row in s.children
    s.set_fixes(Fixes.all())
    assert s.session.fixes == Fixes.all() and s.fix_boxes["cursor_insertion"].value is True
    s.show_fix_toggles()
    assert s.fix_row.layout.display is None


def test_banner_is_a_themed_live_region(steppers):
    s = steppers("fork_behind_unmerge_cursor", figures=False)
    assert "role='status'" in s.banner.value and "aria-live='polite'" in s.banner.value
    assert "var(--jp-ui-font-color0" in s.banner.value
    assert "var(--jp-layout-color2" in s.banner.value
    # every colour is a theme variable (the fallbacks serve pages without a theme)
    assert "#" not in re.sub(r"var\(--jp-[a-z0-9-]+, #[0-9a-f]{6}\)", "", s.banner.value)


def test_the_picture_has_the_text_picture_as_its_alternative(steppers):
    s = steppers("fork_behind_unmerge_cursor")
    s.buttons["U"].click()
    alt = re.search(r"<div role='img' aria-label='([^']*)'>", s.image.value).group(1)
    assert html.unescape(alt) == ksmlab.viz.picture(s.session.world)
    assert s.image.value.count("<svg") == 2


def test_text_picture_and_trace_open_with_a_button(steppers):
    s = steppers("fork_behind_unmerge_cursor", figures=False)
    toggles = [w for w in s.children if isinstance(w, type(s)) is False
               and "ksmlab-disclosure" in getattr(getattr(w, "children", [None])[0],
                                                  "_dom_classes", ())]
    assert [t.children[0].description for t in toggles] == [
        "Show the world as text", "Show the trace"
    ]
    toggle, box = toggles[0].children
    assert box.layout.display == "none" and box.children == (s.text_picture,)
    toggle.value = True
    assert box.layout.display is None and toggle.description == "Hide the world as text"


def test_widgets_say_in_a_sentence_what_will_appear(steppers):
    s = steppers("fork_behind_unmerge_cursor", figures=False)
    for w in (s, ExplorerPanel(figures=False), SysfsPanel(figures=False)):
        text = w._repr_mimebundle_()["text/plain"]
        assert text == repr(w) and text.endswith(".") and "(" not in text.split(":")[0]
        assert "appears here when the cell runs" in text and "children=" not in text
        assert "application/vnd.jupyter.widget-view+json" in w._repr_mimebundle_()


# -- explorer: slices, Stop, progress, replay ------------------------------------------------
def _sliced_panel(name, fixes, **kwargs):
    queue = []
    p = ExplorerPanel(name, figures=False, defer=queue.append, **kwargs)
    for n, b in p.fix_boxes.items():
        b.value = getattr(fixes, n)
    return p, queue


def test_explorer_in_slices_finds_what_explore_finds():
    name = "stale_stable_node_switch"
    fixes = buggy(name)
    p, queue = _sliced_panel(name, fixes)
    p.explore_button.click()
    assert p.searching and p.explore_button.disabled and not p.stop_button.disabled
    seen = []
    while queue:
        queue.pop(0)()
        seen.append(p.progress.value)
    assert seen == sorted(seen) and seen[-1] == 100  # never backwards, ends full
    assert plain(p.progress_text.value) == f"done: {p.result.schedules} schedules"
    direct = ksmlab.explore(name, fixes=fixes)
    assert p.result.schedules == direct.schedules and p.result.steps == direct.steps
    assert p.result.counterexample.schedule == direct.counterexample.schedule
    assert not p.searching and not p.explore_button.disabled and p.stop_button.disabled


def test_explorer_stop_ends_the_search_at_its_next_schedule(monkeypatch):
    from ksmlab.widgets import explorer

    monkeypatch.setattr(explorer, "SLICE_SECONDS", 0.0)  # one schedule per slice
    p, queue = _sliced_panel("merge_across_nodes_switch", Fixes.all())
    p.explore_button.click()
    queue.pop(0)()
    queue.pop(0)()
    assert p.searching and plain(p.progress_text.value) == "2 schedules, bound 0"
    p.explore_button.click()  # disabled; even so, a second search is refused
    assert "a search is already running: stop it first" in p.error.value
    p.stop_button.click()
    assert p.stop_button.disabled and plain(p.progress_text.value) == "stopping"
    queue.pop(0)()
    assert queue == [] and not p.searching and p.result is None
    assert plain(p.progress_text.value) == "stopped after 2 schedules"
    assert plain(p.verdict.value) == "Stopped after 2 schedules: nothing found so far."
    assert not p.explore_button.disabled and p.replay_button.disabled
    assert not p.bound.disabled and not p.fix_boxes["cursor_insertion"].disabled


def test_explorer_progress_with_a_limit_and_without():
    p, queue = _sliced_panel("swapin_after_unmerge_walk", buggy("swapin_after_unmerge_walk"))
    p._limit = 40
    p._show_progress(10, 1)
    assert p.progress.value == 25
    p._show_progress(40, 1)
    assert p.progress.value == 99  # 100 only once done
    p._limit = None
    p.progress.value = 0
    p._show_progress(200, 2)
    assert p.progress.value == 50
    p._show_progress(100, 2)
    assert p.progress.value == 50  # never backwards


def test_a_new_search_clears_the_old_replay_stepper():
    name = "fork_behind_unmerge_cursor"
    p = ExplorerPanel(name, figures=False)
    p.explore_button.click()
    p.replay_button.click()
    old = p.stepper
    assert p.stepper_box.children == (old,)
    p.explore_button.click()
    assert p.stepper is None and p.stepper_box.children == ()
    assert old.session.sched.tasks == {} or all(t.done for t in old.session.sched.tasks.values())


def test_replay_opens_at_the_start_with_pictures_and_next():
    name = "migration_during_break_ksm"
    p = ExplorerPanel(name)  # figures on
    p.explore_button.click()
    p.replay_button.click()
    st = p.stepper
    schedule, _ = textbook(name)
    steps = ksmlab.Schedule.parse(schedule)
    assert st.schedule == "" and st.image.value.count("<svg") == 2
    assert st.next_button.layout.display is None
    assert st.next_button.description == f"Next: {steps[0]} (step 1 of {len(steps)})"
    assert plain(st.message.value) == (
        f"The explorer's schedule, from its start: {schedule}. "
        "Next takes its steps one by one."
    )
    st.next_button.click()
    assert st.schedule == steps[0]
    assert st.next_button.description == f"Next: {steps[1]} (step 2 of {len(steps)})"
    other = next(n for n in st.buttons if n != steps[1] and not st.buttons[n].disabled)
    st.buttons[other].click()  # off the schedule: Next no longer applies
    assert st.next_button.disabled and st.next_button.description == "Next: none left"
    st.next_button.click()
    assert "have left the explorer's schedule: reset first" in plain(st.error.value)
    st.session.close()


def test_the_app_hides_the_python_call():
    p = ExplorerPanel("fork_behind_unmerge_cursor", figures=False, show_call=False)
    p.explore_button.click()
    assert p.result.found and "ksmlab.replay(" not in p.table.value
    q = ExplorerPanel("fork_behind_unmerge_cursor", figures=False)
    q.explore_button.click()
    assert "replay: ksmlab.replay(" in q.table.value


# -- sysfs panel: only the profile's files, the later ones apart; no other cell's result ----
#: the files 3.9 did not have -> the release that added them (Documentation/admin-guide/
#: mm/ksm.rst, and the commits named in docs/kernel-map.md)
LATER = {
    "use_zero_pages": "4.11", "max_page_sharing": "4.13",
    "stable_node_chains_prune_millisecs": "4.13", "stable_node_chains": "4.13",
    "stable_node_dups": "4.13", "general_profit": "6.4", "pages_scanned": "6.6",
    "ksm_zero_pages": "6.6", "smart_scan": "6.7", "pages_skipped": "6.7",
    "advisor_mode": "6.8", "advisor_max_cpu": "6.8", "advisor_min_pages_to_scan": "6.8",
    "advisor_max_pages_to_scan": "6.8", "advisor_target_scan_time": "6.8",
}
OLD_KNOBS = ("run", "pages_to_scan", "sleep_millisecs", "merge_across_nodes")
OLD_COUNTERS = ("pages_shared", "pages_sharing", "pages_unshared", "pages_volatile",
                "full_scans")


def test_sysfs_panel_on_3_9_shows_only_the_files_3_9_had():
    p = SysfsPanel(figures=False)  # the demo kernel: the 3.9 profile
    shown = plain(p.knobs_html.value) + plain(p.counters_html.value)
    assert all(name in shown for name in OLD_KNOBS + OLD_COUNTERS)
    assert not any(name in shown for name in LATER)
    assert p.later_html.value == ""
    assert [v for _, v in p.knob.options] == list(OLD_KNOBS)


def test_sysfs_panel_on_6_18_shows_later_files_apart_with_their_release():
    p = SysfsPanel(ksmlab.Kernel(version="6.18"), figures=False)
    old = plain(p.knobs_html.value) + plain(p.counters_html.value)
    later = plain(p.later_html.value)
    for name, release in LATER.items():
        assert name not in old
        assert f"{name}Linux {release}" in later
    assert all(name in old for name in OLD_KNOBS + OLD_COUNTERS)
    assert "validates use_zero_pages, smart_scan, advisor_mode" in later
    assert "max_page_sharing," not in later.split("but they change")[0]  # chains: modelled
    assert ("max_page_sharing (added in 4.13)", "max_page_sharing") in p.knob.options
    assert p.knob.options[0] == ("run", "run")


def test_sysfs_panel_status_shows_its_own_buttons_only():
    p = SysfsPanel(figures=False)
    assert p.write("run", 3).endswith("write error EINVAL: run must be 0, 1 or 2, not 3")
    assert p.status.value == ""  # a later cell's write is not shown as the panel's own
    p.knob.value, p.value.value = "run", "1"
    p.write_button.click()
    assert plain(p.status.value) == "echo 1 > run: ok"
    assert "write error" not in p.status.value


def test_outside_a_kernel_nothing_waits_for_an_event_loop():
    """A program that runs an asyncio loop of its own (a browser driver, a test runner's
    plugin) is not a kernel: Explore searches at once, a click applies at once."""
    import asyncio

    def body():
        asyncio.get_running_loop()  # a loop runs here, whichever way we got here
        p = ExplorerPanel("fork_behind_unmerge_cursor", figures=False)
        p.explore_button.click()
        s = Stepper("fork_behind_unmerge_cursor", figures=False)
        s.buttons["U"].click()
        return p.result, str(s.session.schedule)

    async def main():
        return body()

    try:
        asyncio.get_running_loop()  # after the browser tests, their driver's loop runs
    except RuntimeError:
        result, schedule = asyncio.run(main())
    else:
        result, schedule = body()
    assert result is not None and result.found
    assert schedule == "U"
