"""The explorer's reductions skip only what was already covered: against the plain search
(no cache) and the exact cache, on every scenario and every fix combination, the same
verdicts, the same shortest counterexamples and the same set of end states."""

import random
from itertools import product

import pytest

from ksmlab import Fixes, Scheduler, scenarios
from ksmlab.check.explore import covers, end_states
from ksmlab.check.statekey import state_key

ALL_FIXES = [Fixes(*bits) for bits in product([True, False], repeat=4)]
#: all and none in the fast suite, the 14 mixtures in the slow one
FIX_CASES = [f if f in (Fixes.all(), Fixes.none()) else pytest.param(f, marks=pytest.mark.slow)
             for f in ALL_FIXES]
SMALL = [n for n in scenarios.names() if n != "merge_across_nodes_switch"]


# -- the covering relation, case by case ------------------------------------------------------
# an entry is (preemptions, steps, the task that ran last, whether it could still run)

def test_same_last_task_covers_with_no_more_preemptions_or_steps():
    assert covers((1, 10, "U", True), (1, 10, "U", True))
    assert covers((0, 10, "U", True), (1, 12, "U", True))
    assert not covers((2, 10, "U", True), (1, 10, "U", True))
    assert not covers((1, 11, "U", True), (1, 10, "U", True))


def test_another_last_task_covers_only_at_a_lower_cost_or_when_it_had_stopped():
    # here a switch away from F is free or not, there away from U: one preemption apart
    assert not covers((1, 10, "U", True), (1, 10, "F", True))
    assert covers((0, 10, "U", True), (1, 10, "F", True))
    # U could not go on: every first step from there was free, so nothing costs more
    assert covers((1, 10, "U", False), (1, 10, "F", True))
    assert covers((1, 10, "U", False), (1, 10, "F", False))
    # F could not go on here, U could there: a switch is free here, a preemption there
    assert not covers((1, 10, "U", True), (1, 10, "F", False))
    # never at more steps
    assert not covers((0, 11, "U", False), (1, 10, "F", True))


def _outcome(name, fixes, bound, **how):
    """The verdict, the counterexample with its trace, and the end states when the search
    was exhaustive (once one is found, the dominance search takes no step that could only
    lead to a longer one, so it ends fewer schedules)."""
    res, ends = end_states(name, fixes, bound, **how)
    cx = res.counterexample
    return res, (res.verdict(), cx and (cx.schedule, cx.violation, cx.preemptions, str(cx.trace)),
                 None if res.found else frozenset(ends))


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("fixes", FIX_CASES, ids=str)
def test_reductions_agree_with_the_plain_search(name, fixes):
    for bound in (0, 1, 2):
        plain_res, plain = _outcome(name, fixes, bound, cache=False)
        exact_res, exact = _outcome(name, fixes, bound, reduction="exact")
        dom_res, dom = _outcome(name, fixes, bound)
        assert exact == plain
        assert dom == plain
        assert dom_res.exhaustive == plain_res.exhaustive
        # where both cover the bound, the window is reached alike (once a counterexample
        # is found, the dominance search runs less of the bound, so it may not pass the
        # window); the exact cache never takes more steps than the plain search (the
        # dominance cache may: it looks states up only where the search can branch)
        if not plain_res.found:
            assert dom_res.window_reached == plain_res.window_reached
            assert exact_res.steps <= plain_res.steps


# The capstone is too big for the plain search (its schedules run into the millions), so
# there the dominance cache is checked against the exact cache, the search as it was,
# which the tests above check against the plain search.
@pytest.mark.slow
@pytest.mark.parametrize("fixes", ALL_FIXES, ids=str)
def test_capstone_dominance_agrees_with_the_exact_cache_at_bound_0(fixes):
    _, exact = _outcome("merge_across_nodes_switch", fixes, 0, reduction="exact")
    _, dom = _outcome("merge_across_nodes_switch", fixes, 0)
    assert dom == exact


# every fix, and the fix of the capstone's newest actor (migration) off: about 40-60 s of
# CPU each with the exact cache; the other fixes off agree too (each about 40 s more)
@pytest.mark.slow
@pytest.mark.parametrize("fix", [None, "follow_page_migration_wait"])
def test_capstone_dominance_agrees_with_the_exact_cache_at_bound_1(fix):
    fixes = Fixes.all() if fix is None else Fixes.all().without(fix)
    _, exact = _outcome("merge_across_nodes_switch", fixes, 1, reduction="exact")
    _, dom = _outcome("merge_across_nodes_switch", fixes, 1)
    assert dom == exact


def test_reduction_is_checked():
    with pytest.raises(ValueError, match="reduction must be 'dominance' or 'exact'"):
        end_states("fork_behind_unmerge_cursor", Fixes.all(), 1, reduction="sleep")


def test_kept_frame_descriptions_are_those_computed_afresh():
    # a task's description is kept until it steps only when nothing another task can
    # change is in its frames: along seeded random runs, the key equals one made from scratch
    rng = random.Random(2)
    kept = 0
    for name in scenarios.names():
        for _ in range(6):
            sched = Scheduler(name, Fixes.none())
            while not sched.finished and sched.runnable():
                sched.step(rng.choice(sched.runnable()))
                kept += sum(t.key is not None for t in sched.tasks.values())
                key = state_key(sched)
                for t in sched.tasks.values():
                    t.key = None
                assert state_key(sched) == key
    assert kept > 0
