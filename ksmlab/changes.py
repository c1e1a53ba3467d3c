"""Changes: KSM's behaviour changes since 3.9, each a named switch, and the versions.

A version is a preset of switches: ``Changes.of("3.9")`` has none, ``Changes.of("6.18")``
has every one. Like a 2013 fix, a change can be turned off in a what-if:
``Kernel(version="6.18", changes=Changes.of("6.18").without("checksum_first"))``.
The four 2013 fixes (``ksmlab.Fixes``) are in every version.

>>> [c.name for c in CHANGES]
['stale_node_restart', 'stable_node_chains', 'sysfs_6_18', 'chain_best_dup', 'checksum_first']
>>> Changes.of("6.18").without("checksum_first").checksum_first
False
>>> Changes.of("4.0")
Traceback (most recent call last):
...
ValueError: unknown kernel version '4.0'; known: 3.9, 6.18
"""

from dataclasses import dataclass

from .switches import Switches

__all__ = [
    "Change",
    "CHANGES",
    "Changes",
    "VERSIONS",
    "DEFAULT_VERSION",
    "ADDED_AFTER_3_9",
    "change",
    "has_file",
    "release_added",
]


@dataclass(frozen=True)
class Change:
    """One post-3.9 change: switch name, commit (torvalds/linux), first release, what."""

    name: str
    commit: str
    release: str
    summary: str


#: Every modelled change, oldest first.
CHANGES = (
    Change(
        "stale_node_restart",
        "id not verified",  # the 4.5 merge; see docs/kernel-map.md
        "4.5",
        "a stable-tree search or insert that meets a stale node starts its descent again "
        "instead of giving up (Andrea Arcangeli, 'ksm: don't fail stable tree lookups if "
        "walking over stale stable_nodes')",
    ),
    Change(
        "stable_node_chains",
        "2c653d0ee2ae",
        "4.13",
        "max_page_sharing: a KSM page takes at most that many rmap_items, then a chain of "
        "dups of the same content; no merging into a node without rmap_items "
        "(is_page_sharing_candidate); the stable_node_chains / stable_node_dups counters",
    ),
    Change(
        "sysfs_6_18",
        "66790e9a735b",
        "6.8",
        "the sysfs interface as 6.18 has it: the files added since 3.9 (4.11 to 6.8; "
        "without this switch they do not exist), "
        "the advisor's knobs (6.8, 66790e9a735b 'mm/ksm: add sysfs knobs for advisor') parsed "
        "and validated, pages_to_scan refused while the advisor runs, kstrtobool taking "
        "e/E/d/D, kernfs keeping PAGE_SIZE bytes of a write (3.14), and "
        "/proc/PID/ksm_stat (6.1) with the 6.18 lines",
    ),
    Change(
        "chain_best_dup",
        "a0b856b617c5",
        "6.11",
        "with chains: a lookup takes a chain's best dup even when none can take another "
        "sharer (the caller then checks), collapses a chain left with one dup at any "
        "lookup, and frees a chain with none left (Chengming Zhou, 'mm/ksm: optimize the "
        "chain()/chain_prune() interfaces')",
    ),
    Change(
        "checksum_first",
        "d58a361b0350",
        "6.11",
        "a page that is not yet a KSM page has its checksum checked before the stable-tree "
        "search: a page new to KSM waits one pass even when an equal KSM page exists",
    ),
)

DEFAULT_VERSION = "3.9"

#: The files KSM gained after 3.9: /sys/kernel/mm/ksm/NAME (and /proc/PID/ksm_stat) ->
#: (release that added it, commit in torvalds/linux). A profile has them with the 6.18
#: sysfs (``sysfs_6_18``); the 3.9 profile has none, and opening one fails with ENOENT as
#: a missing sysfs attribute does.
ADDED_AFTER_3_9 = {
    "use_zero_pages": ("4.11", "e86c59b1b12d"),
    "max_page_sharing": ("4.13", "2c653d0ee2ae"),
    "stable_node_chains_prune_millisecs": ("4.13", "2c653d0ee2ae"),
    "stable_node_chains": ("4.13", "2c653d0ee2ae"),
    "stable_node_dups": ("4.13", "2c653d0ee2ae"),
    "/proc/PID/ksm_stat": ("6.1", "cb4df4cae4f2"),
    "general_profit": ("6.4", "d21077fbc2fc"),
    "pages_scanned": ("6.6", "b348b5fe2b5f"),
    "ksm_zero_pages": ("6.6", "e2942062e01d"),
    "smart_scan": ("6.7", "5e924ff54d08"),
    "pages_skipped": ("6.7", "e5a689912689"),
    "advisor_mode": ("6.8", "66790e9a735b"),
    "advisor_max_cpu": ("6.8", "66790e9a735b"),
    "advisor_min_pages_to_scan": ("6.8", "66790e9a735b"),
    "advisor_max_pages_to_scan": ("6.8", "66790e9a735b"),
    "advisor_target_scan_time": ("6.8", "66790e9a735b"),
}


def has_file(changes, name: str) -> bool:
    """Whether a kernel with ``changes`` has the file ``name`` (a /sys/kernel/mm/ksm name
    or "/proc/PID/ksm_stat"): every file of 3.9, and with ``sysfs_6_18`` the later ones
    (:data:`ADDED_AFTER_3_9`)."""
    return name not in ADDED_AFTER_3_9 or changes.sysfs_6_18


def release_added(name: str):
    """The release that added file ``name`` after 3.9, or None for a file 3.9 had."""
    added = ADDED_AFTER_3_9.get(name)
    return None if added is None else added[0]


@dataclass(frozen=True)
class Changes(Switches):
    """Which post-3.9 changes are in force; every field defaults to off (3.9)."""

    _kind = "change"

    stale_node_restart: bool = False
    stable_node_chains: bool = False
    sysfs_6_18: bool = False
    chain_best_dup: bool = False
    checksum_first: bool = False

    @classmethod
    def of(cls, version: str) -> "Changes":
        """The preset of ``version`` (one of :data:`VERSIONS`)."""
        if not isinstance(version, str):
            raise TypeError(f"version must be a str, not {type(version).__name__}")
        if version not in VERSIONS:
            raise ValueError(
                f"unknown kernel version {version!r}; known: {', '.join(VERSIONS)}"
            )
        return cls(**{n: True for n in VERSIONS[version]})

    def version(self):
        """The version whose preset this is, or None for a what-if mixture."""
        for v in VERSIONS:
            if self == Changes.of(v):
                return v
        return None

    def __str__(self) -> str:
        v = self.version()
        if v is not None:
            return f"Changes.of({v!r})"
        off = [n for n in self.names() if not getattr(self, n)]
        return "Changes.of('6.18').without(" + ", ".join(repr(n) for n in off) + ")"


#: version -> the switches it has (each version also has the four 2013 fixes)
VERSIONS = {
    "3.9": (),
    "6.18": tuple(c.name for c in CHANGES),
}


def change(name: str) -> Change:
    """The :class:`Change` called ``name``."""
    for c in CHANGES:
        if c.name == name:
            return c
    raise ValueError(f"unknown change {name!r}; known: {', '.join(Changes.names())}")
