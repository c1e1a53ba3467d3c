"""Schedules as values, and the Scheduler that steps kernel paths one yield point at a time.

``Schedule``: ``str()`` compresses runs as ``NAME*N`` and ``Schedule.parse`` reads it back;
bad tokens are refused by name. ``Scheduler``: ``runnable()`` is sorted; a step that cannot
run raises ``ScheduleError`` naming the step, the task and why; ``undo()`` restores the
previous state exactly; ``replay`` is deterministic.
"""

from __future__ import annotations

import gc
import itertools
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ksmlab
from ksmlab import Fixes, Schedule, ScheduleError, Scheduler, scenarios
from ksmlab.check.explore import violation_of
from ksmlab.sched.locks import Mutex
from ksmlab.sched.points import Point
from ksmlab.sched.schedule import MAX_STEPS

NAMES = ["U", "F", "ksmd", "T_2", "M", "R-1", "_w"]
names = st.sampled_from(NAMES) | st.from_regex(r"[A-Za-z_][A-Za-z0-9_\-]{0,5}", fullmatch=True)
schedules = st.lists(names, max_size=30).map(Schedule)
# runs of one name, so that compression really happens
runny = st.lists(st.tuples(st.sampled_from(NAMES), st.integers(1, 12)), max_size=8).map(
    lambda runs: Schedule([n for n, c in runs for _ in range(c)])
)


def expected_text(steps) -> str:
    """The reference compression: maximal runs, ``NAME`` for one step, ``NAME*N`` else."""
    out = []
    for name, group in itertools.groupby(steps):
        n = len(list(group))
        out.append(name if n == 1 else f"{name}*{n}")
    return " ".join(out)


# -- Schedule: a printable, parseable value ---------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(schedules | runny)
def test_parse_of_str_round_trips(s):
    text = str(s)
    back = Schedule.parse(text)
    assert back == s
    assert type(back) is Schedule
    assert str(back) == text


@settings(max_examples=300, deadline=None)
@given(schedules | runny)
def test_str_compresses_maximal_runs(s):
    text = str(s)
    assert text == expected_text(s)
    tokens = text.split()
    assert len(tokens) == len(s.runs())
    for token, name in zip(tokens, s.runs(), strict=True):
        head, star, count = token.partition("*")
        assert head == name
        assert (star, count) == ("", "") or (star == "*" and int(count) >= 2)


@settings(max_examples=200, deadline=None)
@given(schedules | runny)
def test_runs_fold_consecutive_steps(s):
    assert s.runs() == [name for name, _ in itertools.groupby(s)]
    assert all(a != b for a, b in itertools.pairwise(s.runs()))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(names, st.integers(1, 9)), max_size=8),
    st.lists(st.sampled_from([" ", ",", ", ", "\t", "\n", " ,  "]), min_size=8, max_size=8),
)
def test_parse_reads_counts_and_any_separator(runs, seps):
    tokens = [name if c == 1 else f"{name}*{c}" for name, c in runs]
    text = "".join(sep + tok for sep, tok in zip(seps, tokens, strict=False)) + seps[-1]
    assert Schedule.parse(text) == tuple(n for n, c in runs for _ in range(c))


def test_examples():
    s = Schedule(["U", "U", "F", "U"])
    assert str(s) == "U*2 F U"
    assert repr(s) == "Schedule.parse('U*2 F U')"
    assert eval(repr(s), {"Schedule": Schedule}) == s
    assert s.runs() == ["U", "F", "U"]
    assert Schedule.parse("U*3 F*2 U*10") == ("U",) * 3 + ("F",) * 2 + ("U",) * 10
    assert str(Schedule.parse("U*3 F*2 U*10")) == "U*3 F*2 U*10"
    assert str(Schedule.parse("U U U,F F")) == "U*3 F*2"
    assert Schedule.parse("  ") == Schedule() == ()
    assert str(Schedule()) == "" and Schedule().runs() == []
    assert Schedule.parse("ksmd*2 T_2") == ("ksmd", "ksmd", "T_2")


BAD_TOKENS = ["U*0", "*3", "U**2", "1U", "U*x", "U*01", "U*-1", "U*2*2", "U+V", "*", "é"]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_bad_token_is_named(token):
    msg = f"bad schedule token {token!r}: expected NAME or NAME*COUNT"
    with pytest.raises(ValueError) as err:
        Schedule.parse(token)
    assert str(err.value) == msg
    with pytest.raises(ValueError) as err:
        Schedule.parse(f"F U*2, {token} F*3")
    assert str(err.value) == msg


def test_an_open_end_is_read_only_as_the_last_token():
    assert Schedule.parse_runs("U*3 F*2 U*") == (("U", 3), ("F", 2), ("U", None))
    assert Schedule.parse_open("U*3, F*2 U*") == (Schedule.parse("U*3 F*2"), "U")
    assert Schedule.parse_open("U*3 F") == (Schedule.parse("U*3 F"), None)
    assert Schedule.parse_open("F*") == (Schedule(), "F")
    for text in ["U* F", "F*2 U* U*", "U*, F*3"]:
        with pytest.raises(ValueError) as err:
            Schedule.parse_runs(text)
        assert "can only be the last token" in str(err.value)
    with pytest.raises(ValueError) as err:
        Schedule.parse("U*3 F*")
    assert str(err.value).startswith("F* (until it finishes or blocks) depends on the run")
    with pytest.raises(ValueError, match="bad task name 'U\\*' in a schedule"):
        Schedule(["U*"])


def test_an_open_end_runs_its_task_until_it_ends_or_blocks():
    wo = Fixes.all().without("cursor_insertion")
    s = Scheduler(scenarios.get("fork_behind_unmerge_cursor"), wo).run("U*3 F*")
    assert str(s.schedule) == "U*3 F*2" and s.tasks["F"].done and not s.tasks["U"].done
    s.run("U*")
    assert str(s.schedule) == "U*3 F*2 U*10" and s.finished
    s.close()
    rep = ksmlab.replay("fork_behind_unmerge_cursor", "U*3 F*2 U*", fixes=wo)
    assert rep.violation is not None and rep.schedule == "U*3 F*2 U*10"
    rep.scheduler.close()
    with pytest.raises(ScheduleError, match="step 3: task F has finished"):
        ksmlab.replay("fork_behind_unmerge_cursor", "F*2 F*", fixes=wo)


@settings(max_examples=100, deadline=None)
@given(schedules, st.sampled_from(BAD_TOKENS), schedules)
def test_the_first_bad_token_is_named_wherever_it_is(before, token, after):
    text = " ".join(filter(None, [str(before), token, str(after)]))
    with pytest.raises(ValueError, match=r"^bad schedule token ") as err:
        Schedule.parse(text)
    assert str(err.value).startswith(f"bad schedule token {token!r}:")


@pytest.mark.parametrize(
    ("steps", "msg"),
    [
        (["U*2"], "bad task name 'U*2' in a schedule"),
        (["U", 3], "bad task name 3 in a schedule"),
        ([""], "bad task name '' in a schedule"),
        (["two words"], "bad task name 'two words' in a schedule"),
    ],
)
def test_schedule_refuses_bad_task_names(steps, msg):
    with pytest.raises(ValueError) as err:
        Schedule(steps)
    assert str(err.value) == msg


def test_parse_wants_a_str():
    with pytest.raises(TypeError) as err:
        Schedule.parse(b"U F")
    assert str(err.value) == "a schedule is parsed from a str, not bytes"


# -- toy scenarios ------------------------------------------------------------------------------
def _steps(name, n):
    for i in range(n):
        yield Point(f"toy:{name}:{i + 1}", f"step {i + 1} of {n}")
    return n


def _holder(w, m):
    yield from m.lock(w, "toy:holder_lock")
    yield Point("toy:critical", "inside toy_mutex")
    m.unlock(w)
    return "released"


def _waiter(w, m):
    yield from m.lock(w, "toy:waiter_lock")
    m.unlock(w)


class Toy(scenarios.Scenario):
    """Independent tasks, made in the given order, each yielding n times."""

    name = "toy"

    def __init__(self, counts):
        self.counts = counts

    def setup(self, k):
        self._written = {}

    def tasks(self, k):
        return [(n, f"toy task {n}", _steps(n, c)) for n, c in self.counts]


class ToyLock(scenarios.Scenario):
    """H holds toy_mutex across a yield point; W wants it."""

    name = "toy_lock"

    def setup(self, k):
        self._written = {}

    def tasks(self, k):
        m = Mutex("toy_mutex")
        return [("H", "holds the mutex", _holder(k.world, m)), ("W", "waits", _waiter(k.world, m))]


def test_runnable_is_sorted_not_in_creation_order():
    s = Scheduler(Toy([("ksmd", 2), ("U", 1), ("T_2", 3)]))
    assert list(s.tasks) == ["ksmd", "U", "T_2"]
    assert s.runnable() == ["T_2", "U", "ksmd"]
    assert s.step("U").text() == f"   1  U   {'toy:U:1':<52} step 1 of 1"
    assert s.runnable() == ["T_2", "U", "ksmd"]
    assert s.step("U").text() == f"   2  U   {'done':<52} returned 1"
    assert s.runnable() == ["T_2", "ksmd"]


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(names, st.integers(0, 3), min_size=1, max_size=5).flatmap(
        lambda d: st.permutations(sorted(d.items()))
    ),
    st.data(),
)
def test_runnable_stays_sorted_while_tasks_finish(counts, data):
    s = Scheduler(Toy(list(counts)))
    left = {n: c + 1 for n, c in counts}  # n yields, then the step that returns
    while s.runnable():
        assert s.runnable() == sorted(n for n, k in left.items() if k)
        name = data.draw(st.sampled_from(s.runnable()))
        s.step(name)
        left[name] -= 1
    assert s.finished and not any(left.values())
    assert len(s.schedule) == sum(c + 1 for _, c in counts)


def test_step_of_an_unknown_or_finished_task():
    s = Scheduler(Toy([("ksmd", 2), ("U", 1), ("T_2", 3)]))
    s.run("U*2")
    for name, why in [
        ("nope", "step 3: there is no task 'nope' (tasks: T_2, U, ksmd)"),
        ("U", "step 3: task U has finished"),
    ]:
        with pytest.raises(ScheduleError) as err:
            s.step(name)
        assert str(err.value) == why
    assert str(s.schedule) == "U*2" and len(s.trace) == 2


def test_step_of_a_task_blocked_on_a_lock():
    s = Scheduler(ToyLock())
    s.run("H W")
    assert s.runnable() == ["H"]
    assert s.tasks["W"].blocked and not s.tasks["W"].runnable
    assert s.why_not("W") == "task W is blocked at toy:waiter_lock: toy_mutex is held by H"
    before = (s.world.fingerprint(), s.schedule, str(s.trace))
    with pytest.raises(ScheduleError) as err:
        s.step("W")
    assert str(err.value) == "step 3: task W is blocked at toy:waiter_lock: toy_mutex is held by H"
    assert (s.world.fingerprint(), s.schedule, str(s.trace)) == before
    s.step("H")  # lets go of the mutex and ends
    assert s.runnable() == ["W"]
    s.step("W")
    assert s.finished and s.preemptions == 1
    assert [(ev.index, ev.task, ev.label, ev.preemption) for ev in s.trace] == [
        (1, "H", "toy:critical", False),
        (2, "W", "toy:waiter_lock", True),
        (3, "H", "done", False),
        (4, "W", "done", False),
    ]
    assert s.trace[1].detail == "blocked: toy_mutex is held by H"


@pytest.fixture
def closing():
    """Schedulers to close at the end (abandoned kernel paths clean up in their world)."""
    made = []
    yield made
    for s in made:
        s.close()


def test_step_of_a_task_waiting_for_migration(closing):
    # U (run=2) reaches P's page while M (migrating the KSM page) has replaced its mappings
    # by migration entries: with FOLL_MIGRATION, U waits in migration_entry_wait.
    scn = scenarios.get("migration_during_break_ksm")
    found = None
    for m, u in itertools.product(range(8), range(8)):
        s = Scheduler(scn, Fixes.all())
        closing.append(s)
        try:
            s.run(["M"] * m + ["U"] * u)
        except ScheduleError:
            continue  # a task was blocked or done before the end of this schedule
        if s.tasks["U"].blocked and s.tasks["U"].label.startswith("migration_entry_wait"):
            found = (m, u, s)
            break
    assert found is not None and found[:2] == (3, 2)
    s = found[2]
    assert str(s.schedule) == "M*3 U*2"
    assert s.runnable() == ["M"]
    why = (
        "task U is blocked at migration_entry_wait:wait_on_page_locked: "
        "page 0x1 is under migration by M"
    )
    assert s.why_not("U") == why
    with pytest.raises(ScheduleError) as err:
        s.step("U")
    assert str(err.value) == f"step 6: {why}"
    # the waiter's reference makes this pass of the migration fail; U wakes once M lets
    # go of the page lock
    labels = [s.step("M").label for _ in range(3)]
    assert labels == ["remove_migration_ptes:next_vma"] * 2 + ["migrate_pages:retry"]
    assert s.runnable() == ["M", "U"]
    # U looks again, finds the KSM page mapped again and breaks it with a write fault
    assert s.step("U").label == "do_wp_page:alloc_page"


def test_after_an_oops_nothing_runs(closing):
    s = Scheduler(scenarios.get("stale_stable_node_switch"), Fixes.none())
    closing.append(s)
    s.run("W*16 R K*5")
    assert s.trace[-1].label == "OOPS"
    assert s.oops is not None and s.runnable() == [] and s.finished and not s.deadlocked
    for name in ("K", "W", "R"):
        with pytest.raises(ScheduleError) as err:
            s.step(name)
        assert str(err.value) == "step 23: the kernel has oopsed"
    s.undo()
    assert s.oops is None and s.runnable() == ["K"] and str(s.schedule) == "W*16 R K*4"


# -- undo ----------------------------------------------------------------------------------------
def state(s):
    return (
        s.world.fingerprint(),
        s.schedule,
        str(s.schedule),
        str(s.trace),
        s.preemptions,
        s.runnable(),
        {n: (t.status(), t.steps, t.done) for n, t in s.tasks.items()},
        s.oops,
    )


def test_undo_with_nothing_to_undo():
    s = Scheduler(Toy([("A", 1)]))
    with pytest.raises(ScheduleError) as err:
        s.undo()
    assert str(err.value) == "nothing to undo"


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(
        [
            ("fork_behind_unmerge_cursor", Fixes.none()),
            ("migration_during_break_ksm", Fixes.all()),
            ("swapin_after_unmerge_walk", Fixes.all()),
        ]
    ),
    st.data(),
)
def test_undo_restores_exactly_the_previous_state(case, data):
    name, fixes = case
    s = Scheduler(scenarios.get(name), fixes)
    try:
        walk = data.draw(st.integers(0, 25), label="steps before")
        for _ in range(walk):
            if not s.runnable():
                break
            s.step(data.draw(st.sampled_from(s.runnable())))
        if not s.runnable():
            return
        before = state(s)
        s.step(data.draw(st.sampled_from(s.runnable()), label="step undone"))
        after = state(s)
        assert after[1:4] != before[1:4]
        s.undo()
        assert state(s) == before
        s.run(after[1][len(before[1]) :])  # the same step again gives the same state
        assert state(s) == after
    finally:
        s.close()


def test_undo_brings_back_a_changed_world(closing):
    s = Scheduler(scenarios.get("fork_behind_unmerge_cursor"), Fixes.none())
    closing.append(s)
    s.run("U*3")
    before = state(s)
    s.step("F")  # __ksm_enter's allocation point: nothing changed yet
    s.step("F")  # dup_mmap: the child exists now
    assert s.world.fingerprint() != before[0]
    assert s.preemptions == 1
    s.undo()
    s.undo()
    assert state(s) == before
    assert s.preemptions == 0


# -- replay --------------------------------------------------------------------------------------
def test_replay_is_deterministic_and_matches_the_explorer():
    res = ksmlab.explore("fork_behind_unmerge_cursor", fixes=Fixes.none())
    cx = res.counterexample
    assert cx.schedule == "U*3 F*2 U*10"
    one = ksmlab.replay("fork_behind_unmerge_cursor", cx.schedule, fixes=Fixes.none())
    two = ksmlab.replay("fork_behind_unmerge_cursor", Schedule.parse(cx.schedule), Fixes.none())
    assert str(one.trace) == str(two.trace) == str(cx.trace)
    assert one.violation == two.violation == cx.violation
    assert one.violation == "C@0x7f0000000000 still maps KSM page 0x2 after run=2 returned"
    assert one.scheduler.world.fingerprint() == two.scheduler.world.fingerprint()
    assert (one.schedule, one.preemptions, len(one.trace)) == ("U*3 F*2 U*10", 1, 15)
    assert [ev.index for ev in one.trace if ev.preemption] == [4]


def test_replay_stops_at_the_first_violation():
    rep = ksmlab.replay("stale_stable_node_switch", "W*16 R K*5 K*3 W", fixes="none")
    assert rep.schedule == "W*16 R K*5"
    assert len(rep.trace) == 22 and rep.trace[-1].label == "OOPS"
    assert rep.violation.startswith("oops: BUG: unable to handle kernel paging request in rb_erase")


@settings(max_examples=20, deadline=None)
@given(
    st.sampled_from(
        [
            ("fork_behind_unmerge_cursor", Fixes.none()),
            ("swapin_after_unmerge_walk", Fixes.none()),
            ("migration_during_break_ksm", Fixes.all()),
        ]
    ),
    st.data(),
)
def test_replay_of_any_walk_reproduces_it(case, data):
    name, fixes = case
    scn = scenarios.get(name)
    made = [Scheduler(scn, fixes)]
    s = made[0]
    try:
        violation = None
        while violation is None and s.runnable():
            s.step(data.draw(st.sampled_from(s.runnable())))
            violation = violation_of(scn, s)
        rep = ksmlab.replay(name, str(s.schedule), fixes=fixes)
        made.append(rep.scheduler)
        again = ksmlab.replay(name, s.schedule, fixes=fixes)
        made.append(again.scheduler)
        assert str(rep.trace) == str(again.trace) == str(s.trace)
        assert rep.violation == again.violation == violation
        assert rep.scheduler.world.fingerprint() == s.world.fingerprint()
        assert rep.preemptions == s.preemptions
    finally:
        for x in made:
            x.close()


@pytest.mark.parametrize(
    ("schedule", "error", "msg"),
    [
        ("F*9", ScheduleError, "step 3: task F has finished"),
        # a repeat count is never expanded: U*N fails at once after U's 14 steps
        ("U*99999999", ScheduleError, "step 15: task U has finished"),
        ("U*9999999999999999", ScheduleError, "step 15: task U has finished"),
        (
            "F U*99999999999999999999",
            ScheduleError,
            "step 6: task U is blocked at unmerge_and_remove_all_rmap_items:down_read: "
            "mmap_sem of P is held for write by F",
        ),
        (
            "U*" + "9" * 31,
            ValueError,
            "schedule token U*99999999...: a repeat count of 31 digits is more steps than any "
            "task can run",
        ),
        ("U F X", ScheduleError, "step 3: there is no task 'X' (tasks: F, U)"),
        ("U*2 F*0", ValueError, "bad schedule token 'F*0': expected NAME or NAME*COUNT"),
    ],
)
def test_replay_refuses_a_step_that_cannot_run(schedule, error, msg):
    with pytest.raises(error) as err:
        ksmlab.replay("fork_behind_unmerge_cursor", schedule, fixes=Fixes.none())
    assert str(err.value) == msg


@pytest.mark.parametrize("count", ["99999999", "9999999999999999", "99999999999999999999"])
def test_parse_refuses_a_huge_repeat_count_before_storing_a_step(count):
    """Schedule.parse expands its runs: more than MAX_STEPS in all is refused at once (the
    counts above once cost 62 s and 2.3 GB, a MemoryError, an OverflowError)."""
    with pytest.raises(ValueError) as err:
        Schedule.parse(f"F*2 U*{count}")
    assert str(err.value) == (
        f"schedule of more than {MAX_STEPS} steps (at U*{count}): longer than any scenario runs"
    )
    assert len(Schedule.parse(f"U*{MAX_STEPS - 1} F")) == MAX_STEPS
    with pytest.raises(ValueError):
        Schedule.parse(f"U*{MAX_STEPS} F")


def test_runs_are_not_expanded():
    assert Schedule.parse_runs("U*99999999999999999999, F U") == (
        ("U", 99999999999999999999),
        ("F", 1),
        ("U", 1),
    )
    assert Schedule.runs_of(Schedule.parse("U*3 F U")) == (("U", 3), ("F", 1), ("U", 1))
    assert Schedule.runs_of(["U", "U"]) == (("U", 2),)
    with pytest.raises(TypeError):
        Schedule.runs_of(3)
    with pytest.raises(TypeError, match="Schedule.parse"):
        Schedule("U F")


def test_scheduler_takes_a_scenario_name():
    s = Scheduler("fork_behind_unmerge_cursor", Fixes.all())
    try:
        assert s.scenario is scenarios.get("fork_behind_unmerge_cursor")
        assert s.runnable() == ["F", "U"]
        s.run("U*3 F")
        assert str(s.schedule) == "U*3 F"
    finally:
        s.close()
    for bad, exc in ((None, TypeError), (3, TypeError), ("nope", ValueError)):
        with pytest.raises(exc):
            Scheduler(bad, Fixes.all())


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_replay_refuses_a_blocked_step():
    with pytest.raises(ScheduleError) as err:
        ksmlab.replay("migration_during_break_ksm", Schedule.parse("M*3 U*3"))
    assert str(err.value) == (
        "step 6: task U is blocked at migration_entry_wait:wait_on_page_locked: "
        "page 0x1 is under migration by M"
    )
    gc.collect()  # the replay's abandoned tasks go now (see the next test)


def test_an_abandoned_replay_is_cleaned_up_quietly():
    seen = []
    hook, sys.unraisablehook = sys.unraisablehook, seen.append
    try:
        rep = ksmlab.replay("migration_during_break_ksm", "M*2")
        assert rep.violation is None and not rep.scheduler.finished
        del rep
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert [str(u.exc_value) for u in seen] == []


# -- run_until_blocked ---------------------------------------------------------------------
def test_run_until_blocked_takes_migration_through_its_eagain_passes():
    # U waits on the migration entry while holding a reference: every pass of M fails
    s = Scheduler(scenarios.get("migration_during_break_ksm"), Fixes.all())
    s.run("M M M U U")
    assert s.tasks["U"].blocked and s.runnable() == ["M"]
    events = s.run_until_blocked("M")
    assert len(events) == 58 and all(ev.task == "M" for ev in events)
    assert sum(ev.label == "migrate_pages:retry" for ev in events) == 10
    assert s.tasks["M"].done and s.tasks["M"].result is None  # EAGAIN on all 10 passes
    assert str(s.schedule) == "M*3 U*2 M*58"
    assert not any(ev.preemption for ev in events)
    s.close()


def test_run_until_blocked_stops_when_the_task_blocks_or_ends():
    s = Scheduler(scenarios.get("stale_stable_node_switch"), Fixes.all())
    events = s.run_until_blocked("K")  # ksmd sleeps until run=1
    assert [ev.label for ev in events] == ["ksm_scan_thread:wait_event"]
    assert s.tasks["K"].blocked
    with pytest.raises(ScheduleError, match="step 2: task K is blocked at"):
        s.run_until_blocked("K")
    s.close()
    s = Scheduler(scenarios.get("migration_during_break_ksm"), Fixes.all())
    events = s.run_until_blocked("U")
    assert len(events) == 11 and s.tasks["U"].done and events[-1].label == "done"
    with pytest.raises(ScheduleError, match="task U has finished"):
        s.run_until_blocked("U")
    s.close()


def test_run_until_blocked_stops_where_told_and_within_its_limit():
    s = Scheduler(scenarios.get("migration_during_break_ksm"), Fixes.all())
    events = s.run_until_blocked("U", stop=lambda sched: len(sched.schedule) == 4)
    assert len(events) == 4 and not s.tasks["U"].done
    with pytest.raises(ValueError, match="task U ran 3 steps without ending or blocking"):
        s.run_until_blocked("U", limit=3)
    assert len(s.schedule) == 7  # the steps it took before the limit stay taken
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="limit must be a positive int"):
            s.run_until_blocked("U", limit=bad)
    with pytest.raises(ScheduleError, match="there is no task 'X'"):
        s.run_until_blocked("X")
    s.close()
