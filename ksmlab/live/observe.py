"""Running a workload on a side (the model or the live kernel) and what is observed.

Both sides implement the same small backend interface (``spawn``, ``write``, ``madvise``,
``fork``, ``exit``, ``ksm_pass``, ``ksm_batch``, ``sysfs_write``, ``read``, ``counters``,
``proc_state``); :func:`execute` walks the workload's steps and takes an
:class:`Observation` after every one of them (and one before the first).
"""

from __future__ import annotations

import errno as _errno
import hashlib
from dataclasses import dataclass, field

from .workload import Workload, contents_of, page_bytes, step_text, validate

__all__ = ["COUNTERS", "STATS", "Observation", "execute", "page_digest", "pages_digest"]

#: global counters compared after every step; full_scans and pages_scanned are counted
#: from the start of the run on the kernel (pages_scanned is never reset there, and
#: full_scans only by run=2).
COUNTERS = (
    "pages_shared",
    "pages_sharing",
    "pages_unshared",
    "pages_volatile",
    "full_scans",
    "pages_scanned",
    "general_profit",
)
#: the /proc/PID/ksm_stat lines compared for every live process
STATS = ("ksm_rmap_items", "ksm_merging_pages", "ksm_process_profit")


def page_digest(data: bytes) -> str:
    """16 hex digits naming one page's full PAGE_SIZE bytes (the child uses the same)."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def pages_digest(digests) -> str:
    """16 hex digits naming all of a process's pages, in order."""
    return hashlib.blake2b("".join(digests).encode(), digest_size=8).hexdigest()


def errno_name(err: int) -> str:
    return _errno.errorcode.get(err, str(err))


@dataclass
class Observation:
    """What one side looked like after step ``step`` (-1: before the first step)."""

    step: int
    text: str
    result: str  # "ok", or the errno name of a rejected syscall or sysfs write
    counters: dict
    procs: dict  # live process name -> {stat: int, ..., "pages": digest of all its pages}
    read: list | None = None  # the contents a "read" step saw (text, trailing zeros cut)
    seconds: float | None = None  # wall time of the step (kernel side only; not compared)
    page_digests: dict = field(default_factory=dict, repr=False)  # name -> [digest per page]

    def to_json(self) -> dict:
        out = {
            "step": self.step,
            "text": self.text,
            "result": self.result,
            "counters": dict(self.counters),
            "procs": {k: dict(v) for k, v in self.procs.items()},
        }
        if self.read is not None:
            out["read"] = list(self.read)
        if self.seconds is not None:
            out["seconds"] = round(self.seconds, 6)
        return out

    @classmethod
    def from_json(cls, d: dict) -> Observation:
        return cls(
            step=d["step"],
            text=d["text"],
            result=d["result"],
            counters=dict(d["counters"]),
            procs={k: dict(v) for k, v in d["procs"].items()},
            read=d.get("read"),
            seconds=d.get("seconds"),
        )


def _text(data: bytes) -> str:
    return data.rstrip(b"\0").decode("utf-8", "backslashreplace")


def execute(workload: Workload, backend, on_step=None) -> list:
    """Run ``workload`` on ``backend``; returns one Observation before the first step and
    one after each step. ``on_step(index, observation)`` is called after each step."""
    validate(workload)
    alive: list = []

    def observe(i, text, result, read=None, seconds=None):
        counters = backend.counters()
        procs, digests = {}, {}
        for name in alive:
            stat, pages = backend.proc_state(name)
            digests[name] = pages
            procs[name] = {**stat, "pages": pages_digest(pages)}
        return Observation(i, text, result, counters, procs, read, seconds, digests)

    out = [observe(-1, "start", "ok")]
    for i, step in enumerate(workload.steps):
        op = step[0]
        result, read = "ok", None
        t = backend.clock()
        if op == "spawn":
            backend.spawn(step[1], step[2])
            alive.append(step[1])
        elif op == "write":
            backend.write(step[1], step[2], [page_bytes(c) for c in contents_of(step)])
        elif op == "madvise":
            err = backend.madvise(step[1], step[2], step[3], step[4])
            result = errno_name(err) if err else "ok"
        elif op == "fork":
            backend.fork(step[1], step[2])
            alive.append(step[2])
        elif op == "exit":
            backend.exit(step[1])
            alive.remove(step[1])
        elif op == "pass":
            backend.ksm_pass()
        elif op == "batch":
            backend.ksm_batch(step[1])
        elif op == "sysfs":
            err = backend.sysfs_write(step[1], step[2])
            result = errno_name(err) if err else "ok"
        elif op == "read":
            read = [_text(p) for p in backend.read(step[1], step[2], step[3])]
        else:  # validate() has ruled this out
            raise AssertionError(op)
        seconds = backend.clock() - t if t is not None else None
        out.append(observe(i, step_text(step), result, read, seconds))
        if on_step is not None:
            on_step(i, out[-1])
    return out
