"""``struct mm_struct``, ``struct vm_area_struct`` and ``struct anon_vma``."""

from ..sched.locks import RwSem
from ..sched.plain import kernel_path
from .page import PAGE_SIZE

__all__ = ["MmStruct", "Vma", "AnonVma", "anon_vma_prepare", "split_vma", "ksm_test_exit"]


class AnonVma:
    """``struct anon_vma``: finds every VMA that may map an anonymous page (its ``vmas``
    are the VMAs chained to it through anon_vma_chain: a list in chaining order, where
    the kernel keeps an interval tree)."""

    __slots__ = ("root", "vmas", "serial", "lock")

    def __init__(self, serial: int, root=None):
        self.serial = serial
        self.root = root if root is not None else self
        self.vmas = []
        self.lock = RwSem(f"anon_vma lock {serial}")     # used on the root only


class Vma:
    """A private anonymous VMA. ``node`` is its allocation policy (as set by mbind)."""

    __slots__ = ("mm", "start", "end", "mergeable", "anon_vma", "chain", "node")

    def __init__(self, mm, start: int, end: int, node: int):
        self.mm = mm
        self.start = start
        self.end = end
        self.mergeable = False
        self.anon_vma = None
        self.chain = []
        self.node = node

    def __repr__(self) -> str:
        return f"<Vma {self.start:#x}-{self.end:#x}{' mergeable' if self.mergeable else ''}>"


class MmStruct:
    """``struct mm_struct``: VMAs, page table, ``mmap_sem`` and the KSM fields."""

    __slots__ = (
        "owner",
        "users",
        "mmap_sem",
        "vmas",
        "ptes",
        "vm_mergeable",
        "mmap_base",
        "ksm_rmap_items",
        "ksm_merging_pages",
    )

    def __init__(self, owner: str, mmap_base: int):
        self.owner = owner
        self.users = 1
        self.mmap_sem = RwSem(f"mmap_sem of {owner}")
        self.vmas = []
        self.ptes = {}
        self.vm_mergeable = False  # MMF_VM_MERGEABLE
        self.mmap_base = mmap_base
        self.ksm_rmap_items = 0
        self.ksm_merging_pages = 0

    def find_vma(self, addr: int):
        """The VMA containing ``addr``, or None (the kernel's find_vma plus a range check)."""
        for vma in self.vmas:
            if vma.start <= addr < vma.end:
                return vma
        return None

    def vmas_from(self, addr: int):
        """VMAs ending above ``addr``, in address order (the kernel's find_vma walk)."""
        return [v for v in self.vmas if v.end > addr]

    def __repr__(self) -> str:
        return f"<mm of {self.owner}>"


def ksm_test_exit(mm) -> bool:
    """ksm_test_exit(): the mm's last user has gone."""
    return mm.users == 0


def anon_vma_prepare(w, vma) -> AnonVma:
    """anon_vma_prepare(): give the VMA an anon_vma at its first anonymous fault."""
    if vma.anon_vma is None:
        av = AnonVma(w.next_serial())
        vma.anon_vma = av
        vma.chain.append(av)
        av.vmas.append(vma)
    return vma.anon_vma


@kernel_path
def split_vma(w, vma, addr: int):
    """split_vma(): cut ``vma`` at ``addr``; return the upper part (already in the mm).
    The anon_vma chains change under the root anon_vma lock, as in vma_adjust()."""
    assert vma.start < addr < vma.end and addr % PAGE_SIZE == 0
    upper = Vma(vma.mm, addr, vma.end, vma.node)
    upper.mergeable = vma.mergeable
    upper.anon_vma = vma.anon_vma
    upper.chain = list(vma.chain)
    lock = vma.anon_vma.root.lock if vma.anon_vma is not None else None
    if lock is not None:
        yield from lock.down_write(w, "vma_adjust:anon_vma_lock_write")
    for av in upper.chain:
        av.vmas.append(upper)
    vma.end = addr
    vmas = vma.mm.vmas
    vmas.insert(vmas.index(vma) + 1, upper)
    if lock is not None:
        lock.up_write(w)
    return upper
