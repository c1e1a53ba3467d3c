"""Merging: cmp_and_merge_page and everything it calls to turn pages into KSM pages."""

import zlib

from ..mm.memory import VM_FAULT_WRITE, follow_page, handle_mm_fault
from ..mm.mm_types import ksm_test_exit
from ..mm.page import KsmMapping, PageAnon, page_stable_node, put_page
from ..mm.pte import Present
from ..mm.rmap import page_address_in_vma
from ..sched.locks import lock_page, trylock_page, unlock_page
from ..sched.plain import kernel_path
from ..sched.points import Point
from .chain import is_page_sharing_candidate, stable_node_dup_del
from .rmap_item import remove_rmap_item_from_tree
from .stable import memcmp_pages, stable_tree_append, stable_tree_insert, stable_tree_search
from .unstable import find_mergeable_vma, unstable_tree_search_insert

__all__ = [
    "cmp_and_merge_page",
    "calc_checksum",
    "try_to_merge_with_ksm_page",
    "try_to_merge_two_pages",
    "try_to_merge_one_page",
    "write_protect_page",
    "replace_page",
    "break_cow",
    "break_ksm",
]

_BETWEEN_TWO = Point(
    "try_to_merge_two_pages:between",
    "locks dropped: the page is a KSM page with no stable node yet",
)
_COND_RESCHED = Point("break_ksm:cond_resched", "cond_resched() before each look at the PTE")


def calc_checksum(page) -> int:
    """calc_checksum(): a checksum of the page (crc32 seeded with 17, as jhash2 was)."""
    return zlib.crc32(page.content, 17)


def write_protect_page(w, vma, page):
    """write_protect_page(): make the PTE read-only and clean; returns the PTE now there
    (the ``orig_pte`` replace_page checks), or None on failure.

    The address comes from the page (page_address_in_vma), which refuses a KSM page and
    an anonymous page of another anon_vma family: a KSM page is never merged into
    another. Only a writable or dirty PTE is checked for unexpected references (a GUP
    pin, I/O): mapcount + our reference + the swap cache must account for every one.
    """
    addr = page_address_in_vma(page, vma)
    if addr < 0:
        return None
    mm = vma.mm
    pte = mm.ptes.get(addr)
    if pte.__class__ is not Present or pte.page is not page:
        return None
    if pte.writable or pte.dirty:
        swapped = 1 if page.swapcache else 0
        if page.mapcount + 1 + swapped != page.refcount:
            return None
        if pte.dirty:
            page.dirty = True
        pte = Present(page, False, False)
        mm.ptes[addr] = pte
    return pte


def replace_page(w, vma, page, kpage, orig_pte) -> bool:
    """replace_page(): point the PTE at ``kpage`` read-only and drop ``page`` (found, as
    in write_protect_page, by page_address_in_vma)."""
    addr = page_address_in_vma(page, vma)
    if addr < 0:
        return False
    mm = vma.mm
    if mm.ptes.get(addr) is not orig_pte:
        return False
    kpage.refcount += 1
    kpage.mapcount += 1
    mm.ptes[addr] = Present(kpage, False, False)
    page.mapcount -= 1
    if page.mapcount == 0 and page.swapcache:
        _try_to_free_swap(w, page)
    put_page(w.mem, page)
    return True


def _try_to_free_swap(w, page):
    slot = w.swap.slots[page.swap_entry]
    if slot.count == 0:
        w.swap.delete_from_swap_cache(w.mem, page)


def try_to_merge_one_page(w, vma, page, kpage) -> int:
    """try_to_merge_one_page(): ``page`` becomes ``kpage`` (or, with no kpage, the page
    itself becomes a KSM page with no stable node yet). 0 on success.

    Simplification: no transparent huge page to split, no VM_LOCKED area to re-mlock
    (the model has neither THP nor mlock)."""
    if page is kpage:  # a forked KSM page merges with itself
        return 0
    if not vma.mergeable or not PageAnon(page):
        return -14
    if not trylock_page(w, page):  # never waits: try again next pass
        return -14
    err = -14
    orig_pte = write_protect_page(w, vma, page)
    if orig_pte is not None:
        if kpage is None:
            page.mapping = KsmMapping(None)  # set_page_stable_node(page, NULL)
            err = 0
        elif memcmp_pages(page, kpage) == 0:
            err = 0 if replace_page(w, vma, page, kpage, orig_pte) else -14
    unlock_page(w, page)
    return err


@kernel_path
def try_to_merge_with_ksm_page(w, item, page, kpage):
    """try_to_merge_with_ksm_page(): merge the item's page under its mm's mmap_sem."""
    mm = item.mm
    yield from mm.mmap_sem.down_read(w, "try_to_merge_with_ksm_page:down_read")
    err = -14
    try:
        if ksm_test_exit(mm):
            return err
        vma = mm.find_vma(item.address)
        if vma is None:
            return err
        err = try_to_merge_one_page(w, vma, page, kpage)
        if err:
            return err
        # the unstable nid shares storage with the stable anon_vma: remove first
        yield from remove_rmap_item_from_tree(w, item)
        item.anon_vma = vma.anon_vma
        return 0
    finally:
        mm.mmap_sem.up_read(w)


@kernel_path
def try_to_merge_two_pages(w, item, page, tree_item, tree_page):
    """try_to_merge_two_pages(): ``page`` becomes a KSM page, then ``tree_page`` is merged
    into it; returns the KSM page or None (undoing the first half)."""
    err = yield from try_to_merge_with_ksm_page(w, item, page, None)
    if not err:
        yield _BETWEEN_TWO
        err = yield from try_to_merge_with_ksm_page(w, tree_item, tree_page, page)
        if err:
            yield from break_cow(w, item)
    return None if err else page


@kernel_path
def break_ksm(w, vma, addr):
    """break_ksm(): write-fault until ``addr`` no longer maps a KSM page.

    3.9 looks with FOLL_MIGRATION (5117b3b835f2), so a page under migration is waited for;
    before the fix a migration entry reads as "nothing here" and the KSM page escapes.
    The loop ends only on VM_FAULT_WRITE: the model's faults never fail (no SIGBUS,
    SIGSEGV or OOM).
    """
    foll_migration = w.fixes.follow_page_migration_wait
    while True:
        yield _COND_RESCHED
        page = yield from follow_page(w, vma, addr, foll_migration)
        if page is None:
            return 0
        if page.mapping.__class__ is KsmMapping:
            ret = yield from handle_mm_fault(w, vma, addr, True)
        else:
            ret = VM_FAULT_WRITE
        put_page(w.mem, page)
        if ret & VM_FAULT_WRITE:
            return 0


@kernel_path
def break_cow(w, item):
    """break_cow(): undo a merge that could not be completed."""
    mm = item.mm
    item.anon_vma = None
    yield from mm.mmap_sem.down_read(w, "break_cow:down_read")
    vma = find_mergeable_vma(mm, item.address)
    if vma is not None:
        yield from break_ksm(w, vma, item.address)
    mm.mmap_sem.up_read(w)


@kernel_path
def cmp_and_merge_page(w, page, item):
    """cmp_and_merge_page(): the heart of ksmd, for one page and its rmap_item (3.9).

    ``checksum_first`` (6.11, d58a361b0350): a page that is not yet a KSM page first
    leaves its tree and has its checksum checked; only a page whose checksum held since
    the last visit is looked up in the stable tree (3.9 searches first, so a new page
    equal to a KSM page merges at once). ``stable_node_chains`` (4.13): a KSM page that
    cannot take another sharer (a fork's) is appended without the max_page_sharing check.
    """
    ksm = w.ksm
    numa_fix = w.fixes.stable_node_removal
    checksum_first = w.changes.checksum_first
    bypass = False
    stable_node = page_stable_node(page)
    if stable_node is not None:
        if (
            numa_fix
            and not stable_node.exiled
            and ksm.get_kpfn_nid(w, stable_node.kpfn) != stable_node.nid
        ):
            # migrated to another node: exile it until ksmd re-places it (4146d2d673e8)
            if stable_node.chain is not None:
                stable_node_dup_del(w, stable_node)  # 2c653d0ee2ae
            else:
                ksm.root_stable_tree[stable_node.nid].erase(stable_node)
            stable_node.exiled = True
            ksm.migrate_nodes.insert(0, stable_node)
        if not stable_node.exiled and item.head is stable_node:
            return
        if w.changes.stable_node_chains and not is_page_sharing_candidate(w, stable_node):
            bypass = True
    elif checksum_first:  # d58a361b0350 (6.11)
        yield from remove_rmap_item_from_tree(w, item)
        checksum = calc_checksum(page)
        if item.oldchecksum != checksum:
            item.oldchecksum = checksum
            return
    kpage = yield from stable_tree_search(w, page)
    if kpage is page and item.head is stable_node:
        put_page(w.mem, kpage)
        return
    yield from remove_rmap_item_from_tree(w, item)
    if kpage is not None:
        err = yield from try_to_merge_with_ksm_page(w, item, page, kpage)
        if not err:
            yield from lock_page(w, kpage, "cmp_and_merge_page:lock_page")
            stable_tree_append(w, item, page_stable_node(kpage), bypass)
            unlock_page(w, kpage)
        put_page(w.mem, kpage)
        return
    if not checksum_first:
        checksum = calc_checksum(page)
        if item.oldchecksum != checksum:
            item.oldchecksum = checksum
            return
    tree_item, tree_page = yield from unstable_tree_search_insert(w, item, page)
    if tree_item is None:
        return
    kpage = yield from try_to_merge_two_pages(w, item, page, tree_item, tree_page)
    put_page(w.mem, tree_page)
    if kpage is None:
        return
    yield from lock_page(w, kpage, "cmp_and_merge_page:lock_page(kpage)")
    node = yield from stable_tree_insert(w, kpage)
    if node is not None:
        stable_tree_append(w, tree_item, node)
        stable_tree_append(w, item, node)
    unlock_page(w, kpage)
    if node is None:
        yield from break_cow(w, tree_item)
        yield from break_cow(w, item)
