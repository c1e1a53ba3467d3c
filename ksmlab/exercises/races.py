"""Exercises of notebooks 04-08: the four 2013 races and the capstone. Answers come from
scenario replays and the explorer; "be the scheduler" exercises accept any schedule that
breaks the scenario's property, and explain one that runs clean."""

from .. import scenarios
from ..check.explore import explore, replay
from ..fixes import Fixes
from ..ksm.sysfs import sysfs_read
from ..mm.page import PageKsm
from ..mm.pte import MigrationEntry, Present, SwapEntry
from ..sched.scheduler import Scheduler
from .base import ChoiceExercise, NumericExercise, Option, ScheduleExercise, YesNoExercise

__all__ = ["exercises", "without"]


def without(fix) -> Fixes:
    return Fixes.all().without(fix)


def _mm(w, owner):
    for mm in w.mms:
        if mm.owner == owner:
            return mm
    return None


def _maps_ksm(mm) -> bool:
    return any(p.__class__ is Present and PageKsm(p.page) for p in mm.ptes.values())


def _walk_passed(w, owner) -> bool:
    """Whether the run=2 walk has already dealt with ``owner``'s mm (its rmap_items freed)."""
    mm = _mm(w, owner)
    slot = w.ksm.mm_slots_hash.get(mm)
    return w.ksm.run == 2 and slot is not None and not slot.rmap_list


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


# -- probes: facts recorded after every step of a learner's schedule --------------------------
def probe_fork(s, facts):
    w = s.world
    c = _mm(w, "C")
    if "fork" not in facts and c is not None and c in w.ksm.mm_slots_hash:
        if not _maps_ksm(_mm(w, "P")):
            facts["fork"] = "after"
        elif w.ksm.run != 2:
            facts["fork"] = "before"
        else:
            facts["fork"] = "behind"


def _probe_swapin(s, facts, addr):
    w = s.world
    p = _mm(w, "P")
    t = s.tasks["T"]
    if t.done and "swapin" not in facts:
        if not facts.get("p_swapped"):
            facts["swapin"] = "none"
        elif not _walk_passed(w, "P"):
            facts["swapin"] = "before"
        else:
            facts["swapin"] = "after"
    facts["p_swapped"] = p.ptes.get(addr).__class__ is SwapEntry


def probe_swapin(s, facts):
    _probe_swapin(s, facts, s.scenario.p_addr)


def probe_migration(s, facts):
    scn = s.scenario
    w = s.world
    n = len(s.schedule)
    m, u = s.tasks["M"], s.tasks["U"]
    last = s.trace[-1].task
    before = facts.get("before")
    if last == "U" and before is not None and before[0] == "break_ksm:cond_resched":
        if before[1] in before[2]:
            facts["saw_migration"] = True  # this U step looked at a migration entry
    if u.event is not None or u.done:
        facts.setdefault("u_start", n)
    if m.done:
        facts.setdefault("m_done", n)
    if u.done:
        facts.setdefault("u_done", n)
    migrating = set()
    for owner, addr in (("P", scn.p_addr), ("Q", scn.q_addr)):
        if _mm(w, owner).ptes.get(addr).__class__ is MigrationEntry:
            facts.setdefault("m_unmapped", n)
            migrating.add(owner)
    cur = w.ksm.ksm_scan.mm_slot
    owner = getattr(getattr(cur, "mm", None), "owner", None)
    facts["before"] = (u.label, owner, migrating)


def _probe_stale(s, facts, walker):
    w = s.world
    if s.tasks["R"].done and "free" not in facts:
        k = s.tasks["K"]
        facts["free"] = ("before-switch" if w.ksm.merge_across_nodes == 1
                         else "after-ksmd" if k.steps > 1 or k.done else "window")
    if s.tasks[walker].done:
        facts.setdefault("walker_done", s.tasks[walker].result)


def probe_stale(s, facts):
    _probe_stale(s, facts, "W")


def probe_capstone(s, facts):
    probe_fork(s, facts)
    _probe_swapin(s, facts, s.scenario.p1)
    _probe_stale(s, facts, "W")


# -- why a schedule ran clean -------------------------------------------------------------------
def _why_fork(s, walker="U"):
    f = s.facts.get("fork")
    if f is None:
        return ("The fork never registered the child C with KSM: F did not get that far, so "
                "there was no child to forget.")
    if f == "before":
        return ("The fork registered C before the unmerge walk started (run was not yet 2), "
                "so the walk, which starts from the head of the mm_slot list, still reached "
                "C and broke its KSM mapping. C has to be registered while the walk is under "
                "way, with the cursor already past the slot it is inserted behind.")
    if f == "after":
        return ("When the fork copied P, P no longer mapped a KSM page: the walk had already "
                "unmerged P (a fork needs P's mmap_sem for write, so it waits while the walk "
                f"holds it), so C inherited private pages. Let the fork in while {walker} is "
                "still before P.")
    return ("C was registered behind the cursor while P still mapped the KSM page, which is "
            "the race window.")


def _why_swapin(s, walker="U"):
    f = s.facts.get("swapin")
    if f is None:
        return "T never finished its fault, so P never mapped anything again."
    if f == "none":
        return ("T read P's page while it was still present (R had not yet turned P's PTE "
                "into a swap entry), so there was no swap-in fault at all; the page then went "
                "to swap and stayed unmapped.")
    if f == "before":
        return ("T faulted the page back from the swap cache before the unmerge walk had "
                "finished P, so the walk found a present KSM page and broke it. The fault has "
                f"to come after {walker} has passed P.")
    return "T faulted the KSM page back in after the walk had passed P: the race window."


def why_fork(s):
    return _why_fork(s)


def why_swapin(s):
    return _why_swapin(s)


def why_migration(s):
    f = s.facts
    if f.get("saw_migration"):
        return ("The walk looked at a mapping while it was a migration entry and passed it "
                "by: the race window.")
    if "m_done" in f and f["m_done"] < f.get("u_start", 10**9):
        return ("The migration finished before the unmerge walk started: the walk found the "
                "new KSM page present at P and Q and broke both.")
    if "u_done" in f and f.get("m_unmapped", 10**9) > f["u_done"]:
        return ("The migration did not replace any PTE before run=2 returned, so the walk "
                "found P's and Q's pages present and broke them.")
    return ("The walk never looked at P's or Q's PTE while it was a migration entry: it "
            "always found a present page (or waited for the page lock until migration was "
            "over). Preempt M after try_to_unmap has installed the migration entries and "
            "let U look before remove_migration_ptes puts the pages back.")


def _why_stale(s):
    f = s.facts.get("free")
    if f is None:
        return ("The swap-cache page was never freed (R did not finish), so the stable node "
                "stayed valid: there was nothing stale to trip over.")
    if f == "before-switch":
        return ("R freed the swap-cache page before the switch, while merge_across_nodes was "
                "still 1, so whoever looked at the stale node next removed it from the tree "
                "that holds it: no harm. The page must be freed after the switch to 0 and "
                "before ksmd searches the stable tree.")
    if f == "after-ksmd":
        return ("ksmd had already started its pass before the page was freed, so its search "
                "met a node that was still valid.")
    return ("The page was freed after the switch, before ksmd searched: the race window.")


def why_stale(s):
    return _why_stale(s)


def why_capstone(s):
    fx = s.fixes
    lines = []
    result = s.facts.get("walker_done")
    if result:
        lines.append(f"The administrator's script got errors {result} (EBUSY is 16), so the "
                     "switch was refused.")
    if not fx.cursor_insertion:
        lines.append("Fork route: " + _why_fork(s, "W"))
    if not fx.swapcache_copy_on_fault:
        lines.append("Swap-in route: " + _why_swapin(s, "W"))
    if not fx.stable_node_removal:
        lines.append("Stale-node route: " + _why_stale(s))
    closed = [n for n in ("cursor_insertion", "swapcache_copy_on_fault", "stable_node_removal")
              if getattr(fx, n)]
    if closed:
        lines.append(f"(With {', '.join(closed)} on, the other routes are closed.)")
    return " ".join(lines)


# -- the exercises -------------------------------------------------------------------------------
FORK = "fork_behind_unmerge_cursor"
SWAPIN = "swapin_after_unmerge_walk"
MIGRATION = "migration_during_break_ksm"
STALE = "stale_stable_node_switch"
CAPSTONE = "merge_across_nodes_switch"


def _be_the_scheduler(id, nb, scenario, fixes, probe, diagnose, hints, explanation, extra=""):
    scn = scenarios.get(scenario)
    return ScheduleExercise(
        id, nb, "Be the scheduler",
        f"Scenario `{scenario}` ({scn.title}) with `{_code(fixes)}`. Find a schedule of the "
        f"racing tasks that breaks the property: *{scn.property}*. {extra}"
        "Any breaking schedule is accepted; step it with the stepper, or give it as text.",
        scenario, fixes, probe, diagnose, hints, explanation)


def _code(fixes):
    from .base import fixes_code

    return fixes_code(fixes)


def _nb04():
    nb = "04_fix_cursor_insertion"
    fx = without("cursor_insertion")
    out = [_be_the_scheduler(
        "04.be-the-scheduler", nb, FORK, fx, probe_fork, why_fork,
        ["U takes the mutex, sets run=2 and moves the cursor to the first mm, A.",
         "The fork inserts C just before the cursor, which is behind a walk that never "
         "comes back.",
         "Let U finish A first (3 steps), then run the whole fork, then let U finish."],
        "The walk moved the shared cursor past A; the fork then inserted C just before the "
        "cursor, behind the walk, and the walk never came back to C.")]

    def counters():
        ce = textbook(FORK, fx)
        rep = replay(FORK, ce.schedule, fixes=fx)
        w = rep.scheduler.world
        got = (sysfs_read(w, "pages_shared"), sysfs_read(w, "pages_sharing"))
        rep.scheduler.close()
        return got

    def counters_mistakes(exp):
        return [
            ((1, 0), "counts-mappings",
             "The counters count rmap_items on stable nodes, not mappings. The walk freed "
             "every rmap_item, and C never had any (rmap_items are not copied at fork), so "
             "pages_shared reads 0 although C still maps the KSM page."),
            ((1, 1), "counts-mappings",
             "The counters count rmap_items, not mappings: all of them were freed."),
            ((0, 1), "counts-mappings",
             "pages_sharing counts rmap_items too; there are none left."),
        ]

    out.append(NumericExercise(
        "04.counters-after", nb, "What do the counters say?",
        "Replay the textbook breaking schedule with the fix off: C still maps the KSM page "
        "after run=2 returned. What do pages_shared and pages_sharing read?",
        ("pages_shared", "pages_sharing"), counters, counters_mistakes,
        hints=["What do the counters count: mappings or rmap_items?",
               "Were rmap_items copied to the child at fork?"],
        explanation="Both read 0: the bug is invisible in the counters, which is why it "
                    "survived until stable nodes were checked."))

    def fork_first_breaks():
        s = _in_order(FORK, fx, ["F", "U"])
        from ..check.explore import violation_of

        bad = violation_of(s.scenario, s)
        s.close()
        return bad is not None

    out.append(YesNoExercise(
        "04.fork-before-walk", nb, "A fork before the walk",
        "Still without the fix: P forks C **completely** before the run=2 writer even starts. "
        "After run=2 returns, does C map a KSM page?",
        [Option("a", "the walk starts from the head of the list, so it reaches C wherever it "
                "was inserted"),
         Option("b", "the fork waits for run=2 to finish",
                "fork never takes ksm_thread_mutex; it does not wait for the unmerge."),
         Option("c", "C's pages are not KSM pages",
                "a fork copies the parent's PTEs, so C maps the same KSM page as P."),
         Option("d", "the child is not registered with KSM",
                "ksm_fork registers the child whenever the parent is registered.")],
        "a", fork_first_breaks,
        wrong_verdict="No: the walk had not started, so it begins at the head of the mm_slot "
                      "list and reaches C like every other mm. Only a slot inserted behind a "
                      "cursor that has already moved is missed.",
        hints=["Where does the unmerge walk start?"],
        explanation="The insertion only matters relative to a walk already in progress."))

    out.append(ChoiceExercise(
        "04.the-fix", nb, "What did the fix change?",
        "Which change (commit cbf86cfe04a6, cause 2) closes this race?",
        [Option("a", "__ksm_enter inserts the new mm_slot at the tail of the list while run "
                "has the UNMERGE bit"),
         Option("b", "the unmerge walk makes a second pass over the list",
                "the walk stays a single pass; a second pass would only shrink the window."),
         Option("c", "fork takes ksm_thread_mutex, so it waits for run=2",
                "fork never takes the KSM mutex; forks would stall for the whole unmerge."),
         Option("d", "ksm_fork copies the parent's rmap_items to the child",
                "rmap_items are never copied at fork, and the walk would still miss C.")],
        "a",
        hints=["Where should C go so that a walk in progress still reaches it?"],
        explanation="At the tail the slot is ahead of the walk wherever the walk is, so it is "
                    "visited and its KSM mappings broken."))
    return out


def _nb05():
    nb = "05_fix_swapcache_copy_on_fault"
    fx = without("swapcache_copy_on_fault")
    out = [_be_the_scheduler(
        "05.be-the-scheduler", nb, SWAPIN, fx, probe_swapin, why_swapin,
        ["R must push the KSM page to the swap cache first, so the walk sees swap entries.",
         "T's fault must come after the walk has passed P.",
         "Try R to the end, U to the end, then T."],
        "The walk saw only swap entries and broke nothing; afterwards T faulted the KSM page "
        "back from the swap cache and, without the fix, mapped the KSM page itself.")]

    def mapped():
        ce = textbook(SWAPIN, fx)
        rep = replay(SWAPIN, ce.schedule, fixes=fx)
        n = len(scenarios.ksm_pages_mapped(rep.scheduler.world))
        rep.scheduler.close()
        return n

    out.append(NumericExercise(
        "05.mapped-after", nb, "How many KSM mappings survive?",
        "In the textbook breaking schedule without the fix (R, then U, then T), how many "
        "mappings of a KSM page does a live process have when everything has ended?",
        ("ksm_mappings",), mapped,
        lambda exp: [
            (exp + 1, "q-too",
             "Only P faulted (T is a thread of P). Q's PTE is still a swap entry, which maps "
             "nothing."),
            (0, "fault-copies",
             "Without the fix the fault maps the KSM page itself: a KSM page with a stable "
             "node is not copied."),
        ],
        hints=["Who faulted the page back in?"],
        explanation="Only P's fault mapped the KSM page; Q still has a swap entry."))

    def fixed_copies():
        ce = textbook(SWAPIN, fx)
        rep = replay(SWAPIN, ce.schedule, fixes=Fixes.all())
        w = rep.scheduler.world
        pte = _mm(w, "P").ptes.get(scenarios.get(SWAPIN).p_addr)
        ksm = pte.__class__ is Present and PageKsm(pte.page)
        rep.scheduler.close()
        return ksm

    out.append(YesNoExercise(
        "05.with-fix", nb, "The same schedule with the fix",
        "Replay the same schedule (R, then U, then T) with `Fixes.all()`. Does P end up "
        "mapping a KSM page?",
        [Option("a", "ksm_might_need_to_copy gives the fault a private copy of a KSM page "
                "while run=2 stands"),
         Option("b", "the walk now visits swap entries too",
                "the walk still only sees present pages; the fix is on the fault side."),
         Option("c", "the KSM page is freed before T faults",
                "it stays in the swap cache; the fault finds it there."),
         Option("d", "T's fault waits until run is set back to 1",
                "faults never wait for the KSM mutex or for run.")],
        "a", fixed_copies,
        wrong_verdict="No: with the fix, ksm_might_need_to_copy copies a KSM page faulted from "
                      "swap while the run=2 (UNMERGE) bit is set, so P gets a private copy.",
        hints=["Which function decides, in do_swap_page, whether to copy?"],
        explanation="The fault copies; the KSM page stays unmapped in the swap cache."))

    out.append(ChoiceExercise(
        "05.decider", nb, "Who decides to copy?",
        "Which kernel function decides whether a page faulted back from swap is mapped as it "
        "is or copied first?",
        [Option("a", "ksm_might_need_to_copy"),
         Option("b", "do_swap_page",
                "do_swap_page handles the fault, but it asks ksm_might_need_to_copy whether "
                "to copy."),
         Option("c", "break_ksm",
                "break_ksm is the unmerge side; it never runs in a fault."),
         Option("d", "get_ksm_page",
                "get_ksm_page checks that a stable node's page is still valid; it does not "
                "decide about copies.")],
        "a",
        hints=["In 3.9 the decision moved into mm/ksm.c."],
        explanation="do_swap_page calls ksm_might_need_to_copy; with the fix it copies a KSM "
                    "page while run has the UNMERGE bit, or when the page has no stable node."))
    return out


def _nb06():
    nb = "06_fix_follow_page_migration_wait"
    fx = without("follow_page_migration_wait")
    out = [_be_the_scheduler(
        "06.be-the-scheduler", nb, MIGRATION, fx, probe_migration, why_migration,
        ["M replaces both PTEs with migration entries before it copies the page.",
         "U must look at P while its PTE is a migration entry.",
         "Run M until just before remove_migration_ptes, then U."],
        "break_ksm's follow_page saw a migration entry, took it for 'nothing there' and moved "
        "on; migration then put the KSM page back behind the walk.")]

    def new_page_on_node1():
        ce = textbook(MIGRATION, fx)
        rep = replay(MIGRATION, ce.schedule, fixes=fx)
        w = rep.scheduler.world
        pte = _mm(w, "P").ptes.get(scenarios.get(MIGRATION).p_addr)
        on1 = pte.__class__ is Present and PageKsm(pte.page) and pte.page.nid == 1
        rep.scheduler.close()
        return on1

    out.append(YesNoExercise(
        "06.where-p-maps", nb, "Which page does P map?",
        "In the textbook breaking schedule without the fix, does P end up mapping the *new* "
        "KSM page, on node 1?",
        [Option("a", "remove_migration_ptes pointed P's migration entry at the new page, "
                "which carries the stable node"),
         Option("b", "the walk broke P's mapping",
                "the walk saw a migration entry and broke nothing at P."),
         Option("c", "the migration failed and P got the old page back",
                "it can fail (then P maps the old KSM page), but in this schedule it "
                "completed."),
         Option("d", "P faulted on the migration entry",
                "no task of P touched the page.")],
        "a", new_page_on_node1,
        wrong_verdict="Yes, it does: the migration completed and remove_migration_ptes "
                      "installed the new page, still a KSM page, behind the walk.",
        hints=["Did M finish in that schedule?"],
        explanation="Either way (migrated or restored) P maps a KSM page after the walk."))

    out.append(ChoiceExercise(
        "06.what-walk-saw", nb, "What did break_ksm see?",
        "Before the fix, what did break_ksm's follow_page return for P's address while M had "
        "it under migration?",
        [Option("a", "nothing: a migration entry is not a present page, so break_ksm returned "
                "with nothing to break"),
         Option("b", "the old KSM page",
                "following a migration entry to the old page was Hugh's first attempt, "
                "judged too KSM-specific; 3.8 code did not do it."),
         Option("c", "the new page on node 1", "the new page is not mapped yet at that point."),
         Option("d", "it waited for the migration",
                "waiting is the fix (FOLL_MIGRATION); before it follow_page did not wait.")],
        "a",
        hints=["follow_page only returns present pages unless asked otherwise."],
        explanation="follow_page treated the migration entry like an empty PTE."))

    out.append(ChoiceExercise(
        "06.the-fix", nb, "The fix chosen in review",
        "Several fixes were discussed in February 2013. Which one went in (5117b3b835f2)?",
        [Option("a", "a FOLL_MIGRATION flag: follow_page waits in migration_entry_wait and "
                "looks again"),
         Option("b", "check for migration PTEs under the page lock in KSM",
                "Mel's suggestion; judged messy, with long page-lock hold times."),
         Option("c", "let ksm_migrate_page refuse to migrate during unmerge",
                "rejected: it would dodge the race by making migration fail in new ways."),
         Option("d", "make follow_page always wait on migration entries, no flag",
                "Hugh's preference in principle, but not every follow_page caller could be "
                "shown to be allowed to sleep.")],
        "a",
        hints=["Only break_ksm needed the new behaviour."],
        explanation="break_ksm passes FOLL_MIGRATION; follow_page waits until the page is "
                    "unlocked, looks again, finds the KSM page present and breaks it."))
    return out


def _nb07():
    nb = "07_fix_stable_node_removal"
    fx = without("stable_node_removal")
    out = [_be_the_scheduler(
        "07.be-the-scheduler", nb, STALE, fx, probe_stale, why_stale,
        ["ksmd (K) sleeps until run=1 is written, at the end of W's script.",
         "The swap-cache page must be freed (R) after the switch and before ksmd searches.",
         "Let W run its whole script, then R, then K."],
        "The stale node survived run=2 in tree 0; after the switch its page was freed, and "
        "ksmd's search erased it from the tree the knob now computes (tree 1): an oops.")]

    def left():
        scn = scenarios.get(STALE)
        k = scn.build(Fixes.none())
        k.sysfs.write("run", 2)
        return len(k.ksm.stable_nodes()), k.sysfs.read("pages_shared")

    out.append(NumericExercise(
        "07.nodes-left", nb, "What survives run=2?",
        "Before the fixes (`Fixes.none()`), the scenario's node-1 KSM page waits in the swap "
        "cache, unmapped. The administrator writes run=2. Afterwards, how many stable nodes "
        "are still linked in a tree, and what does pages_shared read?",
        ("stable_nodes", "pages_shared"), left,
        lambda exp: [
            ((0, 0), "nodes-vanish",
             "Stable nodes are not freed with the rmap_items. Before the fix a node only "
             "disappears when get_ksm_page finds its page gone, and the swap cache keeps the "
             "page alive."),
            ((exp[0], exp[0]), "shared-counts-nodes",
             "pages_shared counts stable nodes *with rmap_items*; the walk freed every "
             "rmap_item, so it reads 0 even though a node survives."),
        ],
        hints=["Does the walk free stable nodes, or only rmap_items?",
               "What keeps the page, and so its node, valid?"],
        explanation="One node survives, invisible in pages_shared; that is what let the "
                    "switch through."))

    def switch_ok_with_fix():
        k = scenarios.get(STALE).build(Fixes.all())
        k.sysfs.write("run", 2)
        try:
            k.sysfs.write("merge_across_nodes", 0)
        except Exception:  # noqa: BLE001 - any refusal means "no"
            return False
        return True

    out.append(YesNoExercise(
        "07.switch-with-fix", nb, "Is the switch allowed with the fix?",
        "Same start with `Fixes.all()`: the node-1 KSM page waits in the swap cache, unmapped. "
        "After run=2, can the administrator switch merge_across_nodes to 0?",
        [Option("a", "remove_all_stable_nodes detaches the node of the unmapped page, so the "
                "trees are empty"),
         Option("b", "pages_shared is 0, and that is all the switch checks",
                "that was the 3.8+NUMA rule that let stale nodes through; with the fix the "
                "switch also empties the trees and refuses with EBUSY if it cannot."),
         Option("c", "run=2 freed the swap-cache page",
                "run=2 does not touch the swap cache; the page is still there, orphaned."),
         Option("d", "the node migrated to tree 1",
                "nodes are never moved between trees by a switch.")],
        "a", switch_ok_with_fix,
        wrong_verdict="It is allowed: the page is unmapped, so remove_stable_node can detach "
                      "it (the page stays, as a KSM page without a node) and the trees are "
                      "empty.",
        hints=["What does remove_stable_node do with a page that is not mapped?"],
        explanation="Only a node whose page is still *mapped* makes the switch fail (EBUSY)."))

    out.append(ChoiceExercise(
        "07.ebusy-policy", nb, "When a node cannot be removed",
        "remove_all_stable_nodes meets a stable node whose page is still mapped. What does "
        "3.9 do?",
        [Option("a", "remember EBUSY and give up on that tree, going on with the next nid"),
         Option("b", "skip that node and keep removing the rest of the tree",
                "that is Mel's best-effort suggestion; it needs an in-order walk that skips "
                "busy nodes, and was not adopted."),
         Option("c", "retry the same node until it can be removed",
                "the loop always takes the root; retrying a busy root would spin forever."),
         Option("d", "oops", "an error there means the switch is refused, not a crash.")],
        "a",
        hints=["The loop always takes the tree's root.", "Hugh: an error here should be "
               "debugged, not crash, and it only refuses the switch."],
        explanation="break to the next nid; the switch then fails with EBUSY and the "
                    "surviving nodes stay in a tree of the layout they were built for."))

    out.append(ChoiceExercise(
        "07.why-oops", nb, "Why the oops?",
        "Without the fix, what makes ksmd oops after 'run 2, switch, run 1'?",
        [Option("a", "it erases the stale node from the tree computed from the current knob, "
                "not the tree that holds it"),
         Option("b", "it frees the KSM page twice",
                "the page was freed once, by reclaim; the problem is in the tree."),
         Option("c", "pages_shared goes negative",
                "counters stay consistent; they never counted that node."),
         Option("d", "the switch itself oopses",
                "the switch succeeds; the oops comes later, in ksmd's search.")],
        lambda: "a" if "rb_erase" in (textbook(STALE, fx).violation or "") else "b",
        hints=["Which tree did the node live in, and which tree index does the knob give now?"],
        explanation="The node sat in tree 0 (merge_across_nodes=1); after the switch its page's "
                    "node is 1, so the erase rewired tree 1. The fix records nid per node and "
                    "empties the trees before a switch."))
    return out


def _nb08():
    nb = "08_capstone"
    one_off = "cursor_insertion"
    out = [
        _be_the_scheduler(
            "08.break-none", nb, CAPSTONE, Fixes.none(), probe_capstone, why_capstone,
            ["Any of the three routes works: fork behind the cursor, swap-in after the walk, "
             "or the page freed between switch and ksmd.",
             "The stale-node route needs no preemption at all.",
             "Let W run its whole script, then R, then K."],
            "Before the fixes every route breaks something; the shortest needs no "
            "preemption."),
        _be_the_scheduler(
            "08.break-one-fix-off", nb, CAPSTONE, without(one_off), probe_capstone,
            why_capstone,
            ["Only the fork route is open: the other three fixes are on.",
             "W must be walking, past the head, when F registers C.",
             "Let W take its first few steps, then run F to the end."],
            f"With only {one_off} off, a child forked while W's walk is under way lands "
            "behind the cursor and keeps its KSM mapping while run=2 stands.",
            extra=f"Only `{one_off}` is off. "),
    ]

    out.append(NumericExercise(
        "08.shortest", nb, "How many preemptions?",
        "The explorer searches schedules with the fewest preemptions first. Under "
        "`Fixes.none()`, how many preemptions does the shortest breaking schedule of the "
        "capstone need?",
        ("preemptions",),
        lambda: explore(CAPSTONE, fixes=Fixes.none()).counterexample.preemptions,
        lambda exp: [
            (exp + 1, "needs-interleaving",
             "The stale-node route needs no interleaving: W runs its whole script, then R "
             "frees the page, then ksmd oopses. Switching to a task that finished or blocked "
             "is not a preemption."),
            (exp + 2, "needs-interleaving",
             "Fewer: tasks running one after another, in the right order, are enough."),
        ],
        hints=["A preemption is a switch away from a task that could have gone on.",
               "ksmd sleeps until run=1; it can only go after W's script."],
        explanation="Zero: W, then R, then K, each to the end, breaks it."))

    out.append(ChoiceExercise(
        "08.unneeded-fix", nb, "Which fix does this scenario not need?",
        "Turning off one fix at a time, the explorer finds a counterexample within bound 2 "
        "for three of them. For which fix does it find none?",
        [Option("a", "follow_page_migration_wait"),
         Option("b", "cursor_insertion", "F forks P during the switch: turning this off lets "
                "C land behind W's cursor."),
         Option("c", "swapcache_copy_on_fault", "T faults the node-1 page back from the swap "
                "cache: turning this off lets P map the KSM page while run=2 stands."),
         Option("d", "stable_node_removal", "R frees the swap-cache page: turning this off "
                "lets the stale node oops ksmd.")],
        lambda: "a" if not any("migrat" in title for _, title, gen in _tasks(CAPSTONE))
        else "b",
        hints=["Look at the scenario's tasks: which actor is missing?"],
        explanation="The capstone has no migration task (migration keeps its own scenario, "
                    "notebook 06), so that fix is not exercised here; the other three are "
                    "each necessary, and together sufficient within the bound."))
    return out


def _tasks(name):
    scn = scenarios.get(name)
    k = scn.build(Fixes.all())
    out = scn.tasks(k)
    for _, _, gen in out:
        gen.close()
    return out


def exercises():
    return _nb04() + _nb05() + _nb06() + _nb07() + _nb08()
