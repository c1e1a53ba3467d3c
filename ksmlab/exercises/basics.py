"""Exercises of notebooks 01-03: merging, unmerging and COW, NUMA trees. Every answer is
computed by building a small world with ``Kernel`` and running it."""

from ..errors import KernelError
from ..kernel import Kernel
from ..mm.madvise import MADV_MERGEABLE
from ..mm.page import PAGE_SIZE
from ..mm.pte import SwapEntry
from .base import ChoiceExercise, NumericExercise, Option, YesNoExercise

__all__ = ["exercises"]

COUNTERS = ("pages_shared", "pages_sharing", "pages_unshared", "pages_volatile", "full_scans")


def _world(contents, nodes=1, node=0, merge_across_nodes=None):
    """A kernel with one process whose mergeable area holds ``contents``, run=1 (no pass
    yet). Returns (kernel, process, base address)."""
    k = Kernel(nodes=nodes)
    if merge_across_nodes is not None:
        k.sysfs.write("merge_across_nodes", merge_across_nodes)
    a = k.spawn("a")
    base = a.mmap(len(contents), node=node)
    for i, data in enumerate(contents):
        a.write(base + i * PAGE_SIZE, data)
    a.madvise(base, len(contents), MADV_MERGEABLE)
    k.sysfs.write("run", 1)
    return k, a, base


def _read(k, *names):
    return tuple(k.sysfs.read(n) for n in names)


# 16 pages holding 4 different contents, as in the README
SIXTEEN = [b"content %d" % (i % 4) for i in range(16)]


def _after_passes(contents, n, *names):
    k, _, _ = _world(contents)
    k.ksmd.passes(n)
    return _read(k, *names)


# -- 01 merging ---------------------------------------------------------------------------
def _nb01():
    nb = "01_merging"
    out = []

    def first_pass_mistakes(exp):
        two = _after_passes(SIXTEEN, 2, "pages_shared", "pages_sharing", "pages_volatile")
        return [
            (two, "counted-after-two-passes",
             "Those are the counters after the *second* pass. The first pass only records "
             "each page's checksum: a page is a merge candidate only once it is seen "
             "unchanged on a later visit."),
            ((0, 0, 0), "volatile-not-tracked",
             "Right that nothing is merged yet, but every page visited has an rmap_item, and "
             "an rmap_item that is in neither tree is counted in pages_volatile."),
            ((0, 0, len(set(SIXTEEN))), "counted-contents",
             "pages_volatile counts tracked pages (rmap_items), not different contents."),
        ]

    out.append(NumericExercise(
        "01.first-pass", nb, "After the first pass",
        "Process `a` has 16 mergeable pages holding 4 different contents (`content 0` ... "
        "`content 3`, each 4 times). ksmd completes **one** full pass. Predict "
        "`pages_shared`, `pages_sharing` and `pages_volatile`.",
        ("pages_shared", "pages_sharing", "pages_volatile"),
        lambda: _after_passes(SIXTEEN, 1, "pages_shared", "pages_sharing", "pages_volatile"),
        first_pass_mistakes,
        hints=["On its first visit to a page ksmd has no earlier checksum to compare with.",
               "A page whose checksum just changed (from 'none yet') is *volatile*: tracked, "
               "in no tree.",
               "Nothing can merge before a page is seen unchanged twice."],
        explanation="The first pass gives each page an rmap_item and records its checksum; "
                    "no page has been seen unchanged yet, so all of them are volatile and "
                    "nothing merges."))

    def pass2_mistakes(exp):
        shared, sharing = exp
        return [
            ((shared, sharing + shared), "counted-ksm-page",
             "pages_sharing does not count the KSM page itself: it counts the *other* "
             "mappings that share it. Each group of 4 gives 1 to pages_shared and 3 to "
             "pages_sharing."),
            ((sharing, shared), "swapped",
             "You swapped them: pages_shared is the number of KSM pages kept (one per "
             "distinct content), pages_sharing the number of extra mappings of them."),
            ((0, 0), "nothing-merged",
             "Nothing merged? The first pass records checksums; on the second the pages are "
             "unchanged, so the first of each content goes into the unstable tree and the "
             "others find it (or the new KSM page) and merge."),
            ((1, 15), "one-content",
             "There are 4 different contents, so 4 KSM pages, not 1."),
        ]

    out.append(NumericExercise(
        "01.pass2-counters", nb, "After the second pass",
        "Same 16 pages (4 contents, 4 pages each). ksmd completes **two** full passes. "
        "Predict `pages_shared` and `pages_sharing`.",
        ("pages_shared", "pages_sharing"),
        lambda: _after_passes(SIXTEEN, 2, "pages_shared", "pages_sharing"),
        pass2_mistakes,
        hints=["How many KSM pages are needed to hold 4 different contents?",
               "pages_shared counts KSM pages; pages_sharing counts the mappings that share "
               "one *besides* the first."],
        explanation="Four KSM pages (one per content), each mapped 4 times: 1 counted in "
                    "pages_shared and 3 in pages_sharing."))

    def saved():
        k, _, _ = _world(SIXTEEN)
        before = k.world.mem.allocated
        k.ksmd.passes(2)
        return before - k.world.mem.allocated

    def saved_mistakes(exp):
        shared, sharing = _after_passes(SIXTEEN, 2, "pages_shared", "pages_sharing")
        return [
            (shared, "shared-is-saved",
             "That is pages_shared, the number of KSM pages KSM *keeps*. The pages freed are "
             "the duplicates: that is what pages_sharing measures."),
            (shared + sharing, "all-pages",
             "Not all 16 frames can go: each content still needs one KSM page."),
            (0, "no-saving",
             "Merging does free frames: the duplicates' frames are released when their "
             "mappings are pointed at the KSM page."),
        ]

    out.append(NumericExercise(
        "01.pages-saved", nb, "How much memory is saved",
        "After those two passes, how many physical page frames has merging freed? (Count "
        "frames in use before and after.)",
        ("frames_freed",), saved, saved_mistakes,
        hints=["Each content keeps exactly one frame: its KSM page.",
               "Which counter counts the mappings that no longer need their own frame?"],
        explanation="16 frames before, 4 KSM pages after: 12 freed, which is what "
                    "pages_sharing reads. pages_shared counts what is kept, not what is saved."))

    volatile_contents = [b"x", b"x", b"x", b"y", b"z", b"w0"]

    def volatile():
        k, a, base = _world(volatile_contents)
        for p in range(2):
            a.write(base + 5 * PAGE_SIZE, b"w%d" % (p + 1))
            k.ksmd.full_scan()
        return _read(k, "pages_unshared", "pages_volatile")

    def volatile_mistakes(exp):
        unshared, vol = exp
        return [
            ((unshared + vol, 0), "changing-in-unstable",
             "The page rewritten before every pass never has the same checksum twice, so it "
             "never enters the unstable tree: it stays volatile."),
            ((0, unshared + vol), "unique-not-inserted",
             "The unique pages `y` and `z` did not change between passes, so on the second "
             "pass they were inserted in the unstable tree: that is what pages_unshared "
             "counts, even though nothing matched them."),
            ((unshared, 0), "volatile-untracked",
             "The rewritten page is still tracked: it has an rmap_item in neither tree, which "
             "is exactly what pages_volatile counts."),
        ]

    out.append(NumericExercise(
        "01.volatile", nb, "Unshared or volatile?",
        "Six mergeable pages hold `x, x, x, y, z, w`; the last one is rewritten with new "
        "content just before each pass. After **two** passes, predict `pages_unshared` and "
        "`pages_volatile`.",
        ("pages_unshared", "pages_volatile"), volatile, volatile_mistakes,
        hints=["The three `x` pages merge; they count in pages_shared/pages_sharing.",
               "A page that has not changed since the last visit, and matches nothing, waits "
               "in the unstable tree.",
               "A page whose checksum changed since the last visit goes in no tree."],
        explanation="`y` and `z` wait in the unstable tree (pages_unshared); the rewritten "
                    "page changes every time, so it stays volatile."))

    def new_page_merges():
        k, a, _ = _world([b"same"] * 3)
        k.ksmd.passes(2)
        before = k.sysfs.read("pages_sharing")
        extra = a.mmap(1)
        a.write(extra, b"same")
        a.madvise(extra, 1, MADV_MERGEABLE)
        k.ksmd.full_scan()
        return k.sysfs.read("pages_sharing") > before

    out.append(YesNoExercise(
        "01.stable-first", nb, "A latecomer identical to a KSM page",
        "Three pages `same` have merged into one KSM page. Process `a` now maps a new "
        "mergeable page and writes `same` into it. ksmd completes **one** more pass. Is the "
        "new page merged by the end of that pass?",
        [Option("a", "ksmd searches the stable tree before it looks at the checksum, so a page "
                "equal to a KSM page merges on its first visit"),
         Option("b", "the first visit only records the checksum",
                "that rule decides when a page may enter the *unstable* tree; the stable tree "
                "search comes before it."),
         Option("c", "identical pages are merged when they are written",
                "nothing merges at write time: only ksmd merges, when its scan visits the "
                "page."),
         Option("d", "the unstable tree still remembers the page from the last pass",
                "the new page was never in any tree, and the unstable tree is rebuilt every "
                "pass anyway.")],
        "a", new_page_merges,
        wrong_verdict="It does merge in that one pass: in 3.9 cmp_and_merge_page searches the "
                      "stable tree before the checksum test, so a page equal to an existing "
                      "KSM page merges on its first visit. (Since Linux 6.11 a non-KSM page "
                      "needs a second, unchanged visit first.)",
        hints=["Which tree does cmp_and_merge_page search first?",
               "The checksum test only guards the unstable tree."],
        explanation="In 3.9, stable_tree_search runs before the checksum test."))

    def which_tree():
        k, _, _ = _world([b"c0", b"c1", b"c0", b"c1"])
        k.ksmd.full_scan()
        k.ksmd.scan(1)
        if k.sysfs.read("pages_unshared") == 1:
            return "a"
        if k.sysfs.read("pages_shared") == 1:
            return "b"
        return "c"

    out.append(ChoiceExercise(
        "01.which-tree", nb, "The first page of its kind, second pass",
        "On the second pass ksmd visits the first page holding `c0`; it is unchanged since "
        "the first pass and no KSM page holds `c0` yet. What does cmp_and_merge_page do "
        "with it?",
        [Option("a", "inserts its rmap_item into the unstable tree"),
         Option("b", "makes it a KSM page and inserts a stable node",
                "a KSM page needs two identical pages: this is only the first `c0` ksmd "
                "sees, so there is nothing to merge it with yet."),
         Option("c", "leaves it volatile until the third pass",
                "its checksum is unchanged since the first visit, so it qualifies for the "
                "unstable tree now."),
         Option("d", "write-protects it and waits for a match",
                "pages are only write-protected while being merged; a candidate in the "
                "unstable tree stays writable, which is why that tree is rebuilt each pass.")],
        which_tree,
        hints=["It is unchanged, so it is a candidate; but there is nothing equal to it yet."],
        explanation="Unchanged but unmatched: it goes into the unstable tree (pages_unshared "
                    "goes up), where the next `c0` page will find it."))
    return out


# -- 02 unmerging and COW -------------------------------------------------------------------
def _merged4():
    k, a, base = _world([b"same"] * 4)
    k.ksmd.passes(2)
    return k, a, base


def _nb02():
    nb = "02_unmerging_and_cow"
    out = []

    def write_counters():
        k, a, base = _merged4()
        a.write(base, b"changed")
        right_after = k.sysfs.read("pages_sharing")
        k.ksmd.full_scan()
        return right_after, k.sysfs.read("pages_sharing")

    def write_mistakes(exp):
        now, later = exp
        return [
            ((later, later), "drops-at-write",
             "The counters do not move at the write. The COW fault gives the writer a "
             "private copy, but its rmap_item stays on the stable node until ksmd next "
             "visits that address and notices the page is no longer the KSM page."),
            ((now, now), "never-drops",
             "On its next visit ksmd sees the page is no longer the KSM page, takes the "
             "rmap_item off the stable node, and pages_sharing goes down."),
            ((now - 1, now - 1), "drops-at-write",
             "The counters do not move at the write; ksmd updates them on its next visit."),
        ]

    out.append(NumericExercise(
        "02.write-counters", nb, "A write breaks COW",
        "Four pages `same` are merged (pages_shared 1, pages_sharing 3). Process `a` writes "
        "`changed` into the first one. Predict pages_sharing right after the write, and "
        "after ksmd's next full pass.",
        ("sharing_after_write", "sharing_after_next_pass"), write_counters, write_mistakes,
        hints=["The write is an ordinary copy-on-write fault. Does the fault handler know "
               "about KSM's counters?",
               "Counters change when rmap_items join or leave stable nodes; only ksmd (and "
               "unmerge) move them."],
        explanation="The fault only swaps the PTE to a private copy; ksmd catches up on its "
                    "next visit and pages_sharing drops by one."))

    def merge_back():
        k, a, base = _merged4()
        full = k.sysfs.read("pages_sharing")
        a.write(base, b"changed")
        k.ksmd.full_scan()
        a.write(base, b"same")
        for n in range(6):
            if k.sysfs.read("pages_sharing") == full:
                return n
            k.ksmd.full_scan()
        return 6

    def merge_back_mistakes(exp):
        return [
            (0, "merges-at-write",
             "A write never merges back at once: the page is a private copy now, and only "
             "ksmd merges, when its scan reaches the page."),
            (exp + 1, "two-pass-rule",
             "That is the two-pass rule for new content. Here a KSM page with the same "
             "content already exists, and the stable tree is searched before the checksum "
             "test, so the page merges on its first visit."),
        ]

    out.append(NumericExercise(
        "02.merge-back", nb, "Writing the old content back",
        "Continuing: after that pass, `a` writes `same` back into the first page. How many "
        "full ksmd passes until pages_sharing is back to 3?",
        ("passes",), merge_back, merge_back_mistakes,
        hints=["Does a write ever merge anything by itself?",
               "Is there already a KSM page holding `same`?"],
        explanation="One pass: the stable tree search finds the existing KSM page on the "
                    "first visit."))

    def run2():
        k, _, _ = _merged4()
        k.sysfs.write("run", 2)
        return _read(k, "pages_shared", "pages_sharing", "full_scans")

    def run2_mistakes(exp):
        k, _, _ = _merged4()
        before = _read(k, "pages_shared", "pages_sharing", "full_scans")
        return [
            ((exp[0], exp[1], before[2]), "full-scans-kept",
             "A successful run=2 also resets full_scans to 0."),
            (before, "run2-is-stop",
             "That is what run=0 leaves: it only stops ksmd. run=2 unmerges every KSM page "
             "and frees every rmap_item."),
            ((before[0], 0, 0), "keeps-ksm-page",
             "No KSM page is kept: each mapping gets a private copy, and with no rmap_items "
             "left pages_shared reads 0 too."),
        ]

    out.append(NumericExercise(
        "02.run2-counters", nb, "echo 2 > run",
        "Four pages `same` are merged after two passes. The administrator writes 2 to "
        "`run`. Predict pages_shared, pages_sharing and full_scans afterwards.",
        ("pages_shared", "pages_sharing", "full_scans"), run2, run2_mistakes,
        hints=["run=2 means 'stop and unmerge everything'.",
               "Look at what the unmerge does to the scan counter at the end."],
        explanation="Every KSM mapping is broken, every rmap_item freed, and the scan "
                    "counter is reset: all three read 0."))

    out.append(ChoiceExercise(
        "02.break-ksm", nb, "Which kernel function breaks a KSM mapping?",
        "During `run=2`, the unmerge walk visits every address of every mergeable area. "
        "Which function turns a KSM mapping at one address into a private copy?",
        [Option("a", "break_ksm (follow_page, then a write fault)"),
         Option("b", "remove_stable_node",
                "that detaches a stable node whose page is no longer mapped; it never "
                "touches a mapping."),
         Option("c", "replace_page",
                "replace_page does the opposite: it points a mapping *at* the KSM page while "
                "merging."),
         Option("d", "ksm_might_need_to_copy",
                "that decides whether a page faulted back from swap must be copied; the walk "
                "does not fault anything in.")],
        "a",
        hints=["The walk uses the ordinary copy-on-write machinery.",
               "It looks up the page with follow_page and, if it is a KSM page, faults."],
        explanation="break_ksm looks at the PTE with follow_page and, for a KSM page, "
                    "triggers a write fault, exactly as a user write would."))

    def swapped_unmerged():
        k, a, base = _merged4()
        k.swap_out(a, base)
        k.sysfs.write("run", 2)
        return a.pte(base).__class__ is not SwapEntry

    out.append(YesNoExercise(
        "02.swapped-out", nb, "A KSM page in swap during run=2",
        "Four pages `same` are merged; reclaim swaps the KSM page out, so all four PTEs are "
        "swap entries. Now `echo 2 > run`. When it returns, has the walk replaced `a`'s "
        "first PTE with a present private copy?",
        [Option("a", "the walk only looks at present pages; a swap entry is left as it is"),
         Option("b", "a swapped-out page is no longer a KSM page",
                "a KSM page in the swap cache is still a KSM page (PageKsm) until it is "
                "freed; that is what makes it dangerous later."),
         Option("c", "the walk first swaps every page back in",
                "nothing in run=2 reads swap; it only follows present PTEs."),
         Option("d", "ksmd breaks it later",
                "ksmd does not run while run=2 stands, and ksmd merges, it never unmerges.")],
        "a", swapped_unmerged,
        wrong_verdict="No: break_ksm uses follow_page, which only returns present pages. A "
                      "swap entry is 'nothing there', so it stays a swap entry.",
        hints=["What does follow_page return for a swap entry?"],
        explanation="follow_page finds no present page, so break_ksm has nothing to break. "
                    "The page is dealt with if and when it is faulted back (notebook 05)."))
    return out


# -- 03 NUMA trees --------------------------------------------------------------------------
def _two_nodes(mac, per_node=4):
    k = Kernel(nodes=2)
    k.sysfs.write("merge_across_nodes", mac)
    a = k.spawn("a")
    for node in (0, 1):
        base = a.mmap(per_node, node=node)
        for i in range(per_node):
            a.write(base + i * PAGE_SIZE, b"same")
        a.madvise(base, per_node, MADV_MERGEABLE)
    k.sysfs.write("run", 1)
    k.ksmd.passes(2)
    return k


def _nb03():
    nb = "03_numa_trees"
    out = []

    def per_node_mistakes(exp):
        across = _read(_two_nodes(1), "pages_shared", "pages_sharing")
        return [
            (across, "merged-across",
             "That is what merge_across_nodes=1 gives (one tree for the machine). With 0 "
             "there is one stable tree per NUMA node, and pages only merge with pages on "
             "the same node."),
            ((exp[0], exp[1] + exp[0]), "counted-ksm-page",
             "pages_sharing does not count the KSM pages themselves."),
            ((0, 0), "nothing-merged",
             "Pages on the same node still merge; only merging across nodes is off."),
        ]

    out.append(NumericExercise(
        "03.per-node-counters", nb, "One tree per node",
        "Two NUMA nodes, `merge_across_nodes=0`. Process `a` has 4 pages `same` on node 0 and "
        "4 pages `same` on node 1, all mergeable. After two passes, predict pages_shared and "
        "pages_sharing.",
        ("pages_shared", "pages_sharing"),
        lambda: _read(_two_nodes(0), "pages_shared", "pages_sharing"), per_node_mistakes,
        hints=["With merge_across_nodes=0, which tree is a node-1 page searched in?",
               "Each node ends up with its own KSM page."],
        explanation="Each node gets its own KSM page for `same`: 2 shared, 3 + 3 sharing."))

    def switch_errno():
        k = _two_nodes(1)
        try:
            k.sysfs.write("merge_across_nodes", 0)
        except KernelError as err:
            return {16: "a", 22: "b"}.get(err.errno, "d")
        return "c"

    out.append(ChoiceExercise(
        "03.switch-busy", nb, "Switching while pages are merged",
        "merge_across_nodes=1 and pages are merged (pages_shared > 0). The administrator "
        "writes `echo 0 > merge_across_nodes`. What happens?",
        [Option("a", "the write fails with EBUSY"),
         Option("b", "the write fails with EINVAL",
                "EINVAL is for values that do not parse or are not 0/1; 0 is a valid value."),
         Option("c", "it succeeds and the stable tree is re-sorted per node",
                "the kernel never re-sorts existing stable nodes into other trees; that is "
                "exactly why it insists on empty trees."),
         Option("d", "it succeeds after unmerging every page first",
                "the knob store does not unmerge anything itself; the administrator has to "
                "do that with run=2.")],
        switch_errno,
        hints=["The trees' layout depends on the knob. What would happen to nodes already "
               "in tree 0?"],
        explanation="merge_across_nodes_store refuses with EBUSY while pages_shared is not 0: "
                    "switching demands empty trees."))

    sequences = {
        "a": [("run", 0), ("merge_across_nodes", 0), ("run", 1)],
        "b": [("run", 2), ("merge_across_nodes", 0), ("run", 1)],
        "c": [("merge_across_nodes", 0), ("run", 2), ("run", 1)],
        "d": [("run", 1), ("merge_across_nodes", 0), ("run", 1)],
    }

    def working_sequence():
        for key, writes in sequences.items():
            k = _two_nodes(1)
            try:
                for name, value in writes:
                    k.sysfs.write(name, value)
            except KernelError:
                continue
            return key
        return None

    def seq_text(key):
        return "; ".join(f"echo {v} > {n}" for n, v in sequences[key])

    out.append(ChoiceExercise(
        "03.switch-procedure", nb, "Which order works?",
        "Pages are merged with merge_across_nodes=1. Which sequence of writes switches to "
        "per-node trees without an error?",
        [Option("a", seq_text("a"),
                "run=0 only stops ksmd; the pages stay merged, so the switch is refused with "
                "EBUSY."),
         Option("b", seq_text("b")),
         Option("c", seq_text("c"),
                "the switch comes first, while pages are still merged: EBUSY."),
         Option("d", seq_text("d"),
                "run is already 1 and the pages are merged: the switch is refused with "
                "EBUSY.")],
        working_sequence,
        hints=["The switch needs empty trees.", "Which value of run empties them?"],
        explanation="'run 2, switch, run 1' is the documented procedure: unmerge everything, "
                    "switch while the trees are empty, start merging again."))

    def cross_node():
        k = _two_nodes(0, per_node=1)
        return k.sysfs.read("pages_shared") > 0

    out.append(YesNoExercise(
        "03.cross-node", nb, "Across nodes?",
        "merge_across_nodes=0. One page `same` lives on node 0 and one on node 1, nothing "
        "else. After two passes, are they merged?",
        [Option("a", "each node has its own trees, and a page is only compared with pages "
                "in its own node's trees"),
         Option("b", "pages on different nodes never have equal checksums",
                "checksums depend only on content; the pages are equal."),
         Option("c", "two passes are not enough",
                "two passes are enough for two equal, unchanging pages on the same node."),
         Option("d", "ksmd only scans node 0",
                "ksmd scans every registered mm regardless of node.")],
        "a", cross_node,
        wrong_verdict="No: with merge_across_nodes=0 the node-0 page is searched and inserted "
                      "in node 0's trees and the node-1 page in node 1's, so they never meet.",
        hints=["Which tree is each page searched in?"],
        explanation="Each page is searched in its own node's tree, so the two never meet: "
                    "pages_shared stays 0."))
    return out


def exercises():
    return _nb01() + _nb02() + _nb03()
