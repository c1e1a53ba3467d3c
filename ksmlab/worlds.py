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

__all__ = ["busy_root", "migrated_into_wrong_tree"]


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


def migrated_into_wrong_tree(fixes=None) -> Kernel:
    """Two trees (merge_across_nodes=0): a and b each merged two pages of the same
    content, a's on node 0 and b's on node 1, so each tree holds one KSM page. Then a's KSM
    page is migrated onto node 1, where b's identical KSM page already is; ksmd has not
    looked since. ``fixes`` defaults to Linux 3.9. Notebook 06 tells what the next passes
    do: a's rmap_items find b's node in node 1's tree, but a KSM page is never merged into
    another (page_address_in_vma refuses it), so they stay volatile on every pass."""
    k = Kernel(nodes=2, fixes=Fixes.all() if fixes is None else fixes)
    k.sysfs.write("merge_across_nodes", 0)
    bases = {}
    for name, node in (("a", 0), ("b", 1)):
        proc = k.spawn(name)
        base = bases[name] = proc.mmap(2, node=node)
        for i in range(2):
            proc.write(base + i * PAGE_SIZE, b"same page")
        proc.madvise(base, 2, MADV_MERGEABLE)
    k.sysfs.write("run", 1)
    k.ksmd.passes(2)
    k.migrate(k.process("a"), bases["a"], 1)
    return k
