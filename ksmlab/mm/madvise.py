"""madvise(MADV_MERGEABLE / MADV_UNMERGEABLE) over a range of VMAs."""

from ..ksm.enter import ksm_madvise
from ..sched.plain import kernel_path
from .mm_types import split_vma
from .mman import MADV_MERGEABLE, MADV_UNMERGEABLE

__all__ = ["MADV_MERGEABLE", "MADV_UNMERGEABLE", "madvise_vmas"]


@kernel_path
def madvise_vmas(w, mm, start, end, advice):
    """madvise_behavior() on every VMA in [start, end), splitting at the edges, under
    mmap_sem for write. The caller has checked the whole range is mapped.
    Simplification: adjacent VMAs with equal flags are not merged back (vma_merge)."""
    yield from mm.mmap_sem.down_write(w, "madvise:down_write")
    try:
        for vma in list(mm.vmas):
            if vma.end <= start or vma.start >= end:
                continue
            want = advice == MADV_MERGEABLE
            if vma.mergeable == want:
                continue
            if vma.start < start:
                vma = yield from split_vma(w, vma, start)
            if vma.end > end:
                yield from split_vma(w, vma, end)
            err = yield from ksm_madvise(w, vma, vma.start, vma.end, advice)
            if err:
                return err
        return 0
    finally:
        mm.mmap_sem.up_write(w)
