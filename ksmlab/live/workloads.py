"""The built-in workloads of the live lab.

Every workload in :data:`WORKLOADS` stays clear of what the live kernel does differently
from 3.9 (see ``docs/live-lab.md``): no page is ever written with the contents of a page
KSM already shares (6.11's d58a361b0350 would make it wait one more pass), no content is
shared by more than 256 pages (``max_page_sharing`` chains, 4.13), and the driver turns
smart scan and zero-page merging off for the run. The workloads in :data:`DIFFERENCES`
walk into one such change on purpose and name the step where the two sides part.

>>> sorted(WORKLOADS)[:3]
['big', 'changed-unstable-page', 'changing-pages']
>>> all_workloads()["merge-into-existing"].known_differences[0].commit
'd58a361b0350'
"""

from __future__ import annotations

from .workload import KnownDifference, Workload, validate

__all__ = ["WORKLOADS", "DIFFERENCES", "all_workloads", "get"]


class _W:
    """A small builder: ``_W(name, title).spawn("a", 8).write("a", 0, [...]).passes(2)``."""

    def __init__(self, name, title, notes=""):
        self.w = Workload(name, title, [], notes)

    def __getattr__(self, op):
        def add(*args):
            self.w.steps.append((op, *args))
            return self

        return add

    def passes(self, n):
        for _ in range(n):
            self.w.steps.append(("pass",))
        return self

    def mergeable(self, proc, first, n):
        return self.madvise(proc, first, n, "mergeable")

    def unmergeable(self, proc, first, n):
        return self.madvise(proc, first, n, "unmergeable")

    def knob(self, name, value):
        return self.sysfs(name, value)

    def build(self, *known) -> Workload:
        self.w.known_differences = tuple(known)
        validate(self.w)
        return self.w


def _duplicates():
    return (
        _W(
            "duplicates",
            "one process: four X, two Y, two zero-filled pages, two uniques, two untouched",
            "Pass 1 records checksums (all volatile); pass 2 merges each group into one KSM "
            "page (shared) and maps the rest onto it (sharing); the uniques wait in the "
            "unstable tree (unshared). Zero-filled pages merge like any other, since the "
            "driver keeps use_zero_pages=0; untouched pages are not present and never seen.",
        )
        .spawn("a", 12)
        .write("a", 0, ["X", "X", "X", "X", "Y", "Y", b"", b"", "U1", "U2"])
        .mergeable("a", 0, 12)
        .passes(3)
        .read("a", 0, 12)
        .build()
    )


def _two_processes():
    return (
        _W(
            "several-processes",
            "three processes with duplicates within and across them",
            "KSM merges across processes exactly as within one: the stable tree is global.",
        )
        .spawn("a", 6)
        .spawn("b", 6)
        .spawn("c", 4)
        .write("a", 0, ["X", "X", "Y", "A1", "A2"])
        .write("b", 0, ["X", "Y", "Y", "Z", "B1", "B2"])
        .write("c", 0, ["Z", "Z", "C1"])
        .mergeable("a", 0, 6)
        .mergeable("b", 0, 6)
        .passes(2)
        .mergeable("c", 0, 4)
        .passes(2)
        .build()
    )


def _uniques():
    return (
        _W(
            "uniques",
            "sixteen different pages: nothing to merge",
            "Pass 1: every page is new (volatile). Pass 2 onwards: checksums are unchanged, "
            "so each page goes into the unstable tree (unshared) and finds no partner.",
        )
        .spawn("a", 16)
        .write("a", 0, [f"unique {i}" for i in range(16)])
        .mergeable("a", 0, 16)
        .passes(3)
        .build()
    )


def _changing():
    w = _W(
        "changing-pages",
        "pages that change between passes stay volatile; a write to a KSM page breaks COW",
        "A page whose checksum moved since the last pass is skipped (volatile). Once it holds "
        "still it goes into the unstable tree; two equal still pages merge. Writing to a "
        "merged page gives the writer a private copy and takes it out of the stable tree.",
    )
    w.spawn("a", 8).write("a", 0, ["D", "D", "D", "D"]).mergeable("a", 0, 8)
    for rnd in range(3):
        w.write("a", 4, [f"round {rnd} page {i}" for i in range(4)]).passes(1)
    w.write("a", 4, ["S", "S", "T", "U"]).passes(2)
    w.write("a", 0, "E").write("a", 5, "F").passes(3)
    return w.read("a", 0, 8).build()


def _fork_cow():
    return (
        _W(
            "fork-cow",
            "fork a process with merged pages, then copy-on-write in parent and child",
            "The child maps the parent's KSM pages but has no rmap_items: ksmd's next pass "
            "finds them and counts them (sharing grows). Pages the two share only by COW are "
            "one physical page, which the unstable tree will not merge with itself. Writes "
            "give private copies that are volatile, then unshared.",
        )
        .spawn("a", 8)
        .write("a", 0, ["X", "X", "Y", "Y", "U1", "U2"])
        .mergeable("a", 0, 8)
        .passes(2)
        .fork("a", "b")
        .passes(1)
        .write("b", 0, "child's own 0")
        .write("b", 4, "child's own 4")
        .write("a", 5, "parent's own 5")
        .passes(3)
        .read("a", 0, 8)
        .read("b", 0, 8)
        .build()
    )


def _exit():
    return (
        _W(
            "exit",
            "processes exit: their rmap_items go at ksmd's next pass, shared pages unshare",
            "exit() frees the pages at once but KSM only learns at its next pass, when it "
            "drops the exited mm's rmap_items; until then the counters still count them. A "
            "process that exits before ksmd ever saw it leaves no trace.",
        )
        .spawn("a", 6)
        .spawn("b", 6)
        .write("a", 0, ["X", "X", "Y", "A1"])
        .write("b", 0, ["X", "Y", "Z", "Z", "B1"])
        .mergeable("a", 0, 6)
        .mergeable("b", 0, 6)
        .passes(2)
        .exit("b")
        .passes(1)
        .spawn("c", 2)
        .write("c", 0, ["C1", "C2"])
        .mergeable("c", 0, 2)
        .exit("c")
        .passes(2)
        .build()
    )


def _fork_exit_parent():
    return (
        _W(
            "fork-exit-parent",
            "fork, then the parent exits: the child's forked KSM pages are re-accounted",
            "The parent's rmap_items go at the next pass; its KSM pages live on in the child, "
            "whose first visit finds each one already a KSM page and appends it to the "
            "existing stable node.",
        )
        .spawn("a", 6)
        .write("a", 0, ["X", "X", "X", "Y", "Y", "U"])
        .mergeable("a", 0, 6)
        .passes(2)
        .fork("a", "b")
        .exit("a")
        .passes(2)
        .read("b", 0, 6)
        .build()
    )


def _unmerge_part():
    return (
        _W(
            "unmergeable-part",
            "MADV_UNMERGEABLE on the middle of a merged range",
            "madvise(MADV_UNMERGEABLE) breaks every KSM page in the range at once (the "
            "contents stay), but the rmap_items stay in the stable tree, still counted, "
            "until ksmd's next pass drops them.",
        )
        .spawn("a", 10)
        .write("a", 0, ["X", "X", "X", "X", "X", "X", "Y", "Y", "U"])
        .mergeable("a", 0, 10)
        .passes(2)
        .unmergeable("a", 2, 4)
        .passes(2)
        .read("a", 0, 10)
        .build()
    )


def _run2():
    return (
        _W(
            "run2-remerge",
            "echo 2 > run unmerges everything; echo 1 > run merges it all again",
            "run=2 breaks every KSM page, frees every rmap_item and resets full_scans to 0; "
            "the processes stay registered. Writing 2 again does nothing. After run=1 the "
            "pages are new to KSM: one pass of checksums, then they merge again.",
        )
        .spawn("a", 8)
        .spawn("b", 4)
        .write("a", 0, ["X", "X", "Y", "Y", "X", "A1"])
        .write("b", 0, ["X", "Y", "B1"])
        .mergeable("a", 0, 8)
        .mergeable("b", 0, 4)
        .passes(2)
        .knob("run", 2)
        .knob("run", 2)
        .read("a", 0, 8)
        .knob("run", 1)
        .passes(2)
        .build()
    )


def _rejected_knob():
    return (
        _W(
            "rejected-knob",
            "merge_across_nodes cannot switch while KSM shares pages (EBUSY); bad values",
            "merge_across_nodes can only change while KSM holds no pages: the write fails with "
            "EBUSY until run=2 has unmerged everything. Out-of-range values fail with EINVAL "
            "and change nothing.",
        )
        .spawn("a", 6)
        .write("a", 0, ["X", "X", "Y", "Y", "U"])
        .mergeable("a", 0, 6)
        .passes(2)
        .knob("merge_across_nodes", 0)
        .knob("merge_across_nodes", 2)
        .knob("run", 3)
        .passes(1)
        .knob("run", 2)
        .knob("merge_across_nodes", 0)
        .knob("merge_across_nodes", 1)
        .knob("run", 1)
        .passes(2)
        .build()
    )


def _changed_unstable_page():
    return (
        _W(
            "changed-unstable-page",
            "a page in the unstable tree changes mid-pass: the red-black shape decides",
            "Pass 2 runs in batches of 3 pages. The first batch puts A, B, C into the "
            "unstable tree: B, inserted second, is the red-black root after the rotation. "
            "Then page 0 (A) is rewritten to D; the tree does not notice, its pages are "
            "compared by their live contents. In the second batch the second A goes left of "
            "B and left of page 0 (now D); the second B meets B at the root and merges with "
            "it. Taking B out rebalances the tree and brings page 0 (D) to the root, so the "
            "second C goes left of D and never meets the first C: it waits, unshared. The "
            "third batch only ends the pass. The next pass starts a fresh tree and merges "
            "the two Cs.",
        )
        .spawn("a", 6)
        .write("a", 0, ["A", "B", "C", "A", "B", "C"])
        .mergeable("a", 0, 6)
        .passes(1)
        .batch(3)
        .write("a", 0, "D")
        .batch(3)
        .batch(3)
        .passes(2)
        .read("a", 0, 6)
        .build()
    )


def _big():
    w = _W(
        "big",
        "1,536 pages in two processes: 128 contents seven to nine times over, 384 uniques",
        "The same rules at a larger scale: one pass of checksums, one pass that merges; then "
        "64 writes break 64 merged pages, and an exit drops a whole process.",
    )
    a = [f"group {i % 128}" for i in range(896)] + [f"a unique {i}" for i in range(128)]
    b = [f"group {i % 128}" for i in range(256)] + [f"b unique {i}" for i in range(256)]
    w.spawn("a", 1024).write("a", 0, a).mergeable("a", 0, 1024)
    w.spawn("b", 512).write("b", 0, b).mergeable("b", 0, 512)
    w.passes(3)
    w.write("a", 0, [f"a rewritten {i}" for i in range(64)]).passes(2)
    w.exit("b").passes(1)
    return w.build()


def _merge_into_existing():
    return (
        _W(
            "merge-into-existing",
            "a new page equal to a KSM page: 3.9 merges it at once, 6.11+ one pass later",
            "In 3.9 cmp_and_merge_page searches the stable tree before it looks at the "
            "checksum, so a page identical to an existing KSM page merges on its first visit. "
            "Since Linux 6.11 (d58a361b0350, 'mm/ksm: don't waste time searching stable tree "
            "for fast changing page') a page that is not yet a KSM page must first keep its "
            "checksum for one pass: it is volatile for that pass and merges on the next.",
        )
        .spawn("a", 4)
        .write("a", 0, ["X", "X", "U"])
        .mergeable("a", 0, 4)
        .passes(2)
        .spawn("b", 2)
        .write("b", 0, ["X", "V"])
        .mergeable("b", 0, 2)
        .passes(2)
        .build(
            KnownDifference(
                step=8,
                fields=(
                    "pages_sharing",
                    "pages_volatile",
                    "general_profit",
                    "b.ksm_merging_pages",
                    "b.ksm_process_profit",
                ),
                commit="d58a361b0350",
                why="6.11+ checks the checksum before searching the stable tree: b's X is "
                "volatile for one pass instead of merging at once",
            )
        )
    )


def _orphaned_ksm_page():
    why = (
        "since 4.13 the kernel never merges into a stable node that has no rmap_items left "
        "(is_page_sharing_candidate, part of the stable node chains); 3.9 merges into any "
        "stable node whose page is still there"
    )
    unshared = ("pages_shared", "pages_unshared", "a.ksm_merging_pages", "a.ksm_process_profit")
    return (
        _W(
            "orphaned-ksm-page",
            "a KSM page survives run=2 in a VMA KSM no longer scans; 3.9 merges into it",
            "b is a fork of a that made its range unmergeable before a's page became the KSM "
            "page, so b maps that KSM page where neither ksmd nor run=2 looks: after run=2 the "
            "stable node stays, with no rmap_items, because its page is still mapped. In 3.9 "
            "a's page (a private copy since run=2, same contents) merges straight back into "
            "it, and stays merged. Since 4.13 (2c653d0ee2ae) a stable node without "
            "rmap_items is no merge target: a's page waits in the unstable tree for a partner "
            "that never comes (on 6.11+ after one more pass, d58a361b0350).",
        )
        .spawn("c", 2)
        .write("c", 0, "C")
        .mergeable("c", 0, 2)
        .spawn("a", 2)
        .write("a", 0, "C")
        .mergeable("a", 0, 2)
        .fork("a", "b")
        .unmergeable("b", 0, 2)
        .passes(2)
        .write("c", 0, "c's own")
        .knob("run", 2)
        .knob("run", 1)
        .passes(3)
        .read("b", 0, 2)
        .build(
            KnownDifference(
                step=13,
                fields=("pages_shared", "pages_volatile", *unshared[2:]),
                commit="2c653d0ee2ae",
                why="3.9 merges a's page into the orphaned stable node at its first visit; "
                "6.18 does not (and, by d58a361b0350, first waits a pass for the checksum)",
            ),
            *(KnownDifference(step=i, fields=unshared, commit="2c653d0ee2ae", why=why)
              for i in (14, 15, 16)),
        )
    )


WORKLOADS = {
    w.name: w
    for w in (
        _duplicates(),
        _two_processes(),
        _uniques(),
        _changing(),
        _fork_cow(),
        _exit(),
        _fork_exit_parent(),
        _unmerge_part(),
        _run2(),
        _rejected_knob(),
        _changed_unstable_page(),
        _big(),
    )
}
DIFFERENCES = {w.name: w for w in (_merge_into_existing(), _orphaned_ksm_page())}


def all_workloads() -> dict:
    return {**WORKLOADS, **DIFFERENCES}


def get(name: str) -> Workload:
    """The built-in workload called ``name``."""
    try:
        return all_workloads()[name]
    except KeyError:
        raise KeyError(
            f"no workload {name!r}; the built-in ones are: {', '.join(all_workloads())}"
        ) from None
