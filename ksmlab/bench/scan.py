"""The model's ksmd, timed pass by pass, on full-page contents.

One process maps ``pages`` mergeable pages on one NUMA node, ``pages_to_scan`` at least the
page count (so one batch is one pass, as the real ksmd is run beside it), ``run=1``. The
pages hold :func:`ksmlab.live.child.bench_page` contents: the very bytes the live side
writes. Four kinds of pass (:data:`PASSES`):

* ``checksum``: pass 1 over 1,024 distinct contents; every page has its checksum recorded,
  nothing merges. A fresh world for each repeat.
* ``merging``: pass 2 of the same world: every page merges. A fresh world for each repeat.
* ``unique``: passes 2 onwards with every page different: each page goes into the unstable
  tree (rebuilt every pass). One world, ``repeats`` passes.
* ``steady``: passes 3 onwards of the merging world: every page is already stable.

Each sample records the CPU seconds (``time.process_time``) and wall seconds of one
``full_scan()`` and the counters after it. Only this package reads a clock; the model
never does.
"""

import gc
import resource
import time

from ..kernel import Kernel
from ..live.child import bench_page
from ..mm.mman import MADV_MERGEABLE
from ..mm.page import PAGE_SIZE

__all__ = ["PASSES", "PAGES", "QUICK_PAGES", "DISTINCT", "REPEATS", "build", "measure",
           "run_one"]

PAGES = 65_536
QUICK_PAGES = 8_192
DISTINCT = 1_024
REPEATS = 3
COUNTERS = ("pages_shared", "pages_sharing", "pages_unshared", "pages_volatile")

#: pass kind -> (distinct contents, 0 = every page different; the pass measured first;
#: a fresh world for each repeat?; what the pass does)
PASSES = {
    "checksum": (DISTINCT, 1, True, "first pass: checksums recorded, nothing merges"),
    "merging": (DISTINCT, 2, True, "second pass: every page merges"),
    "unique": (0, 2, False, "every page different: each one into the unstable tree"),
    "steady": (DISTINCT, 3, False, "already merged: every page found stable"),
}


def build(pages, distinct=DISTINCT):
    """A world with one process mapping ``pages`` mergeable full pages, ksmd set to run
    one pass per batch. ``distinct=0``: every page different."""
    k = Kernel(nodes=1)
    p = k.spawn("bench")
    base = p.mmap(pages)
    contents = [bench_page(v) for v in range(distinct)]
    for i in range(pages):
        p.write(base + i * PAGE_SIZE, contents[i % distinct] if distinct else bench_page(i))
    p.madvise(base, pages, MADV_MERGEABLE)
    k.sysfs.write("pages_to_scan", max(pages, 100))
    k.sysfs.write("run", 1)
    return k


def _timed_pass(k):
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    scanned = k.ksmd.full_scan()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "scanned": scanned,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "counters": {c: k.sysfs.read(c) for c in COUNTERS},
    }


def measure(kind, pages, repeats=REPEATS):
    """The measured passes of pass kind ``kind``: a list of ``repeats`` samples."""
    if kind not in PASSES:
        raise ValueError(f"unknown pass kind {kind!r}; known: {', '.join(PASSES)}")
    distinct, first, fresh, _ = PASSES[kind]
    samples = []
    if fresh:
        for _ in range(repeats):  # the measured pass happens once per world
            k = build(pages, distinct)
            k.ksmd.passes(first - 1)
            samples.append(_timed_pass(k))
            del k
    else:
        k = build(pages, distinct)
        k.ksmd.passes(first - 1)
        samples.extend(_timed_pass(k) for _ in range(repeats))
    return samples


def run_one(kind, pages, repeats=REPEATS):
    """Measure one pass kind in this process; a JSON-able dict with the best rates (wall
    and CPU), the counters after the last pass and this process's peak RSS."""
    samples = measure(kind, pages, repeats)
    return {
        "kind": kind,
        "pages": pages,
        "pages_per_s": max(s["scanned"] / s["seconds"] for s in samples),
        "cpu_pages_per_s": max(s["scanned"] / max(s["cpu_seconds"], 1e-9) for s in samples),
        "counters": samples[-1]["counters"],
        "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
