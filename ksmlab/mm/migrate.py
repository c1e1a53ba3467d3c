"""Page migration (mm/migrate.c), with migration entries, as in 3.9."""

from ..sched.locks import lock_page, trylock_page, unlock_page
from ..sched.plain import kernel_path
from ..sched.points import Point
from .page import PageKsm, put_page
from .pte import MigrationEntry, Present
from .rmap import rmap_walk

__all__ = ["migrate_pages", "migrate_page", "MIGRATE_PASSES"]

MIGRATE_PASSES = 10

_ALLOC = Point("migrate_pages:alloc_page", "allocating the new page on the target node may sleep")
_UNMAP_NEXT = Point("try_to_unmap:next_vma", "the rmap walk may be preempted between mappings")
_REMAP_NEXT = Point(
    "remove_migration_ptes:next_vma", "the rmap walk may be preempted between mappings"
)
_RETRY = Point("migrate_pages:retry", "EAGAIN: the next pass tries again")


@kernel_path
def migrate_page(w, page, nid):
    """migrate_pages() for one isolated page (the caller holds a reference).

    Returns the new page, or None when every pass failed (EAGAIN).
    The first passes only trylock the page; the later ("forced") passes sleep for it.
    """
    from ..ksm.swap import ksm_migrate_page

    for attempt in range(MIGRATE_PASSES):
        yield _ALLOC
        new = w.mem.alloc_page(nid)
        if not trylock_page(w, page):
            if attempt < 3:
                put_page(w.mem, new)
                yield _RETRY
                continue
            yield from lock_page(w, page, "__unmap_and_move:lock_page")
        # try_to_unmap(TTU_MIGRATION): every mapping becomes a migration entry
        yield from rmap_walk(w, page, _unmap_one(w, page), _UNMAP_NEXT)
        new.lock_owner = w.current  # trylock of a fresh page never fails
        expected = 1 + (1 if page.swapcache else 0)
        if page.mapcount == 0 and page.refcount == expected:
            # move_to_new_page(): the mapping, the swap cache slot, the data
            new.mapping = page.mapping
            new.index = page.index
            new.content = page.content
            new.dirty = page.dirty
            if page.swapcache:
                slot = w.swap.slots[page.swap_entry]
                slot.page = new
                new.swapcache, new.swap_entry = True, page.swap_entry
                page.swapcache, page.swap_entry = False, None
                new.refcount += 1
                page.refcount -= 1
            if PageKsm(page):
                ksm_migrate_page(w, new, page)
            target, ok = new, True
        else:
            target, ok = page, False  # EAGAIN: put the old page back
        yield from _remove_migration_ptes(w, page, target)
        if ok:
            page.mapping = None
        unlock_page(w, new)
        unlock_page(w, page)
        put_page(w.mem, new)  # the allocation's reference
        if ok:
            return new
        yield _RETRY
    return None


def _unmap_one(w, page):
    def try_to_unmap_one(vma, addr):
        pte = vma.mm.ptes.get(addr)
        if pte.__class__ is not Present or pte.page is not page:
            return False
        vma.mm.ptes[addr] = MigrationEntry(page, pte.writable)
        page.dirty = page.dirty or pte.dirty
        page.mapcount -= 1
        put_page(w.mem, page)
        return True
    return try_to_unmap_one


@kernel_path
def _remove_migration_ptes(w, old, new):
    """remove_migration_ptes(): walk ``new``'s reverse map and point migration entries
    for ``old`` at ``new``."""

    def remove_migration_pte(vma, addr):
        pte = vma.mm.ptes.get(addr)
        if pte.__class__ is not MigrationEntry or pte.page is not old:
            return False
        vma.mm.ptes[addr] = Present(new, pte.writable and not PageKsm(new), pte.writable)
        new.mapcount += 1
        new.refcount += 1
        return True

    yield from rmap_walk(w, new, remove_migration_pte, _REMAP_NEXT)


@kernel_path
def migrate_pages(w, page, nid):
    """migrate_pages() of one page already isolated (isolate_lru_page): migrate it, then
    put it back. Returns the new page, or None if it stayed busy through every pass."""
    try:
        return (yield from migrate_page(w, page, nid))
    finally:
        put_page(w.mem, page)
