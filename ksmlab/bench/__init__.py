"""``python -m ksmlab.bench`` (``make bench``): how fast the model runs, side by side with
the real ksmd, and what a learner waits for.

    python -m ksmlab.bench [--quick] [--live [--record PATH]] [--recording PATH]
                           [--only scan|explorer|clicks|notebooks] [--check]

Four sections:

* ``scan``: the model's ksmd on each kind of pass (:mod:`ksmlab.bench.scan`), each kind in
  its own subprocess (so the peak RSS is its own), beside the real ksmd on the same
  workload. With ``--live`` the real ksmd is measured in the same run
  (:mod:`ksmlab.bench.ksmd`: opt-in, root, through the live lab's guard); without it, the
  figures come from the recording of such a run shipped with ksmlab (or ``--recording``),
  labelled with its machine, kernel and date. Rates are pages per CPU-second on both sides
  (the model's process time, ksmd's thread time), so that other work on the machine does
  not distort the ratio; wall-clock rates are printed too. Target per kind: the model at
  least 0.5x the real ksmd, and, at 65,536 pages or more, a peak RSS of at most 1.5x the
  pages' contents (``pages * 4 KiB``).
* ``explorer``: the explorer finding each bug and proving each fix (:mod:`.explorer`).
* ``clicks``: the stepper's click-to-redraw time (:mod:`.clicks`).
* ``notebooks``: each notebook executed cold on one CPU, wall time and peak memory
  (:mod:`.notebooks`; from the repository root).

The exit code is 0 (this is a report) unless ``--check`` is given and a target is missed.
Only this package reads a clock; the model never does.
"""

import argparse
import importlib.resources
import json
import os
import subprocess
import sys

from .scan import PAGES, PASSES, QUICK_PAGES, REPEATS, run_one

__all__ = ["main", "TARGET_RATIO", "PEAK_FACTOR", "load_recording", "scan_rows"]

TARGET_RATIO = 0.5
PEAK_FACTOR = 1.5
RECORDING_FORMAT = "ksmlab-bench-recording/1"
SECTIONS = ("scan", "explorer", "clicks", "notebooks")


def load_recording(path=None) -> dict:
    """A recording of ``--live --record`` (ksmlab's own when ``path`` is None)."""
    if path is None:
        text = importlib.resources.files("ksmlab").joinpath("data/bench-recorded.json")
        rec = json.loads(text.read_text())
    else:
        with open(path) as f:
            rec = json.load(f)
    if not isinstance(rec, dict) or rec.get("format") != RECORDING_FORMAT:
        raise ValueError(f"{path or 'the shipped recording'} is not a {RECORDING_FORMAT} file")
    return rec


def _best(samples):
    return {
        "pages_per_cpu_s": max(s["scanned"] / max(s["cpu_seconds"], 1e-9) for s in samples),
        "pages_per_s": max(s["scanned"] / s["seconds"] for s in samples),
        "counters": samples[-1]["counters"],
    }


def _model(kind, pages):
    cmd = [sys.executable, "-m", "ksmlab.bench", "--one", kind, "--pages", str(pages)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def scan_rows(pages, ksmd):
    """One row per pass kind: the model (measured now, in a subprocess) beside ``ksmd``
    ({kind: best figures}); ``met`` says whether the kind meets its targets."""
    rows = []
    for kind in PASSES:
        m = _model(kind, pages)
        real = ksmd[kind]["pages_per_cpu_s"]
        ratio = m["cpu_pages_per_s"] / real
        peak_mib = m["peak_kib"] / 1024
        limit = PEAK_FACTOR * pages * 4 / 1024 if pages >= PAGES else None
        met = ratio >= TARGET_RATIO and (limit is None or peak_mib <= limit)
        rows.append({"kind": kind, "model": m, "ksmd": ksmd[kind], "ratio": ratio,
                     "peak_mib": peak_mib, "peak_limit_mib": limit, "met": met,
                     "same_counters": m["counters"] == ksmd[kind]["counters"]})
    return rows


def _print_scan(rows, source, out):
    print(f"ksmd pass by pass, pages per CPU-second (wall-clock in brackets); real ksmd: "
          f"{source}", file=out)
    head = ("pass", "model", "real ksmd", "ratio", "target", "peak MiB", "counters")
    print("{:<9} {:>22} {:>24} {:>6} {:>6} {:>9} {:>8}".format(*head), file=out)
    for r in rows:
        m, k = r["model"], r["ksmd"]
        model = f"{m['cpu_pages_per_s']:,.0f} ({m['pages_per_s']:,.0f})"
        real = f"{k['pages_per_cpu_s']:,.0f} ({k['pages_per_s']:,.0f})"
        limit = "" if r["peak_limit_mib"] is None else f"/{r['peak_limit_mib']:.0f}"
        print(f"{r['kind']:<9} {model:>22} {real:>24} {r['ratio']:>5.2f}x "
              f"{'ok' if r['met'] else 'MISSED':>6} {r['peak_mib']:>5.0f}{limit:<4} "
              f"{'same' if r['same_counters'] else 'DIFFER':>8}", file=out)
    print("counters: the four page counters after the pass, model against ksmd (the "
          "recorded ones when not --live, same page count only)", file=out)
    print(f"targets: model >= {TARGET_RATIO}x real ksmd per pass kind; at {PAGES:,} pages or "
          f"more, peak RSS <= {PEAK_FACTOR}x the pages' contents", file=out)


def _live(pages, args):
    from ..live.guard import machine_info
    from .ksmd import measure_live

    samples = measure_live(pages, REPEATS, args.lock_timeout)
    ksmd = {kind: _best(s) for kind, s in samples.items()}
    info = machine_info()
    if args.record:
        info["command"] = f"python -m ksmlab.bench --live --pages {pages} --record PATH"
        rec = {"format": RECORDING_FORMAT, "recorded": info, "pages": pages,
               "repeats": REPEATS, "ksmd": ksmd}
        with open(args.record, "w") as f:
            json.dump(rec, f, indent=1, sort_keys=True)
            f.write("\n")
    return ksmd, f"measured now ({info['kernel']}, {info['machine']})"


def _parser():
    ap = argparse.ArgumentParser(prog="python -m ksmlab.bench",
                                 description=" ".join(__doc__.split("\n\n")[0].split())
                                 .replace("``", ""))
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_PAGES:,} pages, not {PAGES:,}")
    ap.add_argument("--pages", type=int, help="the scan workloads' page count")
    ap.add_argument("--live", action="store_true",
                    help="measure this machine's ksmd in the same run (root; writes "
                         "/sys/kernel/mm/ksm and restores every knob)")
    ap.add_argument("--record", metavar="PATH", help="with --live: save ksmd's figures")
    ap.add_argument("--recording", metavar="PATH",
                    help="without --live: compare with this recording, not ksmlab's")
    ap.add_argument("--lock-timeout", type=float, default=30.0, help=argparse.SUPPRESS)
    ap.add_argument("--only", choices=SECTIONS, action="append",
                    help="run only this section (repeatable)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--one", choices=tuple(PASSES), help=argparse.SUPPRESS)
    return ap


def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    ap = _parser()
    args = ap.parse_args(argv)
    if args.pages is not None and args.pages < 1:
        ap.error("--pages must be at least 1")
    if args.record and not args.live:
        ap.error("--record needs --live (it records the real ksmd)")
    if args.live and args.recording:
        ap.error("--recording is for runs without --live")
    if args.record and not os.path.isdir(os.path.dirname(os.path.abspath(args.record))):
        ap.error(f"--record: no folder {os.path.dirname(os.path.abspath(args.record))}")
    pages = args.pages or (QUICK_PAGES if args.quick else PAGES)
    if args.one:
        print(json.dumps(run_one(args.one, pages)), file=out)
        return 0
    sections = args.only or SECTIONS
    missed = 0
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", file=out)
    if "scan" in sections:
        if args.live:
            ksmd, source = _live(pages, args)
        else:
            try:
                rec = load_recording(args.recording)
            except (OSError, ValueError) as e:
                ap.error(f"--recording: {e}")
            r = rec["recorded"]
            ksmd = rec["ksmd"]
            source = (f"recorded {r['date']} on {r['machine']} ({r['kernel']}), "
                      f"{rec['pages']:,} pages")
        rows = scan_rows(pages, ksmd)
        _print_scan(rows, source, out)
        missed += sum(not r["met"] for r in rows)
    if "explorer" in sections:
        from .explorer import report

        missed += report(out)
    if "clicks" in sections:
        from .clicks import report

        missed += report(out)
    if "notebooks" in sections:
        from .notebooks import report

        missed += report(out)
    print(f"{missed} target(s) missed", file=out)
    return 1 if args.check and missed else 0
