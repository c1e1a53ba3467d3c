"""Reclaim (mm/vmscan.c): push an anonymous page out to swap, and free swap-cache pages."""

from ..sched.locks import trylock_page, unlock_page
from ..sched.plain import kernel_path
from ..sched.points import Point
from .page import put_page
from .pte import Present, SwapEntry
from .rmap import rmap_walk

__all__ = ["isolate_lru_page", "reclaim_page", "shrink_page", "shrink_swapcache"]

_UNMAP_NEXT = Point("try_to_unmap:next_vma", "the rmap walk may be preempted between mappings")


@kernel_path
def shrink_page(w, page):
    """shrink_page_list() for one page: swap cache, then every mapping becomes a swap entry.

    Returns how many PTEs were replaced, or None if the page lock was busy (reclaim never
    sleeps on it). The caller holds a reference (the page is isolated from the LRU).
    Simplification: writeback completes at once, and the page stays in the swap cache until
    a later pass (``shrink_swapcache``) finds it unused.
    """
    if not trylock_page(w, page):
        return None
    try:
        if not page.swapcache:
            w.swap.add_to_swap(page)
        entry = page.swap_entry
        done = []

        def try_to_unmap_one(vma, addr):
            pte = vma.mm.ptes.get(addr)
            if pte.__class__ is not Present or pte.page is not page:
                return False
            page.dirty = page.dirty or pte.dirty
            vma.mm.ptes[addr] = SwapEntry(entry)
            w.swap.swap_duplicate(entry)
            page.mapcount -= 1
            put_page(w.mem, page)
            done.append(addr)
            return True

        yield from rmap_walk(w, page, try_to_unmap_one, _UNMAP_NEXT)
        return len(done)
    finally:
        unlock_page(w, page)


def shrink_swapcache(w):
    """A later reclaim pass: free every clean, unmapped swap-cache page nobody else holds."""
    freed = 0
    for entry in sorted(w.swap.slots):
        slot = w.swap.slots.get(entry)
        page = slot.page if slot else None
        if page is None or page.mapcount or page.refcount != 1 or not trylock_page(w, page):
            continue
        unlock_page(w, page)
        w.swap.delete_from_swap_cache(w.mem, page)
        freed += 1
    return freed


def isolate_lru_page(page) -> None:
    """isolate_lru_page(): take the page off the LRU for reclaim or migration; the
    isolation holds a reference until the page is put back. Call it when the page is
    chosen, before the path that works on it starts."""
    page.refcount += 1


@kernel_path
def reclaim_page(w, page):
    """Reclaim of one isolated page as kswapd does it: shrink_page(), then put the page
    back (dropping the isolation's reference). Returns shrink_page's result."""
    try:
        return (yield from shrink_page(w, page))
    finally:
        put_page(w.mem, page)
