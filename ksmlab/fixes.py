"""Fixes: the four 2013 changes, each an independent switch.

``Fixes.all()`` is Linux 3.9; ``Fixes.none()`` is "3.8+NUMA": mmotm of January 2013 with
Petr Holasek's per-node trees (90bd6fd31c80) but before Hugh Dickins' fixes.
"""

from dataclasses import dataclass, fields

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
class Fixes:
    """Which of the four fixes are applied; every field defaults to on (3.9)."""

    cursor_insertion: bool = True
    swapcache_copy_on_fault: bool = True
    follow_page_migration_wait: bool = True
    stable_node_removal: bool = True

    def __post_init__(self):
        for f in fields(self):
            if not isinstance(getattr(self, f.name), bool):
                raise TypeError(
                    f"Fixes.{f.name} must be a bool, not {type(getattr(self, f.name)).__name__}"
                )

    @classmethod
    def all(cls) -> "Fixes":
        """Linux 3.9: every fix applied."""
        return cls()

    @classmethod
    def none(cls) -> "Fixes":
        """3.8+NUMA: none of the fixes applied."""
        return cls(False, False, False, False)

    @classmethod
    def names(cls) -> tuple:
        return tuple(f.name for f in fields(cls))

    def without(self, *names: str) -> "Fixes":
        """These fixes with the named switches turned off."""
        return self._set(names, False)

    def with_(self, *names: str) -> "Fixes":
        """These fixes with the named switches turned on."""
        return self._set(names, True)

    def _set(self, names, value):
        unknown = [n for n in names if n not in self.names()]
        if unknown:
            raise ValueError(f"unknown fix {unknown[0]!r}; known: {', '.join(self.names())}")
        kw = {f: getattr(self, f) for f in self.names()}
        kw.update({n: value for n in names})
        return Fixes(**kw)

    def __str__(self) -> str:
        on = [n for n in self.names() if getattr(self, n)]
        if len(on) == 4:
            return "Fixes.all()"
        if not on:
            return "Fixes.none()"
        return "Fixes(" + ", ".join(f"{n}={getattr(self, n)}" for n in self.names()) + ")"
