"""The model side of the live lab: a workload on ``ksmlab.Kernel``.

>>> from ksmlab.live.workload import Workload
>>> w = Workload("tiny", "", [("spawn", "a", 2), ("write", "a", 0, ["X", "X"]),
...                           ("madvise", "a", 0, 2, "mergeable"), ("pass",), ("pass",)])
>>> obs = run_model(w)
>>> [(o.counters["pages_shared"], o.counters["pages_sharing"]) for o in obs]
[(0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (1, 1)]
"""

from __future__ import annotations

from ..changes import DEFAULT_VERSION
from ..errors import KernelError
from ..kernel import Kernel
from ..ksm.sysfs import sysfs_read
from ..mm.madvise import MADV_MERGEABLE, MADV_UNMERGEABLE
from ..mm.page import PAGE_SIZE
from .observe import COUNTERS, STATS, execute, page_digest

__all__ = ["ModelBackend", "run_model"]


class ModelBackend:
    """A workload's processes on the model of kernel ``version``; KSM starts with run=1."""

    side = "model"

    def __init__(self, nodes: int = 1, check: bool = True, version: str = DEFAULT_VERSION,
                 changes=None, fixes=None):
        self.k = Kernel(nodes=nodes, fixes=fixes, version=version, changes=changes)
        self.k.sysfs.write("run", 1)
        self.procs: dict = {}  # name -> (Process, base address, npages)
        self._check = check

    def clock(self):
        return None  # the model has no wall clock

    def _after(self):
        if self._check:
            self.k.check()

    def _addr(self, name, page):
        p, base, _ = self.procs[name]
        return p, base + page * PAGE_SIZE

    def spawn(self, name, npages):
        p = self.k.spawn(name)
        self.procs[name] = (p, p.mmap(npages, node=0), npages)

    def write(self, name, first, datas):
        for j, data in enumerate(datas):
            p, addr = self._addr(name, first + j)
            p.write(addr, data)
        self._after()

    def madvise(self, name, first, npages, advice):
        p, addr = self._addr(name, first)
        flag = MADV_MERGEABLE if advice == "mergeable" else MADV_UNMERGEABLE
        try:
            p.madvise(addr, npages, flag)
        except KernelError as e:
            return e.errno
        finally:
            self._after()
        return 0

    def fork(self, parent, child):
        p, base, npages = self.procs[parent]
        self.procs[child] = (p.fork(child), base, npages)
        self._after()

    def exit(self, name):
        self.procs.pop(name)[0].exit()
        self._after()

    def ksm_pass(self):
        self.k.ksmd.full_scan()
        self._after()

    def ksm_batch(self, npages):
        self.k.ksmd.scan(npages)
        self._after()

    def sysfs_write(self, knob, value):
        try:
            self.k.sysfs.write(knob, value)
        except KernelError as e:
            return e.errno
        finally:
            self._after()
        return 0

    def read(self, name, first, npages):
        out = []
        for j in range(npages):
            p, addr = self._addr(name, first + j)
            out.append(p.read(addr))
        return out

    def counters(self) -> dict:
        """The model's value of each compared counter, also on a profile without its
        file (3.9 had no general_profit, pages_scanned or chain counters)."""
        return {c: sysfs_read(self.k.world, c) for c in COUNTERS}

    def proc_state(self, name):
        p, base, npages = self.procs[name]
        stat = p.ksm_counts()  # what /proc/PID/ksm_stat shows, on every profile
        pages = [page_digest(p.read(base + i * PAGE_SIZE)) for i in range(npages)]
        return {s: stat[s] for s in STATS}, pages


def run_model(workload, nodes: int = 1, on_step=None, version: str = DEFAULT_VERSION,
              changes=None) -> list:
    """The observations of ``workload`` on the model (a fresh ``Kernel(nodes, version=...,
    changes=...)``)."""
    return execute(workload, ModelBackend(nodes, version=version, changes=changes), on_step)
