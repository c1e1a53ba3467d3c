"""The friendly facade: a Kernel with processes, sysfs and ksmd, each call running the
model's kernel paths to completion: their plain forms, compiled from the very source of the
generators the scheduler interleaves (``ksmlab.sched.plain``), unless one interleaves."""

import errno

from .changes import DEFAULT_VERSION, Changes, has_file, release_added
from .check.invariants import first_violation
from .errors import KernelError, KernelOops
from .fixes import Fixes
from .ksm.scan import ksm_scan_thread, ksmd_batch
from .ksm.state import KSM_RUN_MERGE, RMAP_ITEM_SIZE
from .ksm.sysfs import counters, knobs, sysfs_read, sysfs_write_file
from .mm.fork import dup_mmap, mmput
from .mm.madvise import MADV_MERGEABLE, MADV_UNMERGEABLE, madvise_vmas
from .mm.memory import user_access
from .mm.migrate import migrate_pages
from .mm.mm_types import MmStruct, Vma
from .mm.page import PAGE_SIZE, page_content
from .mm.pte import Present, SwapEntry
from .mm.vmscan import isolate_lru_page, reclaim_page, shrink_swapcache
from .sched.run import run_to_completion
from .world import World

__all__ = ["Kernel", "Process", "MAX_MAP_PAGES"]

MAX_MAP_PAGES = 1 << 20  # a larger mmap fails with ENOMEM
MMAP_BASE = 0x7F0000000000
MMAP_GAP = 1 << 32  # room between mappings, so they never touch


def _int(value, name):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def _run(w, name, path, *args):
    """Run a kernel path; an oops is logged in dmesg before it propagates."""
    try:
        return run_to_completion(w, name, path, *args)
    except KernelOops as oops:
        w.dmesg.append(str(oops))
        raise


class Process:
    """A user process with its own mm (from ``Kernel.spawn`` or ``fork``)."""

    def __init__(self, kernel, name, pid, mm):
        self.kernel = kernel
        self.name = name
        self.pid = pid
        self.mm = mm

    def __repr__(self) -> str:
        return f"<Process {self.name} pid={self.pid}{'' if self.alive else ' exited'}>"

    @property
    def alive(self) -> bool:
        return self.mm.users > 0

    def _live(self, what):
        if not self.alive:
            raise KernelError(errno.ESRCH, f"{what}: process {self.name} has exited")

    def _page_addr(self, addr, what):
        _int(addr, "addr")
        self._live(what)
        if addr % PAGE_SIZE:
            raise ValueError(
                f"addr {addr:#x} is not page-aligned (the model reads and writes whole pages)"
            )
        vma = self.mm.find_vma(addr)
        if vma is None:
            raise KernelError(errno.EFAULT, f"{what}: {addr:#x} is not mapped in {self.name}")
        return vma

    # -- system calls --------------------------------------------------------------
    def mmap(self, npages, node=0) -> int:
        """mmap(MAP_PRIVATE|MAP_ANONYMOUS) of ``npages`` pages, allocated on ``node``;
        returns the start address. Pages are faulted in by the first write."""
        _int(npages, "npages")
        _int(node, "node")
        self._live("mmap")
        if npages <= 0:
            raise KernelError(errno.EINVAL, f"mmap: length of {npages} pages")
        if npages > MAX_MAP_PAGES:
            raise KernelError(
                errno.ENOMEM, f"mmap: {npages} pages is more than the model's {MAX_MAP_PAGES}"
            )
        if not 0 <= node < self.kernel.world.nodes:
            raise KernelError(
                errno.EINVAL, f"mmap: no NUMA node {node} (nodes 0..{self.kernel.world.nodes - 1})"
            )
        mm = self.mm
        start = mm.mmap_base
        mm.mmap_base += npages * PAGE_SIZE + MMAP_GAP
        mm.vmas.append(Vma(mm, start, start + npages * PAGE_SIZE, node))
        mm.vmas.sort(key=lambda v: v.start)
        return start

    def write(self, addr, data) -> None:
        """Store ``data`` (up to a page, zero-padded) as the whole page at ``addr``."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        if len(data) > PAGE_SIZE:
            raise ValueError(f"data is {len(data)} bytes, more than a page ({PAGE_SIZE})")
        vma = self._page_addr(addr, "write")
        content = page_content(data)
        w = self.kernel.world
        _run(w, f"{self.name}:write", user_access, w, vma, addr, content)

    def read(self, addr) -> bytes:
        """The page at ``addr`` (PAGE_SIZE bytes); faults a swapped-out page back in."""
        vma = self._page_addr(addr, "read")
        w = self.kernel.world
        content = _run(w, f"{self.name}:read", user_access, w, vma, addr, None)
        return content.ljust(PAGE_SIZE, b"\0")

    def madvise(self, start, npages, advice) -> None:
        """madvise(start, npages * PAGE_SIZE, advice) with MADV_(UN)MERGEABLE.
        Simplification: an unmapped hole fails with ENOMEM *before* anything changes."""
        _int(start, "start")
        _int(npages, "npages")
        _int(advice, "advice")
        self._live("madvise")
        if start % PAGE_SIZE:
            raise KernelError(errno.EINVAL, f"madvise: start {start:#x} is not page-aligned")
        if npages < 0:
            raise KernelError(errno.EINVAL, f"madvise: negative length {npages}")
        if advice not in (MADV_MERGEABLE, MADV_UNMERGEABLE):
            raise KernelError(
                errno.EINVAL,
                f"madvise: advice {advice} is not modelled "
                "(MADV_MERGEABLE=12, MADV_UNMERGEABLE=13)",
            )
        end = start + npages * PAGE_SIZE
        for addr in range(start, end, PAGE_SIZE):
            if self.mm.find_vma(addr) is None:
                raise KernelError(errno.ENOMEM, f"madvise: {addr:#x} is not mapped")
        if npages == 0:
            return
        w = self.kernel.world
        err = _run(w, f"{self.name}:madvise", madvise_vmas, w, self.mm, start, end, advice)
        if err:
            raise KernelError(-err, "madvise failed")

    def fork(self, name) -> "Process":
        """fork(): a child with a copy of this address space (COW), registered with KSM
        if this mm is."""
        self.kernel._check_name(name)
        self._live("fork")
        w = self.kernel.world
        mm = _run(w, f"{self.name}:fork", dup_mmap, w, self.mm, name)
        return self.kernel._adopt(name, mm)

    def exit(self) -> None:
        """exit(): the last user of the mm goes; KSM lets go of it, then the pages go."""
        self._live("exit")
        w = self.kernel.world
        _run(w, f"{self.name}:exit", mmput, w, self.mm)

    # -- views -----------------------------------------------------------------------
    def pte(self, addr):
        """The PTE at ``addr``: None, Present, SwapEntry or MigrationEntry."""
        return self.mm.ptes.get(_int(addr, "addr"))

    def ksm_counts(self) -> dict:
        """What KSM holds for this process: its rmap_items, the KSM pages it maps and the
        profit, counted by the model in every profile (3.9 kept no such count per mm;
        6.1 on shows them in /proc/PID/ksm_stat)."""
        mm = self.mm
        profit = mm.ksm_merging_pages * PAGE_SIZE - mm.ksm_rmap_items * RMAP_ITEM_SIZE
        return {
            "ksm_rmap_items": mm.ksm_rmap_items,
            "ksm_merging_pages": mm.ksm_merging_pages,
            "ksm_process_profit": profit,
        }

    def ksm_stat(self) -> dict:
        """/proc/PID/ksm_stat (6.1, cb4df4cae4f2) with every line 6.18 prints, in its
        order (zero pages are not modelled: 0; no prctl(PR_SET_MEMORY_MERGE):
        ksm_merge_any is "no"). KernelError ENOENT on a profile without the file (3.9):
        see ``ksm_counts``."""
        if not has_file(self.kernel.changes, "/proc/PID/ksm_stat"):
            raise KernelError(
                errno.ENOENT, f"/proc/PID/ksm_stat of {self.name} does not exist (added in 6.1)"
            )
        counts = self.ksm_counts()
        return {
            "ksm_rmap_items": counts["ksm_rmap_items"],
            "ksm_zero_pages": 0,
            "ksm_merging_pages": counts["ksm_merging_pages"],
            "ksm_process_profit": counts["ksm_process_profit"],
            "ksm_merge_any": "no",
            "ksm_mergeable": "yes" if self.mm.vm_mergeable else "no",
        }


def _missing(name) -> str:
    added = release_added(name)
    return f"/sys/kernel/mm/ksm/{name} does not exist" + (
        f" (added in {added})" if added else ""
    )


class Sysfs:
    """/sys/kernel/mm/ksm."""

    def __init__(self, world):
        self._w = world

    def names(self) -> tuple:
        """The files of this kernel's /sys/kernel/mm/ksm: knobs, then counters (a file
        that came after 3.9 only where the profile has it, see changes.ADDED_AFTER_3_9)."""
        return knobs(self._w) + counters(self._w)

    def read(self, name):
        """A knob or counter as an int (``advisor_mode``, a choice, as its text)."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if name not in self.names():
            raise KernelError(errno.ENOENT, _missing(name))
        return sysfs_read(self._w, name)

    def write(self, name, value) -> int:
        """write(2) to a knob: an int as its decimal text, a str as UTF-8, bytes as they
        are. Returns what write(2) returns (see ``sysfs_write_file``: a 0-byte write
        succeeds and changes nothing, a longer-than-a-page write is short)."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if isinstance(value, bool) or not isinstance(value, (int, str, bytes, bytearray)):
            raise TypeError(f"value must be an int, a str or bytes, not {type(value).__name__}")
        if name in counters(self._w):
            raise KernelError(errno.EACCES, f"/sys/kernel/mm/ksm/{name} is read-only")
        if name not in knobs(self._w):
            raise KernelError(errno.ENOENT, _missing(name))
        buf = bytes(value) if isinstance(value, (bytes, bytearray)) else str(value).encode()
        return _run(self._w, f"echo>{name}", sysfs_write_file, self._w, name, buf)

    def snapshot(self) -> dict:
        """Every knob and counter, by name."""
        return {n: sysfs_read(self._w, n) for n in self.names()}


class Ksmd:
    """The ksmd kernel thread, woken by hand."""

    def __init__(self, world):
        self._w = world

    def _require_run(self, what):
        if not self._w.ksm.run & KSM_RUN_MERGE:
            raise ValueError(
                f"{what}: ksmd only scans while run=1 (run is {self._w.ksm.run}): "
                "k.sysfs.write('run', 1) first"
            )

    def _require_pass(self, what):
        self._require_run(what)
        if self._w.ksm.pages_to_scan == 0:
            raise ValueError(f"{what}: pages_to_scan is 0, so ksmd would never finish a pass")

    def scan(self, pages=None) -> int:
        """One batch of up to ``pages`` rmap_items (default: the pages_to_scan knob);
        returns how many went through cmp_and_merge_page. ValueError unless run=1."""
        if pages is not None:
            _int(pages, "pages")
            if pages < 0:
                raise ValueError(f"pages must be >= 0, not {pages}")
        self._require_run("scan")
        if pages is None:
            pages = self._w.ksm.pages_to_scan
        return _run(self._w, "ksmd", ksmd_batch, self._w, pages)

    def full_scan(self) -> int:
        """Batches of pages_to_scan until the pass in progress (or a whole new one) ends;
        returns the pages scanned. Nothing happens while no mm is registered.
        ValueError unless run=1 and pages_to_scan > 0."""
        self._require_pass("full_scan")
        return _run(self._w, "ksmd", ksm_scan_thread, self._w, 1)

    def passes(self, n) -> int:
        """``n`` full passes; returns the pages scanned. ValueError as ``full_scan``."""
        _int(n, "n")
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n}")
        if n:
            self._require_pass("passes")
        return sum(self.full_scan() for _ in range(n))


class Kernel:
    """A machine with ``nodes`` NUMA nodes running the KSM of kernel ``version`` ("3.9",
    the default, or "6.18") with ``fixes``. ``changes`` (a what-if) replaces the
    version's preset of post-3.9 changes (``Changes.of(version)``)."""

    def __init__(self, nodes=2, fixes=None, version=DEFAULT_VERSION, changes=None):
        _int(nodes, "nodes")
        if not 1 <= nodes <= 64:
            raise ValueError(f"nodes must be between 1 and 64, not {nodes}")
        if fixes is None:
            fixes = Fixes.all()
        if not isinstance(fixes, Fixes):
            raise TypeError(f"fixes must be a Fixes, not {type(fixes).__name__}")
        preset = Changes.of(version)
        if changes is None:
            changes = preset
        if not isinstance(changes, Changes):
            raise TypeError(f"changes must be a Changes, not {type(changes).__name__}")
        self.version = version
        self.world = World(nodes, fixes, changes)
        self.sysfs = Sysfs(self.world)
        self.ksmd = Ksmd(self.world)
        self.processes = []

    def __repr__(self) -> str:
        what = "" if self.changes == Changes.of(self.version) else f" {self.changes}"
        ver = "" if self.version == DEFAULT_VERSION and not what else f" {self.version}{what}"
        return f"<Kernel{ver} nodes={self.world.nodes} {self.world.fixes}>"

    @property
    def fixes(self) -> Fixes:
        return self.world.fixes

    @property
    def changes(self) -> Changes:
        return self.world.changes

    @property
    def ksm(self):
        """KSM's global state (trees, mm_slot list, cursor, counters)."""
        return self.world.ksm

    @property
    def dmesg(self) -> list:
        return self.world.dmesg

    def _check_name(self, name):
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if not name:
            raise ValueError("name must not be empty")
        if any(p.name == name for p in self.processes):
            raise ValueError(f"a process is already called {name!r}")

    def _adopt(self, name, mm) -> Process:
        p = Process(self, name, len(self.processes) + 1, mm)
        self.processes.append(p)
        return p

    def spawn(self, name) -> Process:
        """A new process with an empty address space."""
        self._check_name(name)
        mm = MmStruct(name, MMAP_BASE)
        self.world.mms.append(mm)
        return self._adopt(name, mm)

    def process(self, name) -> Process:
        """The process called ``name`` (exited ones too); ValueError if there is none."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        for p in self.processes:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.processes) or "none"
        raise ValueError(f"name: no process called {name!r} (processes: {known})")

    def _own(self, proc, what):
        """``proc`` as a Process of this kernel: another kernel's process would have this
        kernel act on pages, swap slots and frames that are not its own."""
        if not isinstance(proc, Process):
            raise TypeError(f"{what}: proc must be a Process, not {type(proc).__name__}")
        if proc.kernel is not self or not any(p is proc for p in self.processes):
            raise ValueError(f"{what}: proc {proc.name!r} belongs to another Kernel")
        return proc

    def _present_page(self, proc, addr, what):
        self._own(proc, what)
        proc._page_addr(addr, what)
        pte = proc.mm.ptes.get(addr)
        if pte.__class__ is not Present:
            state = (
                "nothing"
                if pte is None
                else "a swap entry"
                if pte.__class__ is SwapEntry
                else "a migration entry"
            )
            raise KernelError(errno.ENOENT, f"{what}: {proc.name}@{addr:#x} maps no page ({state})")
        return pte.page

    def page_at(self, proc, addr):
        """The page ``proc`` maps present at ``addr``, or None (also for an address that
        is unmapped or not page-aligned). KernelError ESRCH once ``proc`` has exited."""
        self._own(proc, "page_at")
        _int(addr, "addr")
        proc._live("page_at")
        pte = proc.mm.ptes.get(addr)
        return pte.page if pte.__class__ is Present else None

    def swap_out(self, proc, addr) -> int:
        """Reclaim the frame ``proc`` maps at ``addr``: into the swap cache, and every
        mapping found by the reverse map becomes a swap entry. Returns the PTEs unmapped."""
        page = self._present_page(proc, addr, "swap_out")
        w = self.world
        isolate_lru_page(page)
        done = _run(w, "kswapd", reclaim_page, w, page)
        if done is None:
            raise KernelError(errno.EAGAIN, f"page {page.pfn:#x} is locked")
        return done

    def reclaim(self) -> int:
        """A later reclaim pass: free every unmapped swap-cache page nobody else holds."""
        return shrink_swapcache(self.world)

    def migrate(self, proc, addr, node) -> int:
        """Migrate the frame ``proc`` maps at ``addr`` to ``node``; returns the new pfn."""
        self._own(proc, "migrate")
        _int(node, "node")
        w = self.world
        if not 0 <= node < w.nodes:
            raise KernelError(errno.ENODEV, f"migrate: no NUMA node {node}")
        page = self._present_page(proc, addr, "migrate")
        if page.nid == node:
            return page.pfn
        isolate_lru_page(page)
        new = _run(w, "migration", migrate_pages, w, page, node)
        if new is None:
            raise KernelError(errno.EAGAIN, f"migrate: page {page.pfn:#x} stayed busy")
        return new.pfn

    def check(self) -> None:
        """Run every invariant; raise KernelOops naming the first that is broken."""
        bad = first_violation(self.world, quiescent=True)
        if bad is not None:
            raise KernelOops(f"invariant {bad[0]} broken: {bad[1]}", bad[1].culprits)

    def fingerprint(self) -> str:
        return self.world.fingerprint()
