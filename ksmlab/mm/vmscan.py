"""Reclaim (mm/vmscan.c): push an anonymous page out to swap, and free swap-cache pages."""

from ..sched.locks import trylock_page, unlock_page
from ..sched.points import Point
from .page import put_page
from .pte import Present, SwapEntry
from .rmap import rmap_walk

__all__ = ["reclaim_page", "shrink_page", "shrink_swapcache"]

_UNMAP_NEXT = Point("try_to_unmap:next_vma", "the rmap walk may be preempted between mappings")


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
        done = 0
        for vma, addr in rmap_walk(page):
            pte = vma.mm.ptes.get(addr)
            if pte.__class__ is not Present or pte.page is not page:
                continue
            page.dirty = page.dirty or pte.dirty
            vma.mm.ptes[addr] = SwapEntry(entry)
            w.swap.swap_duplicate(entry)
            page.mapcount -= 1
            put_page(w.mem, page)
            done += 1
            yield _UNMAP_NEXT
        return done
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


def reclaim_page(w, page):
    """Reclaim of one page as kswapd does it: isolate it from the LRU (a reference),
    shrink_page(), put it back. Returns shrink_page's result."""
    page.refcount += 1
    try:
        return (yield from shrink_page(w, page))
    finally:
        put_page(w.mem, page)
