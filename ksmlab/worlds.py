"""Named example worlds the notebooks explore (built with the public API only).

>>> from ksmlab import worlds
>>> k = worlds.busy_root()
>>> [len(t) for t in k.ksm.root_stable_tree]
[3, 2]
"""

from .fixes import Fixes
from .kernel import Kernel
from .mm.madvise import MADV_MERGEABLE, MADV_UNMERGEABLE
from .mm.page import PAGE_SIZE

__all__ = ["busy_root"]


def busy_root(best_effort=False) -> Kernel:
    """Two trees (merge_across_nodes=0); tree 0's root is a KSM page that a forked child
    still maps in an area KSM no longer scans, and three other KSM pages wait unmapped in
    the swap cache. ``best_effort`` sets the what-if removal policy (see
    ``remove_all_stable_nodes``). Notebook 07 builds the same world step by step."""
    k = Kernel(nodes=2, fixes=Fixes.all())
    k.ksm.best_effort_removal = bool(best_effort)
    k.sysfs.write("merge_across_nodes", 0)
    c, a = k.spawn("c"), k.spawn("a")
    for proc in (c, a):
        node0 = proc.mmap(3, node=0)
        node1 = proc.mmap(2, node=1)
        for i, data in enumerate([b"A page", b"B page", b"C page"]):
            proc.write(node0 + i * PAGE_SIZE, data)
        for i, data in enumerate([b"D page", b"E page"]):
            proc.write(node1 + i * PAGE_SIZE, data)
        proc.madvise(node0, 3, MADV_MERGEABLE)
        proc.madvise(node1, 2, MADV_MERGEABLE)
    b = a.fork("b")
    b.madvise(node0, 3, MADV_UNMERGEABLE)
    b.madvise(node1, 2, MADV_UNMERGEABLE)
    b.write(node0, b"b's own A")
    b.write(node0 + 2 * PAGE_SIZE, b"b's own C")
    b.write(node1, b"b's own D")
    b.write(node1 + PAGE_SIZE, b"b's own E")
    k.sysfs.write("run", 1)
    k.ksmd.passes(2)
    for addr in (node0, node0 + 2 * PAGE_SIZE, node1):
        k.swap_out(a, addr)
    return k
