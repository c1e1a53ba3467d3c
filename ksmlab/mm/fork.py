"""fork (kernel/fork.c dup_mmap) and exit (mmput, exit_mmap)."""

from ..sched.plain import kernel_path
from ..sched.points import Point
from .mm_types import AnonVma, MmStruct, Vma
from .page import put_page
from .pte import MigrationEntry, Present, SwapEntry

__all__ = ["dup_mmap", "mmput", "PTRS_PER_PTE"]

PTRS_PER_PTE = 512  # PTEs per page-table page: fork and exit yield between tables

_COPY_NEXT = Point("copy_page_range:next_pte_table", "fork may be preempted between page tables")
_ZAP_NEXT = Point("zap_pte_range:next_pte_table", "exit may be preempted between page tables")
_USERS_ZERO = Point("mmput:users_zero", "the last user dropped the mm; ksm_exit() comes next")


@kernel_path
def dup_mmap(w, parent, child_name):
    """dup_mmap(): copy ``parent`` into a new mm; returns the child mm.

    Both mms' mmap_sem are held for write for the whole copy; ksm_fork() registers the
    child with KSM early (where the 2013 cursor-insertion fix matters).
    """
    from ..ksm.enter import ksm_fork

    yield from parent.mmap_sem.down_write(w, "dup_mmap:down_write(oldmm)")
    child = MmStruct(child_name, parent.mmap_base)
    child.mmap_sem.writer = w.current  # down_write of the new mm: nobody can contend
    w.mms.append(child)
    try:
        yield from ksm_fork(w, child, parent)
        for pv in parent.vmas:
            cv = Vma(child, pv.start, pv.end, pv.node)
            cv.mergeable = pv.mergeable
            child.vmas.append(cv)
            if pv.anon_vma is not None:  # anon_vma_fork()
                av = AnonVma(w.next_serial(), root=pv.anon_vma.root)
                cv.anon_vma = av
                cv.chain = list(pv.chain) + [av]
                for a in cv.chain:
                    a.vmas.append(cv)
            yield from _copy_ptes(w, parent, child, pv)
    finally:
        child.mmap_sem.writer = None
        parent.mmap_sem.up_write(w)
    return child


@kernel_path
def _copy_ptes(w, parent, child, vma):
    """copy_one_pte() over the VMA: private pages become COW (read-only in both)."""
    addrs = sorted(a for a in parent.ptes if vma.start <= a < vma.end)
    for i, addr in enumerate(addrs):
        if i and i % PTRS_PER_PTE == 0:
            yield _COPY_NEXT
        pte = parent.ptes[addr]
        cls = pte.__class__
        if cls is Present:
            page = pte.page
            if pte.writable:
                pte = Present(page, False, pte.dirty)
                parent.ptes[addr] = pte
            child.ptes[addr] = Present(page, False, pte.dirty)
            page.mapcount += 1
            page.refcount += 1
        elif cls is SwapEntry:
            w.swap.swap_duplicate(pte.entry)
            child.ptes[addr] = pte
        elif cls is MigrationEntry:
            if pte.writable:
                pte = MigrationEntry(pte.page, False)
                parent.ptes[addr] = pte
            child.ptes[addr] = pte


@kernel_path
def mmput(w, mm):
    """mmput() of the last user: ksm_exit() first, then exit_mmap() tears the tables down."""
    from ..ksm.enter import ksm_exit

    mm.users = 0
    yield _USERS_ZERO
    yield from ksm_exit(w, mm)
    yield from exit_mmap(w, mm)


@kernel_path
def exit_mmap(w, mm):
    """exit_mmap(): zap every PTE and unlink every VMA."""
    for vma in mm.vmas:
        addrs = sorted(a for a in mm.ptes if vma.start <= a < vma.end)
        for i, addr in enumerate(addrs):
            if i and i % PTRS_PER_PTE == 0:
                yield _ZAP_NEXT
            pte = mm.ptes.pop(addr)
            cls = pte.__class__
            if cls is Present:
                pte.page.mapcount -= 1
                put_page(w.mem, pte.page)
            elif cls is SwapEntry:
                w.swap.free_swap_and_cache(w.mem, pte.entry)
            # a migration entry holds no reference of its own
        if vma.anon_vma is not None:                # unlink_anon_vmas()
            root = vma.anon_vma.root
            yield from root.lock.down_write(w, "unlink_anon_vmas:anon_vma_lock_write")
            for av in vma.chain:
                av.vmas.remove(vma)
            root.lock.up_write(w)
    mm.vmas = []
