"""Exercises of notebooks 01-03: merging, unmerging and COW, NUMA trees. Every answer is
computed by building a small world with ``Kernel`` and running it; the words are in
``text/<notebook>.json``."""

from ..errors import KernelError
from ..kernel import Kernel
from ..mm.madvise import MADV_MERGEABLE
from ..mm.page import PAGE_SIZE
from ..mm.pte import SwapEntry
from .base import ChoiceExercise, NumericExercise, YesNoExercise

__all__ = ["exercises"]


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
            (two, "counted-after-two-passes"),
            ((0, 0, 0), "volatile-not-tracked"),
            ((0, 0, len(set(SIXTEEN))), "counted-contents"),
        ]

    out.append(NumericExercise(
        "01.first-pass", nb, ("pages_shared", "pages_sharing", "pages_volatile"),
        lambda: _after_passes(SIXTEEN, 1, "pages_shared", "pages_sharing", "pages_volatile"),
        first_pass_mistakes))

    def halfway():
        """The counters the notebook prints halfway through the second pass: after its
        first two batches of 4 pages."""
        k, _, _ = _world(SIXTEEN)
        k.ksmd.passes(1)
        k.sysfs.write("pages_to_scan", 4)
        k.ksmd.scan()
        k.ksmd.scan()
        return _read(k, "pages_shared", "pages_sharing")

    def pass2_mistakes(exp):
        shared, sharing = exp
        return [
            (halfway(), "halfway"),
            ((shared, sharing + shared), "counted-ksm-page"),
            ((sharing, shared), "swapped"),
            ((0, 0), "nothing-merged"),
            ((1, 15), "one-content"),
        ]

    out.append(NumericExercise(
        "01.pass2-counters", nb, ("pages_shared", "pages_sharing"),
        lambda: _after_passes(SIXTEEN, 2, "pages_shared", "pages_sharing"), pass2_mistakes))

    def saved():
        k, _, _ = _world(SIXTEEN)
        before = k.world.mem.allocated
        k.ksmd.passes(2)
        return before - k.world.mem.allocated

    def saved_mistakes(exp):
        shared, sharing = _after_passes(SIXTEEN, 2, "pages_shared", "pages_sharing")
        return [
            (shared, "shared-is-saved"),
            (shared + sharing, "all-pages"),
            (0, "no-saving"),
        ]

    out.append(NumericExercise("01.pages-saved", nb, ("frames_freed",), saved, saved_mistakes))

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
            ((unshared + vol, 0), "changing-in-unstable"),
            ((0, unshared + vol), "unique-not-inserted"),
            ((unshared, 0), "volatile-untracked"),
        ]

    out.append(NumericExercise("01.volatile", nb, ("pages_unshared", "pages_volatile"), volatile,
                               volatile_mistakes))

    def new_page_merges():
        k, a, _ = _world([b"same"] * 3)
        k.ksmd.passes(2)
        before = k.sysfs.read("pages_sharing")
        extra = a.mmap(1)
        a.write(extra, b"same")
        a.madvise(extra, 1, MADV_MERGEABLE)
        k.ksmd.full_scan()
        return k.sysfs.read("pages_sharing") > before

    out.append(YesNoExercise("01.stable-first", nb, new_page_merges))

    def which_tree():
        k, _, _ = _world([b"c0", b"c1", b"c0", b"c1"])
        k.ksmd.full_scan()
        k.ksmd.scan(1)
        if k.sysfs.read("pages_unshared") == 1:
            return "a"
        if k.sysfs.read("pages_shared") == 1:
            return "b"
        return "c"

    out.append(ChoiceExercise("01.which-tree", nb, which_tree))
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
            ((later, later), "drops-at-write"),
            ((now, now), "never-drops"),
        ]

    out.append(NumericExercise(
        "02.write-counters", nb, ("sharing_after_write", "sharing_after_next_pass"),
        write_counters, write_mistakes))

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
            (0, "merges-at-write"),
            (exp + 1, "two-pass-rule"),
        ]

    out.append(NumericExercise("02.merge-back", nb, ("passes",), merge_back, merge_back_mistakes))

    def run2():
        k, _, _ = _merged4()
        k.sysfs.write("run", 2)
        return _read(k, "pages_shared", "pages_sharing")

    def run2_mistakes(exp):
        k, _, _ = _merged4()
        before = _read(k, "pages_shared", "pages_sharing")
        return [(before, "run2-is-stop"), ((before[0], 0), "keeps-ksm-page"),
                ((0, before[1]), "keeps-mappings")]

    out.append(NumericExercise("02.run2-counters", nb, ("pages_shared", "pages_sharing"), run2,
                               run2_mistakes))

    out.append(ChoiceExercise("02.break-ksm", nb, "a"))

    def swapped_unmerged():
        k, a, base = _merged4()
        k.swap_out(a, base)
        k.sysfs.write("run", 2)
        return a.pte(base).__class__ is not SwapEntry

    out.append(YesNoExercise("02.swapped-out", nb, swapped_unmerged))
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
            (across, "merged-across"),
            ((exp[0], exp[1] + exp[0]), "counted-ksm-page"),
            ((0, 0), "nothing-merged"),
        ]

    out.append(NumericExercise(
        "03.per-node-counters", nb, ("pages_shared", "pages_sharing"),
        lambda: _read(_two_nodes(0), "pages_shared", "pages_sharing"), per_node_mistakes))

    def switch_errno():
        k = _two_nodes(1)
        try:
            k.sysfs.write("merge_across_nodes", 0)
        except KernelError as err:
            return {16: "a", 22: "b"}.get(err.errno, "d")
        return "c"

    out.append(ChoiceExercise("03.switch-busy", nb, switch_errno))

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

    out.append(ChoiceExercise("03.switch-procedure", nb, working_sequence,
                              fmt={key: seq_text(key) for key in sequences}))

    def cross_node():
        k = _two_nodes(0, per_node=1)
        return k.sysfs.read("pages_shared") > 0

    out.append(YesNoExercise("03.cross-node", nb, cross_node))
    return out


def exercises():
    return _nb01() + _nb02() + _nb03()
