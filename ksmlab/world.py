"""The world: everything the model's kernel knows, as plain data."""

import hashlib

from .fixes import Fixes
from .ksm.state import KsmState
from .mm.page import PageKsm, PhysMem, page_stable_node
from .mm.swap import SwapSpace

__all__ = ["World"]


class World:
    """Frames, swap, processes' mms, KSM's state, the fixes in force and the kernel log.

    ``current`` is the task running now (set by whoever drives the kernel paths).
    """

    def __init__(self, nodes: int, fixes: Fixes):
        self.nodes = nodes
        self.fixes = fixes
        self.mem = PhysMem(nodes)
        self.swap = SwapSpace()
        self.ksm = KsmState(nodes)
        self.mms = []  # every mm ever created, in creation order
        self.dmesg = []
        self.warned = set()
        self.current = None
        self._serial = 0

    def next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def warn_once(self, site: str, text: str) -> None:
        """WARN_ON_ONCE(): log a warning line the first time ``site`` fires."""
        if site not in self.warned:
            self.warned.add(site)
            self.dmesg.append(f"WARNING: at mm/ksm.c {site}: {text}")

    def fingerprint(self) -> str:
        """A digest of the whole state (deterministic; equal states give equal digests)."""
        h = hashlib.sha256()
        for line in self.describe():
            h.update(line.encode())
            h.update(b"\n")
        return h.hexdigest()[:16]

    def describe(self):
        """The state as canonical text lines (what ``fingerprint`` digests)."""
        for pfn in sorted(self.mem.frames):
            p = self.mem.frames[pfn]
            if PageKsm(p):
                node = page_stable_node(p)
                kind = f"ksm:{node.serial if node else '-'}"
            else:
                kind = "anon"
            yield (
                f"page {pfn:#x} n{p.nid} {p.content.hex()} r{p.refcount} m{p.mapcount} {kind} "
                f"s{p.swap_entry} l{p.lock_owner}"
            )
        for e in sorted(self.swap.slots):
            s = self.swap.slots[e]
            yield f"swap {e} c{s.count} {s.content.hex() if s.content is not None else '-'}"
        for mm in self.mms:
            yield (
                f"mm {mm.owner} u{mm.users} m{int(mm.vm_mergeable)} "
                f"r{mm.ksm_rmap_items} k{mm.ksm_merging_pages}"
            )
            for v in mm.vmas:
                av = v.anon_vma.serial if v.anon_vma else 0
                yield f" vma {v.start:#x}-{v.end:#x} m{int(v.mergeable)} av{av}"
            for addr in sorted(mm.ptes):
                yield f" pte {addr:#x} {mm.ptes[addr]!r}"
        yield from self.ksm.describe()
