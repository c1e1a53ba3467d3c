"""Page faults and page-table lookups (mm/memory.c): follow_page, COW, swap-in.

All fault paths run with the mm's ``mmap_sem`` held for read by their caller.
"""

from ..sched.locks import PageLock, lock_page, trylock_page, unlock_page
from ..sched.plain import kernel_path
from ..sched.points import Blocked, Point
from .mm_types import anon_vma_prepare
from .page import AnonMapping, PageAnon, PageKsm, get_page, put_page
from .pte import MigrationEntry, Present, SwapEntry

__all__ = [
    "user_access",
    "follow_page",
    "follow_page_get",
    "handle_mm_fault",
    "migration_entry_wait",
    "VM_FAULT_WRITE",
    "VM_FAULT_RETRY",
]

VM_FAULT_WRITE = 1  # the fault broke COW: the PTE now maps a private writable page
VM_FAULT_RETRY = 2  # the PTE changed under us; the caller looks again

_WP_ALLOC = Point("do_wp_page:alloc_page", "allocating the private copy may sleep")
_ANON_ALLOC = Point("do_anonymous_page:alloc_page", "allocating a zeroed page may sleep")
_SWAP_READ = Point("do_swap_page:swapin_readahead", "reading the page back from swap sleeps")


@kernel_path
def follow_page(w, vma, addr, foll_migration=False):
    """follow_page(FOLL_GET | FOLL_MIGRATION if ``foll_migration``): the present page at
    ``addr`` with a reference taken, else None.

    With FOLL_MIGRATION (3.9: 5117b3b835f2) a migration entry is waited out and the
    lookup repeated; without it a migration entry reads as "nothing". Callers that never
    pass the flag (ksmd's scan) use ``follow_page_get``, which cannot sleep.
    """
    while True:
        page = follow_page_get(vma, addr)
        if page is not None or not foll_migration:
            return page
        pte = vma.mm.ptes.get(addr)
        if pte.__class__ is not MigrationEntry:
            return None
        yield from migration_entry_wait(w, vma.mm, addr, pte)


def follow_page_get(vma, addr):
    """follow_page(FOLL_GET) without FOLL_MIGRATION: the present page, referenced, or None.
    It never sleeps, so it is a plain function (ksmd calls it once per address)."""
    pte = vma.mm.ptes.get(addr)
    if pte.__class__ is Present:
        page = pte.page
        page.refcount += 1
        return page
    return None


@kernel_path
def migration_entry_wait(w, mm, addr, pte):
    """migration_entry_wait(): hold the old page and sleep until migration unlocks it."""
    page = pte.page
    get_page(page)
    while page.lock_owner is not None:
        yield Blocked(
            "migration_entry_wait:wait_on_page_locked",
            PageLock(page),
            f"page {page.pfn:#x} is under migration by {page.lock_owner}",
        )
    put_page(w.mem, page)


@kernel_path
def handle_mm_fault(w, vma, addr, write):
    """handle_mm_fault(): resolve one fault at ``addr``; returns VM_FAULT_* flags.

    Simplification: a read of an untouched address maps the shared zero page in the
    kernel; the model maps nothing and the read sees zeros."""
    mm = vma.mm
    pte = mm.ptes.get(addr)
    if pte is None:
        if not write:
            return 0  # read of an untouched page: the zero page, not modelled as a frame
        return (yield from do_anonymous_page(w, vma, addr))
    cls = pte.__class__
    if cls is Present:
        if write and not pte.writable:
            return (yield from do_wp_page(w, vma, addr, pte))
        return 0
    if cls is SwapEntry:
        return (yield from do_swap_page(w, vma, addr, pte, write))
    yield from migration_entry_wait(w, mm, addr, pte)
    return VM_FAULT_RETRY


@kernel_path
def do_anonymous_page(w, vma, addr):
    """do_anonymous_page(): first write to an untouched address maps a fresh zeroed page."""
    anon_vma = anon_vma_prepare(w, vma)
    yield _ANON_ALLOC
    mm = vma.mm
    if mm.ptes.get(addr) is not None:
        return VM_FAULT_RETRY
    page = w.mem.alloc_page(vma.node)
    page.mapping = AnonMapping(anon_vma)
    page.index = addr
    page.mapcount = 1
    mm.ptes[addr] = Present(page, True, True)
    return VM_FAULT_WRITE


@kernel_path
def do_wp_page(w, vma, addr, pte):
    """do_wp_page(): write to a read-only page: reuse it if exclusive, else copy it.

    An anonymous page is locked for reuse_swap_page(). If reclaim or migration holds its
    lock, the fault sleeps for it (3.9), then re-checks the PTE: changed meanwhile, it
    backs out and the access faults again. A KSM page is never reused in place (3.9),
    whoever maps it, and is copied without taking its lock.
    Simplification: a reused page keeps its anon_vma (page_move_anon_rmap() is not
    modelled; the anon_vma root, which every check here compares, is the same).
    """
    old = pte.page
    mm = vma.mm
    if PageAnon(old) and not PageKsm(old):
        if not trylock_page(w, old):
            get_page(old)
            yield from lock_page(w, old, "do_wp_page:lock_page")
            if mm.ptes.get(addr) is not pte:
                unlock_page(w, old)
                put_page(w.mem, old)
                return VM_FAULT_RETRY
            put_page(w.mem, old)
        if _reuse_swap_page(w, old):
            unlock_page(w, old)
            mm.ptes[addr] = Present(old, True, True)
            return VM_FAULT_WRITE
        unlock_page(w, old)
    anon_vma = anon_vma_prepare(w, vma)
    get_page(old)
    yield _WP_ALLOC
    try:
        if mm.ptes.get(addr) is not pte:
            return VM_FAULT_RETRY
        new = w.mem.alloc_page(vma.node, old.content)
        new.mapping = AnonMapping(anon_vma)
        new.index = addr
        new.mapcount = 1
        mm.ptes[addr] = Present(new, True, True)
        page_remove_rmap(old)
        put_page(w.mem, old)  # the old mapping's reference
        return VM_FAULT_WRITE
    finally:
        put_page(w.mem, old)


def _reuse_swap_page(w, page) -> bool:
    """reuse_swap_page() (caller holds the page lock): may ``page`` be written in place?
    Only if this is its one mapping and no swap entry still refers to it; it then leaves
    the swap cache."""
    count = page.mapcount
    if count <= 1 and page.swapcache:
        count += w.swap.slots[page.swap_entry].count
        if count == 1:
            w.swap.delete_from_swap_cache(w.mem, page)
            page.dirty = True
    return count <= 1


def page_remove_rmap(page) -> None:
    page.mapcount -= 1


@kernel_path
def do_swap_page(w, vma, addr, pte, write):
    """do_swap_page(): fault a swapped-out page back in, through the swap cache.

    Which page gets mapped is ksm_might_need_to_copy()'s decision (fix 2 lives there).
    """
    from ..ksm.swap import ksm_might_need_to_copy

    mm = vma.mm
    entry = pte.entry
    page = w.swap.lookup_swap_cache(entry)
    if page is None:
        yield _SWAP_READ
        if mm.ptes.get(addr) is not pte:
            return VM_FAULT_RETRY
        page = w.swap.lookup_swap_cache(entry)
        if page is None:
            slot = w.swap.slots[entry]
            page = w.mem.alloc_page(vma.node, slot.content)
            # page_add_anon_rmap() of a page that may be shared: the root anon_vma,
            # so the reverse map reaches every process of the fork family
            page.mapping = AnonMapping(anon_vma_prepare(w, vma).root)
            page.index = addr
            slot.page = page
            page.swapcache = True
            page.swap_entry = entry  # the allocation's reference becomes the cache's
    get_page(page)
    yield from lock_page(w, page, "do_swap_page:lock_page")
    if not page.swapcache or page.swap_entry != entry or mm.ptes.get(addr) is not pte:
        unlock_page(w, page)
        put_page(w.mem, page)
        return VM_FAULT_RETRY
    new = yield from ksm_might_need_to_copy(w, page, vma, addr)
    if mm.ptes.get(addr) is not pte:  # PTE lock: recheck
        if new is not page:
            put_page(w.mem, new)
        unlock_page(w, page)
        put_page(w.mem, page)
        return VM_FAULT_RETRY
    ret = 0
    exclusive = False
    if new is page:
        page.mapcount += 1  # our reference becomes the mapping's
        w.swap.swap_free(entry)
        slot = w.swap.slots.get(entry)
        if write and not PageKsm(page) and page.mapcount == 1 and slot.count == 0:
            w.swap.delete_from_swap_cache(w.mem, page)  # reuse_swap_page()
            exclusive = True
            ret = VM_FAULT_WRITE
        mm.ptes[addr] = Present(page, exclusive, exclusive)
        unlock_page(w, page)
    else:
        new.mapcount = 1
        mm.ptes[addr] = Present(new, write, write)
        ret = VM_FAULT_WRITE if write else 0
        w.swap.swap_free(entry)
        unlock_page(w, page)
        put_page(w.mem, page)
    return ret


@kernel_path
def user_access(w, vma, addr, content):
    """A user load (``content`` None) or whole-page store at ``addr``: fault under
    mmap_sem for read until the PTE allows it. Returns the page's bytes for a load.

    Simplification: accesses are whole pages; there is no TLB, so a PTE change is seen
    at once (the kernel's TLB flushes are not modelled)."""
    mm = vma.mm
    write = content is not None
    yield from mm.mmap_sem.down_read(w, "do_page_fault:down_read")
    try:
        while True:
            pte = mm.ptes.get(addr)
            if pte is None and not write:
                return b""
            if pte.__class__ is Present and (pte.writable or not write):
                if write:
                    pte.page.content = content
                    if not pte.dirty:
                        mm.ptes[addr] = Present(pte.page, True, True)
                    return None
                return pte.page.content
            yield from handle_mm_fault(w, vma, addr, write)
    finally:
        mm.mmap_sem.up_read(w)
