"""Which sleeping locks are held now, and by whom (read from the world, not tracked)."""

__all__ = ["held_locks"]


def held_locks(w) -> list:
    """Sorted (holder, lock, mode) triples: ``ksm_thread_mutex``, every mm's ``mmap_sem``,
    every root anon_vma lock and every page lock; mode is "" for a mutex or page lock,
    "read" or "write" for a semaphore."""
    out = set()
    mutex = w.ksm.ksm_thread_mutex
    if mutex.owner is not None:
        out.add((str(mutex.owner), mutex.name, ""))
    roots = {}
    for mm in w.mms:
        _sem(out, mm.mmap_sem)
        for vma in mm.vmas:
            if vma.anon_vma is not None:
                root = vma.anon_vma.root
                roots[root.serial] = root
    for serial in sorted(roots):
        _sem(out, roots[serial].lock)
    for pfn in sorted(w.mem.frames):
        owner = w.mem.frames[pfn].lock_owner
        if owner is not None:
            out.add((str(owner), f"page lock {pfn:#x}", ""))
    return sorted(out)


def _sem(out, sem):
    if sem.writer is not None:
        out.add((str(sem.writer), sem.name, "write"))
    for r in sem.readers:
        out.add((str(r), sem.name, "read"))
