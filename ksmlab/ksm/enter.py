"""Registering mms with KSM: madvise, fork and exit, and where a new mm_slot goes."""

from ..mm.mman import MADV_MERGEABLE
from ..sched.plain import kernel_path
from ..sched.points import Point
from .state import KSM_RUN_UNMERGE, MmSlot
from .unmerge import unmerge_ksm_pages

__all__ = ["ksm_enter", "ksm_exit", "ksm_fork", "ksm_madvise"]

_ALLOC_SLOT = Point("__ksm_enter:alloc_mm_slot", "allocating the mm_slot may sleep")


@kernel_path
def ksm_enter(w, mm):
    """__ksm_enter(): register ``mm``.

    Before the fix the slot always goes just behind the cursor (so ksmd lets a new mm
    settle for a pass). With cursor_insertion (cbf86cfe04a6) it goes to the tail while
    run=2 is unmerging, so the one-pass unmerge walk cannot miss it.
    """
    ksm = w.ksm
    yield _ALLOC_SLOT
    slot = MmSlot(mm)
    ksm.mm_slots_hash[mm] = slot  # [ksm_mmlist_lock]
    if w.fixes.cursor_insertion and ksm.run & KSM_RUN_UNMERGE:
        ksm.insert_before(slot, ksm.head)
    else:
        ksm.insert_before(slot, ksm.ksm_scan.mm_slot)
    mm.vm_mergeable = True
    return 0


@kernel_path
def ksm_fork(w, child, parent):
    """ksm_fork(): a child of a registered mm is registered too (no rmap_items copied)."""
    if parent.vm_mergeable:
        yield from ksm_enter(w, child)


@kernel_path
def ksm_exit(w, mm):
    """__ksm_exit(): free the slot now if it has no rmap_items and is not under the
    cursor; otherwise move it just after the cursor for ksmd or unmerge to free."""
    ksm = w.ksm
    if not mm.vm_mergeable:
        return
    slot = ksm.mm_slots_hash.get(mm)  # [ksm_mmlist_lock]
    easy = False
    if slot is not None and ksm.ksm_scan.mm_slot is not slot:
        if not slot.rmap_list:
            del ksm.mm_slots_hash[mm]
            ksm.mm_list.remove(slot)
            easy = True
        else:
            ksm.mm_list.remove(slot)
            ksm.insert_after(slot, ksm.ksm_scan.mm_slot)
    if easy:
        mm.vm_mergeable = False
    elif slot is not None:
        # wait for any ksmd or unmerge user of this mm to finish with it
        yield from mm.mmap_sem.down_write(w, "__ksm_exit:down_write")
        mm.mmap_sem.up_write(w)


@kernel_path
def ksm_madvise(w, vma, start, end, advice):
    """ksm_madvise(): MADV_MERGEABLE registers the mm and flags the area;
    MADV_UNMERGEABLE breaks the KSM pages in it and clears the flag (rmap_items stay
    until ksmd next passes)."""
    mm = vma.mm
    if advice == MADV_MERGEABLE:
        if vma.mergeable:
            return 0
        if not mm.vm_mergeable:
            yield from ksm_enter(w, mm)
        vma.mergeable = True
        return 0
    if not vma.mergeable:
        return 0
    if vma.anon_vma is not None:
        err = yield from unmerge_ksm_pages(w, vma, start, end)
        if err:
            return err
    vma.mergeable = False
    return 0
