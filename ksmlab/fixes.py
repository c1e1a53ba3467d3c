"""Fixes: the four 2013 changes, each an independent switch.

``Fixes.all()`` is Linux 3.9; ``Fixes.none()`` is "3.8+NUMA": mmotm of January 2013 with
Petr Holasek's per-node trees (90bd6fd31c80) but before Hugh Dickins' fixes.
"""

from dataclasses import dataclass

from .switches import Switches

__all__ = ["Fixes", "FIX_COMMITS"]

#: Where each switch comes from (commit ids in torvalds/linux).
FIX_COMMITS = {
    "cursor_insertion": "cbf86cfe04a6 (ksm: remove old stable nodes more thoroughly, cause 2)",
    "swapcache_copy_on_fault": "cbf86cfe04a6 (ksm: remove old stable nodes more thoroughly, "
    "cause 3)",
    "follow_page_migration_wait": "5117b3b835f2 (mm,ksm: FOLL_MIGRATION do migration_entry_wait)",
    "stable_node_removal": "cbf86cfe04a6 cause 1 + 4146d2d673e8 (ksm: make !merge_across_nodes "
    "migration safe)",
}


@dataclass(frozen=True)
class Fixes(Switches):
    """Which of the four fixes are applied; every field defaults to on (3.9)."""

    _kind = "fix"

    cursor_insertion: bool = True
    swapcache_copy_on_fault: bool = True
    follow_page_migration_wait: bool = True
    stable_node_removal: bool = True

    @classmethod
    def all(cls) -> "Fixes":
        """Linux 3.9: every fix applied."""
        return cls()

    @classmethod
    def none(cls) -> "Fixes":
        """3.8+NUMA: none of the fixes applied."""
        return cls(False, False, False, False)

    def __str__(self) -> str:
        on = [n for n in self.names() if getattr(self, n)]
        if len(on) == 4:
            return "Fixes.all()"
        if not on:
            return "Fixes.none()"
        return "Fixes(" + ", ".join(f"{n}={getattr(self, n)}" for n in self.names()) + ")"
