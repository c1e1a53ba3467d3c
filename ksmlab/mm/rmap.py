"""Reverse mapping (mm/rmap.c): from a page to the PTEs that map it."""

from ..sched.plain import kernel_path
from ..sched.points import Point
from .page import AnonMapping, PageKsm, page_stable_node

__all__ = ["rmap_walk", "page_address_in_vma"]

EFAULT = 14


def page_address_in_vma(page, vma) -> int:
    """page_address_in_vma(): the address at which ``page`` would be mapped in ``vma``, or
    -EFAULT. An anonymous page qualifies only if its anon_vma has the VMA's root;
    page_anon_vma() is NULL for a KSM page, so a KSM page never does. (The model's
    ``page.index`` is the virtual address, so vma_address() is the index itself.)"""
    m = page.mapping
    if m.__class__ is not AnonMapping:
        return -EFAULT
    if vma.anon_vma is None or vma.anon_vma.root is not m.anon_vma.root:
        return -EFAULT
    addr = page.index
    if not vma.start <= addr < vma.end:
        return -EFAULT
    return addr


@kernel_path
def rmap_walk(w, page, rmap_one, point: Point):
    """rmap_walk(): call ``rmap_one(vma, addr)`` for every place that may map ``page``,
    yielding ``point`` after each call that changed something (it returns True).

    Anonymous page: the VMAs chained to its anon_vma, at ``page.index``.
    KSM page (rmap_walk_ksm): for each rmap_item on its stable node, the VMAs chained to
    the item's anon_vma at the item's address; first those of the item's own mm, then
    the others (forked children). A KSM page with no stable node has no reverse map.
    Each anon_vma is walked holding its root's lock for read, so a fork cannot link a
    child VMA half-way through (anon_vma_fork takes it for write).
    """
    if PageKsm(page):
        node = page_stable_node(page)
        if node is None:
            return
        for search_new_forks in (False, True):
            for item in list(node.hlist):
                if item.anon_vma is not None:
                    yield from _walk_anon_vma(w, item.anon_vma, item.address, rmap_one, point,
                                              item.mm, search_new_forks)
        return
    if page.mapping is not None:
        yield from _walk_anon_vma(w, page.mapping.anon_vma, page.index, rmap_one, point,
                                  None, None)


@kernel_path
def _walk_anon_vma(w, anon_vma, addr, rmap_one, point, mm, other_mms):
    lock = anon_vma.root.lock
    yield from lock.down_read(w, "rmap_walk:anon_vma_lock_read")
    try:
        for vma in list(anon_vma.vmas):
            if mm is not None and (vma.mm is not mm) != other_mms:
                continue
            if vma.start <= addr < vma.end and rmap_one(vma, addr):
                yield point
    finally:
        lock.up_read(w)
