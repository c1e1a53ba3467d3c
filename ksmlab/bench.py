"""Scan throughput of the model's ksmd, against real ksmd on the reference machine.

    python -m ksmlab.bench [--quick] [--check]

Three workloads, each in its own subprocess (so the peak RSS is per workload): one
process, one NUMA node, ``pages_to_scan=100``, ``run=1``, 65,536 pages (8,192 with
``--quick``):

* ``merging``: 1,024 distinct contents spread over the pages; times pass 2, the pass that
  merges. The world is built afresh 3 times and the best of the 3 merging passes counts.
* ``unique``: every page different; times passes 3, 4 and 5 (checksums unchanged, every
  page goes into the unstable tree) and keeps the best.
* ``steady``: the merging workload once merged; times passes 3, 4 and 5 (every page is
  already stable) and keeps the best.

Rates are wall-clock (``time.perf_counter`` around ``full_scan()``). A target is met when
the rate is at least half of real ksmd's and the workload's peak RSS (MiB) is at most 300.
The CPU time of each pass is kept too: when wall-clock rates fall well below it, other
processes had the CPU and the report says so. The exit code is 0 (this is a report)
unless ``--check`` is given and a target is missed. Only this module reads a clock; the
model never does.
"""

import argparse
import gc
import json
import resource
import subprocess
import sys
import time

from . import MADV_MERGEABLE, PAGE_SIZE, Kernel

__all__ = ["WORKLOADS", "build", "measure", "main"]

PAGES = 65_536
QUICK_PAGES = 8_192
DISTINCT = 1_024
REPEATS = 3
#: real ksmd on the reference machine, pages/s
REAL = {"merging": 160_000, "unique": 120_000, "steady": 2_000_000}
TARGET_RATIO = 0.5
PEAK_MB = 300
WORKLOADS = tuple(REAL)
COUNTERS = ("pages_shared", "pages_sharing", "pages_unshared", "pages_volatile")


def build(pages, unique):
    """A world with one process mapping ``pages`` mergeable pages, ksmd set to run."""
    k = Kernel(nodes=1)
    p = k.spawn("bench")
    base = p.mmap(pages)
    for i in range(pages):
        p.write(base + i * PAGE_SIZE, b"uniq%d" % i if unique else b"dup%d" % (i % DISTINCT))
    p.madvise(base, pages, MADV_MERGEABLE)
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


def measure(name, pages, repeats=REPEATS):
    """The measured passes of workload ``name``: a list of dicts with the pages scanned,
    the seconds taken and the counters right after the pass."""
    if name not in REAL:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    samples = []
    if name == "merging":
        for _ in range(repeats):  # a fresh world each time: pass 2 merges only once
            k = build(pages, unique=False)
            k.ksmd.full_scan()
            samples.append(_timed_pass(k))
            del k
    else:
        k = build(pages, unique=name == "unique")
        k.ksmd.passes(2)
        samples.extend(_timed_pass(k) for _ in range(repeats))
    return samples


def run_one(name, pages):
    """Measure one workload in this process; the result as a JSON-able dict."""
    samples = measure(name, pages)
    best = max(s["scanned"] / s["seconds"] for s in samples)
    return {
        "workload": name,
        "pages": pages,
        "pages_per_s": best,
        "cpu_pages_per_s": max(s["scanned"] / max(s["cpu_seconds"], 1e-9) for s in samples),
        "seconds": [s["seconds"] for s in samples],
        "counters": samples[-1]["counters"],
        "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ksmlab.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_PAGES} pages instead of {PAGES}")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--no-widgets", action="store_true", help="skip the stepper click timing")
    ap.add_argument("--one", choices=WORKLOADS, help=argparse.SUPPRESS)
    ap.add_argument("--pages", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    pages = args.pages or (QUICK_PAGES if args.quick else PAGES)
    if args.one:
        print(json.dumps(run_one(args.one, pages)))
        return 0
    print(
        f"ksmd scan throughput, {pages} pages, pages_to_scan=100, nodes=1 "
        f"(best of {REPEATS}; merging: {REPEATS} fresh worlds)"
    )
    header = ("workload", "pages/s", "real ksmd", "ratio", "target met", "peak MB")
    print("{:<10} {:>11} {:>11} {:>7} {:>11} {:>8}".format(*header))
    missed, cpu_rates, busy = 0, [], False
    for name in WORKLOADS:
        cmd = [sys.executable, "-m", "ksmlab.bench", "--one", name, "--pages", str(pages)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        ratio = r["pages_per_s"] / REAL[name]
        peak_mb = r["peak_kib"] / 1024
        met = ratio >= TARGET_RATIO and peak_mb <= PEAK_MB
        missed += not met
        # wall time well above CPU time: other processes took the CPU during the pass
        busy |= r["pages_per_s"] < 0.8 * r["cpu_pages_per_s"]
        cpu_rates.append(f"{name} {r['cpu_pages_per_s']:,.0f}")
        print(
            f"{name:<10} {r['pages_per_s']:>11,.0f} {REAL[name]:>11,} {ratio:>6.2f}x "
            f"{'yes' if met else 'NO':>11} {peak_mb:>8.1f}"
        )
    print(
        f"target: >= {TARGET_RATIO}x real ksmd and <= {PEAK_MB} MB peak per workload; "
        f"{missed} missed"
    )
    if busy:
        print("note: the machine was busy (wall-clock rate under 0.8x the CPU-time rate);")
        print("      pages per CPU-second: " + ", ".join(cpu_rates))
    if not args.no_widgets and not args.pages:  # --pages: the tests' tiny worlds
        print_widget_clicks()
    return 1 if missed and args.check else 0


CLICK_TARGET_MS = 200


def widget_clicks():
    """Wall-clock ms of each stepper click (one step, then the pictures redrawn) while
    clicking each bug's textbook schedule with its fix off: {scenario: [ms, ...]}.
    Optional: returns {} when the lab extras (ipywidgets, matplotlib) are missing."""
    try:
        from .widgets.stepper import Stepper
    except ImportError:
        return {}
    from . import Fixes, explore, scenarios
    from .sched.schedule import Schedule

    out = {}
    for name in scenarios.names():
        scn = scenarios.get(name)
        if scn.fix is None:
            continue  # the bug scenarios only
        fixes = Fixes.all().without(scn.fix)
        schedule = explore(name, fixes=fixes).counterexample.schedule
        stepper = Stepper(name, fixes)  # the first drawing (font cache) happens here
        times = []
        for task in Schedule.parse(schedule):
            t0 = time.perf_counter()
            stepper.buttons[task].click()
            times.append((time.perf_counter() - t0) * 1000)
        stepper.session.close()
        out[name] = times
    return out


def print_widget_clicks():
    clicks = widget_clicks()
    if not clicks:
        print("stepper clicks: skipped (ipywidgets or matplotlib not installed)")
        return
    print(f"stepper click (step + redraw), ms; target < {CLICK_TARGET_MS} ms per click")
    header = ("scenario", "clicks", "median", "max", "over")
    print("{:<28} {:>6} {:>7} {:>7} {:>5}".format(*header))
    for name, ms in clicks.items():
        med = sorted(ms)[len(ms) // 2]
        over = sum(t >= CLICK_TARGET_MS for t in ms)
        print(f"{name:<28} {len(ms):>6} {med:>7.0f} {max(ms):>7.0f} {over:>5}")


if __name__ == "__main__":
    sys.exit(main())
