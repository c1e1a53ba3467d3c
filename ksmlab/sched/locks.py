"""Scheduler-aware sleeping locks with the kernel's names.

Acquiring a free lock does not yield; acquiring a held one yields ``Blocked`` until the
holder lets go, so a scheduler can run someone else and say who holds what. Callers
write ``yield from lock.down_read(w, label)`` either way: the free (fast) path takes the
lock at once and returns an empty tuple, so no generator is made for it; only a held lock
returns the generator that waits (the slow path). Spinlock
sections (``ksm_mmlist_lock``, PTE locks) never sleep, so the model runs them atomically
between two yield points and needs no object for them.
"""

from .plain import kernel_path
from .points import Blocked

__all__ = ["Mutex", "RwSem", "PageLock", "lock_page", "trylock_page", "unlock_page"]


class Mutex:
    """A sleeping mutex such as ``ksm_thread_mutex``."""

    __slots__ = ("name", "owner")

    def __init__(self, name: str):
        self.name = name
        self.owner = None

    def available(self) -> bool:
        return self.owner is None

    def lock(self, w, label: str):
        if self.owner is None:  # uncontended: taken at once
            self.owner = w.current
            return ()
        return self._lock_slow(w, label)

    def _lock_slow(self, w, label):
        while self.owner is not None:
            yield Blocked(label, self, f"{self.name} is held by {self.owner}")
        self.owner = w.current

    def unlock(self, w):
        self.owner = None

    def __repr__(self) -> str:
        return self.name


class RwSem:
    """A reader/writer semaphore such as ``mm->mmap_sem``.

    Simplification: a waiting writer does not hold back new readers (the kernel's rwsem
    is writer-fair); no path of the model depends on that.
    """

    __slots__ = ("name", "writer", "readers")

    def __init__(self, name: str):
        self.name = name
        self.writer = None
        self.readers = []

    def available(self) -> bool:
        return self.writer is None

    def down_read(self, w, label: str):
        if self.writer is None:  # uncontended: taken at once
            self.readers.append(w.current)
            return ()
        return self._down_read_slow(w, label)

    def _down_read_slow(self, w, label):
        while self.writer is not None:
            yield Blocked(label, self, f"{self.name} is held for write by {self.writer}")
        self.readers.append(w.current)

    def up_read(self, w):
        self.readers.remove(w.current)

    def down_write(self, w, label: str):
        if self.writer is None and not self.readers:  # uncontended: taken at once
            self.writer = w.current
            return ()
        return self._down_write_slow(w, label)

    def _down_write_slow(self, w, label):
        while self.writer is not None or self.readers:
            yield Blocked(label, _WriteWait(self), f"{self.name} is held by {self.holders()}")
        self.writer = w.current

    def up_write(self, w):
        self.writer = None

    def holders(self) -> str:
        if self.writer is not None:
            return f"{self.writer} (write)"
        return ", ".join(str(r) for r in self.readers) + " (read)"

    def __repr__(self) -> str:
        return self.name


class _WriteWait:
    """What a would-be writer waits for: no writer and no readers."""

    __slots__ = ("sem",)

    def __init__(self, sem):
        self.sem = sem

    def available(self) -> bool:
        return self.sem.writer is None and not self.sem.readers

    def __repr__(self) -> str:
        return f"{self.sem.name} (write)"


class PageLock:
    """The per-page sleeping lock (PG_locked), as a resource a task can wait on."""

    __slots__ = ("page",)

    def __init__(self, page):
        self.page = page

    def available(self) -> bool:
        return self.page.lock_owner is None

    def __repr__(self) -> str:
        return f"page lock of pfn {self.page.pfn:#x}"


@kernel_path
def lock_page(w, page, label: str):
    """lock_page(): sleep until the page lock is free, then take it."""
    if page.lock_owner is None:  # uncontended: taken at once
        page.lock_owner = w.current
        return ()
    return _lock_page_slow(w, page, label)


def _lock_page_slow(w, page, label):
    while page.lock_owner is not None:
        yield Blocked(label, PageLock(page), f"page {page.pfn:#x} is locked by {page.lock_owner}")
    page.lock_owner = w.current


def trylock_page(w, page) -> bool:
    """trylock_page(): take the page lock if free; never waits."""
    if page.lock_owner is not None:
        return False
    page.lock_owner = w.current
    return True


def unlock_page(w, page) -> None:
    page.lock_owner = None
