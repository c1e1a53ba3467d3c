"""Page-table entry states. PTEs are immutable values: a change installs a new one, so
"the PTE is unchanged" is an identity test, as pte_same() is in the kernel."""

__all__ = ["Present", "SwapEntry", "MigrationEntry"]


class Present:
    """A present mapping of ``page``; KSM pages are always mapped read-only."""

    __slots__ = ("page", "writable", "dirty")

    def __init__(self, page, writable: bool, dirty: bool):
        self.page = page
        self.writable = writable
        self.dirty = dirty

    def __repr__(self) -> str:
        flags = (", w" if self.writable else "") + (", d" if self.dirty else "")
        return f"Present(pfn={self.page.pfn:#x}{flags})"


class SwapEntry:
    """The page was swapped out; its data is in swap slot ``entry``."""

    __slots__ = ("entry",)

    def __init__(self, entry: int):
        self.entry = entry

    def __repr__(self) -> str:
        return f"SwapEntry({self.entry})"


class MigrationEntry:
    """``page`` is being migrated; any access waits until the page is unlocked."""

    __slots__ = ("page", "writable")

    def __init__(self, page, writable: bool):
        self.page = page
        self.writable = writable

    def __repr__(self) -> str:
        return f"MigrationEntry(pfn={self.page.pfn:#x})"
