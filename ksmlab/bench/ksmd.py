"""The real ksmd, timed pass by pass on the same workloads as the model (``--live``).

Runs inside a :class:`~ksmlab.live.driver.LiveSession`, the live lab's guard: opt-in,
root only, one run at a time (the lock), every knob restored afterwards, also on error or
a signal. One child process maps the pages and fills them with the very bytes the model
writes (:func:`ksmlab.live.child.bench_page`); ``pages_to_scan`` is raised above the page
count so that one wake-up of ksmd is one whole pass, and the session makes ksmd run
exactly one pass at a time. A pass costs what ksmd's thread spent on the CPU meanwhile:
the first field of ``/proc/PID/schedstat`` (nanoseconds), which other processes on the
machine do not inflate; the wall time of the pass is kept too.
"""

import os

from ..live.driver import LiveSession
from .scan import DISTINCT, PASSES, REPEATS

__all__ = ["ksmd_pid", "ksmd_cpu_seconds", "measure_live"]

PAGES_TO_SCAN = 1_000_000


def ksmd_pid() -> int:
    """The pid of the ksmd kernel thread."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "ksmd":
                        return int(pid)
            except OSError:
                continue
    raise RuntimeError("no ksmd thread in /proc")


def ksmd_cpu_seconds(pid) -> float:
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def _sample(session, pid, pages):
    before = session.counters()
    cpu0 = ksmd_cpu_seconds(pid)
    session.ksm_pass()
    cpu = ksmd_cpu_seconds(pid) - cpu0
    after = session.counters()
    scanned = pages
    if after.get("pages_scanned") is not None:
        scanned = after["pages_scanned"] - before["pages_scanned"]
    return {
        "scanned": scanned,
        "seconds": session.pass_seconds[-1],
        "cpu_seconds": cpu,
        "counters": {c: after[c] for c in ("pages_shared", "pages_sharing",
                                           "pages_unshared", "pages_volatile")},
    }


def _world(session, name, pages, distinct):
    session.spawn(name, pages)
    session.fill(name, pages, distinct)
    errno = session.madvise(name, 0, pages, "mergeable")
    if errno:
        raise OSError(errno, f"madvise(MADV_MERGEABLE) failed in {name}")


def _forget(session, name):
    """The process exits and run=2 unmerges and frees everything: KSM is as found."""
    session.exit(name)
    session.sysfs_write("run", 2)
    session.sysfs_write("run", 1)


def measure_live(pages, repeats=REPEATS, lock_timeout=30.0) -> dict:
    """{pass kind: [sample, ...]} for every kind of :data:`ksmlab.bench.scan.PASSES`,
    measured on this machine's ksmd (samples as ``ksmlab.bench.scan.measure`` makes)."""
    out = {kind: [] for kind in PASSES}
    with LiveSession(lock_timeout=lock_timeout) as session:
        session.sysfs_write("pages_to_scan", max(pages, PAGES_TO_SCAN))
        pid = ksmd_pid()
        # the merging world, once per repeat: pass 1 (checksum), pass 2 (merging), and in
        # the first world also passes 3.. (steady)
        for r in range(repeats):
            name = f"dup{r}"
            _world(session, name, pages, DISTINCT)
            out["checksum"].append(_sample(session, pid, pages))
            out["merging"].append(_sample(session, pid, pages))
            if r == 0:
                out["steady"].extend(_sample(session, pid, pages) for _ in range(repeats))
            _forget(session, name)
        _world(session, "unique", pages, 0)
        _sample(session, pid, pages)  # pass 1: checksums
        out["unique"].extend(_sample(session, pid, pages) for _ in range(repeats))
        _forget(session, "unique")
    return out
