"""Unmerging: break every KSM page in an area (MADV_UNMERGEABLE) or everywhere (run=2)."""

from ..mm.mm_types import ksm_test_exit
from ..sched.plain import kernel_path
from ..sched.points import Point
from .merge import break_ksm
from .rmap_item import remove_trailing_rmap_items
from .stable import remove_all_stable_nodes

__all__ = ["unmerge_ksm_pages", "unmerge_and_remove_all_rmap_items"]

_MM_DONE = Point("unmerge_and_remove_all_rmap_items:up_read", "finished an mm, cursor moved on")


@kernel_path
def unmerge_ksm_pages(w, vma, start, end):
    """unmerge_ksm_pages(): break_ksm() on every page of [start, end)."""
    for addr in range(start, end, 4096):
        if ksm_test_exit(vma.mm):
            break
        err = yield from break_ksm(w, vma, addr)
        if err:
            return err
    return 0


@kernel_path
def unmerge_and_remove_all_rmap_items(w):
    """unmerge_and_remove_all_rmap_items(): one walk of the shared cursor from the first
    slot to the last, breaking KSM pages and freeing every rmap_item; then (3.9) remove
    the stable nodes left over, and reset full_scans.

    The walk never revisits: a slot inserted behind the cursor is never seen (bug 1), and
    only present pages are looked at (bugs 2 and 3).
    """
    ksm = w.ksm
    scan = ksm.ksm_scan
    scan.mm_slot = ksm.list_next(ksm.head)  # [ksm_mmlist_lock]
    while scan.mm_slot is not ksm.head:
        slot = scan.mm_slot
        mm = slot.mm
        yield from mm.mmap_sem.down_read(w, "unmerge_and_remove_all_rmap_items:down_read")
        for vma in list(mm.vmas):
            if ksm_test_exit(mm):
                break
            if not vma.mergeable or vma.anon_vma is None:
                continue
            err = yield from unmerge_ksm_pages(w, vma, vma.start, vma.end)
            if err:
                mm.mmap_sem.up_read(w)
                scan.mm_slot = ksm.head
                return err
        yield from remove_trailing_rmap_items(w, slot, 0)
        scan.mm_slot = ksm.list_next(slot)  # [ksm_mmlist_lock]
        if ksm_test_exit(mm):
            del ksm.mm_slots_hash[mm]
            ksm.mm_list.remove(slot)
            mm.vm_mergeable = False
        mm.mmap_sem.up_read(w)
        yield _MM_DONE
    if w.fixes.stable_node_removal:
        yield from remove_all_stable_nodes(w)  # cbf86cfe04a6; errors ignored here
    scan.seqnr = 0
    return 0
