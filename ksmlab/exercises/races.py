"""Exercises of notebooks 04-08: the four 2013 races and the capstone. Answers come from
scenario replays and the explorer; "be the scheduler" exercises accept any schedule that
breaks the scenario's property, and tell what happened in one that runs clean (``runs``).
The words are in ``text/<notebook>.json``."""

from .. import scenarios
from ..check.explore import explore, replay, violation_of
from ..errors import KernelError
from ..fixes import Fixes
from ..ksm.sysfs import sysfs_read
from ..mm.page import PageKsm
from ..mm.pte import Present
from ..sched.scheduler import Scheduler
from .base import ChoiceExercise, NumericExercise, ScheduleExercise, YesNoExercise
from .runs import _mm

__all__ = ["exercises", "without"]


def without(fix) -> Fixes:
    return Fixes.all().without(fix)


def _in_order(scenario, fixes, order):
    """Run the tasks to completion one after another, in ``order``; returns the
    Scheduler (the caller closes it)."""
    s = Scheduler(scenarios.get(scenario), fixes)
    for name in order:
        while not s.tasks[name].done and name in s.runnable():
            s.step(name)
    return s


_textbook = {}


def textbook(scenario, fixes):
    """The explorer's shortest counterexample (cached)."""
    key = (scenario, fixes)
    if key not in _textbook:
        _textbook[key] = explore(scenario, fixes=fixes).counterexample
    return _textbook[key]


# -- what happened in a clean run: the facts to tell, and the advice that applies -----------
def _first_set(rec, knob, value):
    return next((step for step, v in rec.knob_steps(knob) if v == value), None)


def _fork_advice(rec, mapping="P's mapping"):
    reg = rec.registered_step("C")
    run2 = _first_set(rec, "run", 2)
    if reg is None:
        return "fork-unfinished"
    if run2 is None or reg < run2:
        return "fork-before"
    if rec.snaps[reg - 1]["run"] != 2:  # the script had moved on (the capstone's run=1)
        return "fork-run2-over"
    if rec.snaps[reg - 1]["pte"][mapping] != "ksm":
        return "fork-after"
    return "fork-window"


def _swapin_advice(rec, mapping="P's mapping"):
    first, done = rec.first("T"), rec.done_step("T")
    if first is None or done is None:
        return "swapin-unfinished"
    if rec.kind_before(mapping, first) != "swap":
        return "swapin-no-fault"
    passed = rec.passed_step("P")
    if passed is None or passed > done:
        return "swapin-before-walk"
    if rec.snaps[done]["run"] != 2:  # the script had moved on (the capstone's run=1)
        return "swapin-run2-over"
    return "swapin-window"


def _stale_advice(rec):
    freed = rec.done_step("R")
    switched = _first_set(rec, "merge_across_nodes", 0)
    ksmd = rec.first_running("K")
    if freed is None:
        return "stale-not-freed"
    if switched is None or freed < switched:
        return "stale-freed-before-switch"
    if ksmd is not None and ksmd < freed:
        return "stale-ksmd-first"
    return "stale-window"


def watch_p_and_child(scn):
    return [("P's mapping", "P", scn.p_addr), ("C's mapping", "C", scn.p_addr)]


def watch_p(scn):
    return [("P's mapping", "P", scn.p_addr)]


def watch_p_and_q(scn):
    return [("P's mapping", "P", scn.p_addr), ("Q's mapping", "Q", scn.q_addr)]


def watch_nothing(scn):
    return []


def watch_capstone(scn):
    return [("P's node-0 mapping", "P", scn.p0), ("C's node-0 mapping", "C", scn.p0),
            ("P's node-1 mapping", "P", scn.p1)]


def story_fork(rec):
    return rec.facts(registered=["C"], passed=["A", "P"]), [_fork_advice(rec)]


def story_swapin(rec):
    facts = rec.facts(passed=["P"], before=[("P's mapping", "T")])
    return facts, [_swapin_advice(rec)]


def story_migration(rec):
    m_done, u_start, u_done = rec.done_step("M"), rec.first("U"), rec.done_step("U")
    mig = [step for label, _, _ in rec.watch for step, _, new in rec.changes(label)
           if new == "migration"]
    if m_done is not None and u_start is not None and m_done < u_start:
        advice = "migration-before-walk"
    elif u_done is not None and (not mig or min(mig) > u_done):
        advice = "migration-after-walk"
    else:
        advice = "migration-missed"
    return rec.facts(passed=["P", "Q"]), [advice]


def story_stale(rec):
    facts = rec.facts(knobs=("merge_across_nodes", "run"))
    refused = rec.sched.tasks["W"].result
    return facts, ["switch-refused" if refused else _stale_advice(rec)]


def story_capstone(rec):
    fx = rec.sched.fixes
    facts = rec.facts(knobs=("merge_across_nodes", "run"), registered=["C"], passed=["P"],
                      before=[("P's node-1 mapping", "T")])
    advice = []
    if rec.sched.tasks["W"].result:
        advice.append("switch-refused")
    if not fx.cursor_insertion:
        advice.append(_fork_advice(rec, "P's node-0 mapping"))
    if not fx.swapcache_copy_on_fault:
        advice.append(_swapin_advice(rec, "P's node-1 mapping"))
    if not fx.follow_page_migration_wait:
        mig = [step for step, _, new in rec.changes("P's node-0 mapping") if new == "migration"]
        advice.append("migration-window" if mig else "migration-none")
    if not fx.stable_node_removal:
        advice.append(_stale_advice(rec))
    if fx.swapcache_copy_on_fault and fx.follow_page_migration_wait and fx.stable_node_removal:
        advice.append("closed-routes")
    return facts, advice


# -- the exercises -------------------------------------------------------------------------------
FORK = "fork_behind_unmerge_cursor"
SWAPIN = "swapin_after_unmerge_walk"
MIGRATION = "migration_during_break_ksm"
STALE = "stale_stable_node_switch"
CAPSTONE = "merge_across_nodes_switch"


def _replayed(scenario, fixes, look, schedule_fixes=None):
    """``look(world)`` after the textbook breaking schedule (found under ``schedule_fixes``,
    by default ``fixes``) is replayed under ``fixes``."""
    ce = textbook(scenario, schedule_fixes or fixes)
    rep = replay(scenario, ce.schedule, fixes=fixes)
    try:
        return look(rep.scheduler.world)
    finally:
        rep.scheduler.close()


def _maps(w, owner, addr, node=None):
    """Whether ``owner`` maps a KSM page at ``addr`` (on ``node``, when given)."""
    pte = _mm(w, owner).ptes.get(addr)
    return (pte.__class__ is Present and PageKsm(pte.page)
            and (node is None or pte.page.nid == node))


def _nb04():
    nb = "04_fix_cursor_insertion"
    fx = without("cursor_insertion")

    def fork_first_breaks():
        s = _in_order(FORK, fx, ["F", "U"])
        bad = violation_of(s.scenario, s)
        s.close()
        return bad is not None

    return [
        ScheduleExercise("04.be-the-scheduler", nb, FORK, fx, watch_p_and_child, story_fork),
        NumericExercise(
            "04.counters-after", nb, ("pages_shared", "pages_sharing"),
            lambda: _replayed(FORK, fx, lambda w: (sysfs_read(w, "pages_shared"),
                                                   sysfs_read(w, "pages_sharing"))),
            lambda exp: [((1, 0), "counts-mappings"), ((1, 1), "counts-mappings-both"),
                         ((0, 1), "counts-mappings-sharing")]),
        YesNoExercise("04.fork-before-walk", nb, fork_first_breaks),
        ChoiceExercise("04.the-fix", nb, "a"),
    ]


def _nb05():
    nb = "05_fix_swapcache_copy_on_fault"
    fx = without("swapcache_copy_on_fault")
    return [
        ScheduleExercise("05.be-the-scheduler", nb, SWAPIN, fx, watch_p, story_swapin),
        NumericExercise(
            "05.mapped-after", nb, ("ksm_mappings",),
            lambda: _replayed(SWAPIN, fx, lambda w: len(scenarios.ksm_pages_mapped(w))),
            lambda exp: [(exp + 1, "q-too"), (0, "fault-copies")]),
        YesNoExercise("05.with-fix", nb, lambda: _replayed(
            SWAPIN, Fixes.all(), lambda w: _maps(w, "P", scenarios.get(SWAPIN).p_addr),
            schedule_fixes=fx)),
        ChoiceExercise("05.decider", nb, "a"),
    ]


def _nb06():
    nb = "06_fix_follow_page_migration_wait"
    fx = without("follow_page_migration_wait")
    return [
        ScheduleExercise("06.be-the-scheduler", nb, MIGRATION, fx, watch_p_and_q,
                         story_migration),
        YesNoExercise("06.where-p-maps", nb,
                      lambda: _replayed(MIGRATION, fx, lambda w: _maps(
                          w, "P", scenarios.get(MIGRATION).p_addr, node=1))),
        ChoiceExercise("06.what-walk-saw", nb, "a"),
        ChoiceExercise("06.the-fix", nb, "a"),
    ]


def _nb07():
    nb = "07_fix_stable_node_removal"
    fx = without("stable_node_removal")

    def left():
        k = scenarios.get(STALE).build(Fixes.none())
        k.sysfs.write("run", 2)
        return len(k.ksm.stable_nodes()), k.sysfs.read("pages_shared")

    def switch_ok_with_fix():
        k = scenarios.get(STALE).build(Fixes.all())
        k.sysfs.write("run", 2)
        try:
            k.sysfs.write("merge_across_nodes", 0)
        except KernelError:
            return False
        return True

    return [
        ScheduleExercise("07.be-the-scheduler", nb, STALE, fx, watch_nothing, story_stale),
        NumericExercise("07.nodes-left", nb, ("stable_nodes", "pages_shared"), left,
                        lambda exp: [((0, 0), "nodes-vanish"),
                                     ((exp[0], exp[0]), "shared-counts-nodes")]),
        YesNoExercise("07.switch-with-fix", nb, switch_ok_with_fix),
        ChoiceExercise("07.ebusy-policy", nb, "a"),
        ChoiceExercise("07.why-oops", nb,
                       lambda: "a" if "rb_erase" in (textbook(STALE, fx).violation or "")
                       else "b"),
    ]


def _nb08():
    nb = "08_capstone"
    return [
        # 08.shortest asks for the shortest: neither the feedback nor the solution tells
        ScheduleExercise("08.break-none", nb, CAPSTONE, Fixes.none(), watch_capstone,
                         story_capstone, tell_shortest=False,
                         solution_from=without("cursor_insertion")),
        ScheduleExercise("08.break-one-fix-off", nb, CAPSTONE, without("cursor_insertion"),
                         watch_capstone, story_capstone),
        NumericExercise(
            "08.shortest", nb, ("preemptions",),
            lambda: textbook(CAPSTONE, Fixes.none()).preemptions,
            lambda exp: [(exp + 1, "needs-interleaving"), (exp + 2, "needs-interleaving-2")]),
        ChoiceExercise(
            "08.migration-route", nb,
            lambda: _half_way(Fixes.all().without("follow_page_migration_wait"))),
    ]


def _half_way(fixes):
    """The option key of the task other than W in the capstone's shortest counterexample
    under ``fixes`` (the one W's walk preempts)."""
    order = textbook(CAPSTONE, fixes).task_order()
    other = next(t for t in order if t != "W")
    return {"M": "a", "F": "b", "R": "c", "K": "d"}[other]


def exercises():
    return _nb04() + _nb05() + _nb06() + _nb07() + _nb08()
