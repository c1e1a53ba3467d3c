"""Shared helpers for the model tests: page contents, counter reads and state snapshots,
each scenario's shortest breaking run; and for the live tests, the rule for a machine
without a usable KSM."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import pytest

import ksmlab
from ksmlab import MADV_MERGEABLE, PAGE_SIZE, Fixes, Kernel

PS = PAGE_SIZE
RMAP_ITEM_SIZE = 64

#: the files of 3.9's /sys/kernel/mm/ksm (the default profile): counters, knobs
COUNTERS = (
    "pages_shared",
    "pages_sharing",
    "pages_unshared",
    "pages_volatile",
    "full_scans",
)
KNOBS = (
    "run",
    "pages_to_scan",
    "sleep_millisecs",
    "merge_across_nodes",
)
KNOB_DEFAULTS = {
    "run": 0,
    "pages_to_scan": 100,
    "sleep_millisecs": 20,
    "merge_across_nodes": 1,
}
#: files added after 3.9 -> the release (Documentation/admin-guide/mm/ksm.rst and the
#: commits that added them); the 6.18 profile has them, the 3.9 profile none
LATER_FILES = {
    "use_zero_pages": "4.11",
    "max_page_sharing": "4.13",
    "stable_node_chains_prune_millisecs": "4.13",
    "stable_node_chains": "4.13",
    "stable_node_dups": "4.13",
    "general_profit": "6.4",
    "pages_scanned": "6.6",
    "ksm_zero_pages": "6.6",
    "smart_scan": "6.7",
    "pages_skipped": "6.7",
    "advisor_mode": "6.8",
    "advisor_max_cpu": "6.8",
    "advisor_min_pages_to_scan": "6.8",
    "advisor_max_pages_to_scan": "6.8",
    "advisor_target_scan_time": "6.8",
}
#: the defaults of the later knobs on the 6.18 profile (as a 6.18 kernel boots)
LATER_KNOB_DEFAULTS = {
    "max_page_sharing": 256,
    "use_zero_pages": 0,
    "smart_scan": 1,
    "stable_node_chains_prune_millisecs": 2000,
    "advisor_max_cpu": 70,
    "advisor_min_pages_to_scan": 500,
    "advisor_max_pages_to_scan": 30000,
    "advisor_target_scan_time": 200,
}


def page(tag: str | bytes) -> bytes:
    """The full PAGE_SIZE bytes a process reads back after writing ``tag``."""
    data = tag.encode() if isinstance(tag, str) else bytes(tag)
    assert len(data) <= PS
    return data + bytes(PS - len(data))


def counters(k: Kernel) -> dict[str, int]:
    return {name: k.sysfs.read(name) for name in COUNTERS}


_COUNTER_ALIASES = {
    "shared": "pages_shared",
    "sharing": "pages_sharing",
    "unshared": "pages_unshared",
    "volatile": "pages_volatile",
    "full_scans": "full_scans",
    "scanned": "pages_scanned",
}


def assert_counters(k: Kernel, **expected: int) -> None:
    """Exact check of shared/sharing/unshared/volatile (those not given must be 0), plus
    full_scans / scanned when given. ``scanned`` is the sysfs pages_scanned (6.6) where the
    profile has it and the model's count of cmp_and_merge_page calls on 3.9."""
    want = {"pages_shared": 0, "pages_sharing": 0, "pages_unshared": 0, "pages_volatile": 0}
    want.update({_COUNTER_ALIASES[name]: value for name, value in expected.items()})
    got = {
        name: k.ksm.pages_scanned
        if name not in k.sysfs.names() and name == "pages_scanned"
        else k.sysfs.read(name)
        for name in want
    }
    assert got == want


def ksm_stat(p) -> dict[str, int]:
    """The per-process counts the model keeps (what /proc/PID/ksm_stat shows from 6.1 on;
    test_versions checks that the 6.18 file shows the same)."""
    return p.ksm_counts()


def expected_stat(rmap_items: int, merging: int) -> dict[str, int]:
    return {
        "ksm_rmap_items": rmap_items,
        "ksm_merging_pages": merging,
        "ksm_process_profit": merging * PS - rmap_items * RMAP_ITEM_SIZE,
    }


def pte_kind(p, addr: int) -> str | None:
    pte = p.pte(addr)
    return None if pte is None else type(pte).__name__


def is_ksm_at(k: Kernel, p, addr: int) -> bool:
    pg = k.page_at(p, addr)
    assert pg is not None, f"no page present at {p.name}@{addr:#x}"
    return bool(ksmlab.PageKsm(pg))


def make_mergeable(k: Kernel, p, n: int, contents, node: int = 0) -> int:
    """mmap ``n`` pages on ``node``, write ``contents[i]`` (None: leave unwritten), madvise
    MERGEABLE; returns the base address."""
    base = p.mmap(n, node=node)
    for i, c in enumerate(contents):
        if c is not None:
            p.write(base + i * PS, c.encode() if isinstance(c, str) else c)
    p.madvise(base, n, MADV_MERGEABLE)
    return base


def passes(k: Kernel, n: int) -> None:
    for _ in range(n):
        k.ksmd.full_scan()
        k.check()


def fingerprint(k: Kernel):
    """The model's digest of its whole state (``ksm_fingerprint`` or ``fingerprint``)."""
    for name in ("ksm_fingerprint", "fingerprint"):
        fn = getattr(k, name, None)
        if fn is not None:
            return fn()
    return None


def snapshot(k: Kernel, mappings: dict) -> dict:
    """Everything observable without side effects.

    ``mappings`` maps a Process to a list of (base, npages). Present pages are read through
    the process (a read of a present page does not change the model); swapped-out or
    migrating pages are described by their PTE kind only, since reading them would fault
    them back in.
    """
    snap: dict = {
        "sysfs": k.sysfs.snapshot(),
        "dmesg": list(k.dmesg),
        "stable_nodes": sorted((n.kpfn, n.nid, len(n.hlist)) for n in k.ksm.stable_nodes()),
        "migrate_nodes": sorted((n.kpfn, n.nid, len(n.hlist)) for n in k.ksm.migrate_nodes),
    }
    snap["fingerprint"] = fingerprint(k)
    procs = {}
    for p, ranges in mappings.items():
        entry: dict = {"alive": p.alive}
        if p.alive:
            entry["stat"] = p.ksm_counts()
            pages = []
            for base, n in ranges:
                for i in range(n):
                    addr = base + i * PS
                    kind = pte_kind(p, addr)
                    pg = k.page_at(p, addr)
                    if pg is None:
                        pages.append((addr, kind, None))
                    else:
                        pages.append(
                            (addr, kind, (pg.pfn, pg.nid, bool(ksmlab.PageKsm(pg)), p.read(addr)))
                        )
            entry["pages"] = pages
        procs[p.name] = entry
    snap["procs"] = procs
    return snap


@dataclass
class World:
    """A kernel with merged, unshared, swapped-out, never-written pages and an exited process.

    a: 8 pages on node 0: X X X X Y Y U1 U2 (merged: X into one KSM page, Y into another)
    b: 4 pages on node 1: X V W <never written>; page 1 swapped out
    dead: a fork of a that has exited (its rmap_items are still waiting for ksmd)
    """

    k: Kernel
    a: object
    a_base: int
    b: object
    b_base: int
    dead: object

    def mappings(self) -> dict:
        return {self.a: [(self.a_base, 8)], self.b: [(self.b_base, 4)], self.dead: []}

    def snapshot(self) -> dict:
        return snapshot(self.k, self.mappings())


def build_world(fixes=None, version="3.9") -> World:
    k = Kernel(nodes=2, version=version, fixes=fixes)
    a = k.spawn("world-a")
    b = k.spawn("world-b")
    a_base = make_mergeable(k, a, 8, ["X", "X", "X", "X", "Y", "Y", "U1", "U2"], node=0)
    b_base = make_mergeable(k, b, 4, ["X", "V", "W", None], node=1)
    k.sysfs.write("run", 1)
    passes(k, 2)
    dead = a.fork("world-dead")
    passes(k, 1)
    dead.exit()
    k.check()
    assert k.swap_out(b, b_base + PS) == 1
    k.check()
    # Sanity of the starting point: X merged across a and b (merge_across_nodes=1), Y merged.
    assert is_ksm_at(k, a, a_base) and is_ksm_at(k, b, b_base)
    assert pte_kind(b, b_base + PS) == "SwapEntry"
    assert k.page_at(b, b_base + 3 * PS) is None
    return World(k=k, a=a, a_base=a_base, b=b, b_base=b_base, dead=dead)



def buggy(name) -> Fixes:
    """Every fix but the scenario's own (``Fixes.none()`` for one that has none)."""
    scn = ksmlab.scenarios.get(name)
    return Fixes.all().without(scn.fix) if scn.fix else Fixes.none()


@functools.cache
def counterexample(name):
    """The explorer's shortest breaking run of scenario ``name`` under ``buggy(name)``
    (searched once a test process; read it, do not change it)."""
    r = ksmlab.explore(name, fixes=buggy(name))
    assert r.found, r.verdict()
    return r.counterexample


def live_unavailable(reason: str):
    """A live test cannot run here: it skips with the reason, or fails under
    ``KSMLAB_REQUIRE_LIVE=1`` (set by .ci/run)."""
    if os.environ.get("KSMLAB_REQUIRE_LIVE") == "1":
        pytest.fail(f"KSMLAB_REQUIRE_LIVE=1 but the live kernel cannot be used: {reason}")
    pytest.skip(f"live kernel unavailable: {reason}")
