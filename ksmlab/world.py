"""The world: everything the model's kernel knows, as plain data."""

import hashlib

from .changes import Changes
from .fixes import Fixes
from .ksm.state import KsmState
from .mm.page import KsmMapping, PhysMem
from .mm.swap import SwapSpace

__all__ = ["World"]

_NONE = Changes()  # 3.9: no later change in force


class World:
    """Frames, swap, processes' mms, KSM's state, the fixes and post-3.9 changes in force
    and the kernel log.

    ``current`` is the task running now (set by whoever drives the kernel paths).
    """

    def __init__(self, nodes: int, fixes: Fixes, changes: Changes | None = None):
        self.nodes = nodes
        self.fixes = fixes
        self.changes = Changes() if changes is None else changes
        self.mem = PhysMem(nodes)
        self.swap = SwapSpace()
        self.ksm = KsmState(nodes)
        self.mms = []  # every mm ever created, in creation order
        self.dmesg = []
        self.warned = set()
        self.current = None
        # True while a Scheduler interleaves this world's paths: only then can a yield
        # point hand the CPU to another task, so hot loops skip theirs otherwise
        self.interleaved = False
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
        """The whole state as canonical text lines (what ``fingerprint`` digests): every
        field that can influence what happens next, locks and allocators included."""
        mem = self.mem
        yield f"mem next={mem._next} free={mem._free} serial={self._serial} swap={self.swap._next}"
        yield f"log {len(self.dmesg)} {sorted(self.warned)}"
        if self.changes != _NONE:  # a 3.9 world describes itself as it always did
            k = self.ksm
            yield (
                f"changes {self.changes} advisor={k.advisor_mode},{k.advisor_max_cpu},"
                f"{k.advisor_min_pages_to_scan},{k.advisor_max_pages_to_scan},"
                f"{k.advisor_target_scan_time} chains={k.stable_node_chains},"
                f"{k.stable_node_dups} jiffies={k.jiffies}"
            )
        for pfn, p in sorted(mem.frames.items()):
            m = p.mapping
            if m.__class__ is KsmMapping:  # PageKsm(p), page_stable_node(p)
                node = m.stable_node
                kind = f"ksm:{node.serial if node else '-'}"
            elif m is not None:
                kind = f"anon:{m.anon_vma.serial}"
            else:
                kind = "none"
            yield (
                f"page {pfn:#x} n{p.nid} {p.content.hex()} r{p.refcount} m{p.mapcount} {kind} "
                f"i{p.index:#x} s{p.swap_entry} l{p.lock_owner} d{int(p.dirty)}"
            )
        for e in sorted(self.swap.slots):
            s = self.swap.slots[e]
            data = s.content.hex() if s.content is not None else "-"
            yield f"swap {e} c{s.count} {data} p{s.page.pfn if s.page else '-'}"
        for mm in self.mms:
            sem = mm.mmap_sem
            yield (
                f"mm {mm.owner} u{mm.users} m{int(mm.vm_mergeable)} r{mm.ksm_rmap_items} "
                f"k{mm.ksm_merging_pages} b{mm.mmap_base:#x} sem={sem.writer}/{sem.readers}"
            )
            for v in mm.vmas:
                av = v.anon_vma
                locks = ""
                if av is not None:
                    lk = av.root.lock
                    locks = f" root{av.root.serial} lock={lk.writer}/{lk.readers}"
                chain = ",".join(str(a.serial) for a in v.chain)
                yield (
                    f" vma {v.start:#x}-{v.end:#x} m{int(v.mergeable)} n{v.node} "
                    f"av{av.serial if av else 0} chain={chain}{locks}"
                )
            for addr in sorted(mm.ptes):
                yield f" pte {addr:#x} {mm.ptes[addr]!r}"
        yield from self.ksm.describe()
