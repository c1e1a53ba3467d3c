"""``python -m ksmlab live-compare``: the live lab on the command line."""

from __future__ import annotations

import argparse
import math
import os
import sys

__all__ = ["add_parser", "main"]

EPILOG = """\
Without --live the kernel column comes from the recording shipped with ksmlab (made on a
machine with KSM, and labelled as recorded), and /sys/kernel/mm/ksm is not touched.
With --live (root, and a writable /sys/kernel/mm/ksm) the workload runs on this machine's
KSM: ksmd is made to run one full pass (or one batch) at a time, and every knob it touches
is restored afterwards, also on errors, ^C, SIGTERM and SIGHUP.

Every option is checked before anything runs: a --recording that cannot be read or is
not a recording, or an output (--record, --html, --plot) into a folder that does not
exist, stops it at once. Exit status: 0 when model and kernel agree wherever the
workload says they should, 1 on an unexpected difference, 2 when it cannot run; 130,
143 or 129 when SIGINT, SIGTERM or SIGHUP stopped a live run (after it restored the
knobs: it says so in one line).
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "live-compare",
        help="run a workload on the model and on the machine's real KSM, side by side",
        description="Run a workload on the 3.9 model and on a real kernel's KSM and show "
        "the counters, per-process ksm_stat and page contents after every step, with every "
        "difference marked.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("workload", nargs="?", metavar="WORKLOAD",
                   help="a built-in workload (see --list), or 'all'")
    p.add_argument("--list", action="store_true", help="list the built-in workloads and exit")
    p.add_argument("--live", action="store_true",
                   help="allow writes to /sys/kernel/mm/ksm and run on this machine's kernel")
    p.add_argument("--record", metavar="PATH",
                   help="with --live: save the kernel's observations as a recording (JSON)")
    p.add_argument("--recording", metavar="PATH",
                   help="without --live: compare with this recording instead of ksmlab's")
    p.add_argument("--html", metavar="PATH", help="also write the tables as HTML")
    p.add_argument("--plot", metavar="PATH",
                   help="also plot the counters over the steps (one workload; needs matplotlib)")
    p.add_argument("--lock-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long to wait for another live run to finish (default 30)")
    p.set_defaults(func=main)
    return p


def _list() -> int:
    from .workloads import DIFFERENCES, WORKLOADS

    width = max(map(len, {**WORKLOADS, **DIFFERENCES}))
    print("Workloads where the model and the kernel must agree after every step:")
    for name, w in WORKLOADS.items():
        print(f"  {name:<{width}}  {w.title}")
    print("Workloads that show a post-3.9 kernel change (where, and which commit, is named):")
    for name, w in DIFFERENCES.items():
        commits = ", ".join(sorted({d.commit for d in w.known_differences}))
        print(f"  {name:<{width}}  {w.title} [{commits}]")
    return 0


def _fail(msg: str) -> int:
    print(f"live-compare: {msg}", file=sys.stderr)
    return 2


def _output_error(option: str, path: str) -> str:
    """Why ``path`` cannot take the output of ``option`` ('' if it can), checked before
    anything runs."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"{option} {path}: is a folder; name a file"
    if not os.path.isdir(folder):
        return f"{option} {path}: there is no folder {folder}"
    if not os.access(folder, os.W_OK):
        return f"{option} {path}: cannot write in {folder}"
    if option == "--plot":
        try:
            from matplotlib.backend_bases import FigureCanvasBase
        except ImportError:
            return "--plot needs matplotlib (pip install 'ksmlab[lab]')"
        kinds = FigureCanvasBase.get_supported_filetypes()
        ext = os.path.splitext(path)[1][1:].lower()
        if ext not in kinds:
            return (f"--plot {path}: name the image format by its extension, one of "
                    + ", ".join(sorted(kinds)))
    return ""


def _usage_error(args) -> str:
    """What is wrong with the options ('' if nothing), before anything runs."""
    from .workloads import all_workloads

    if not args.workload:
        return "name a WORKLOAD (or 'all'); --list shows them"
    if args.record and not args.live:
        return "--record needs --live (it records the live kernel)"
    if args.recording and args.live:
        return "--recording is for runs without --live (the kernel column is then live)"
    if args.plot and args.workload == "all":
        return "--plot takes one workload"
    if args.workload != "all" and args.workload not in all_workloads():
        return f"no workload {args.workload!r}; --list shows them"
    if not (math.isfinite(args.lock_timeout) and args.lock_timeout >= 0):
        return f"--lock-timeout takes a number of seconds >= 0, not {args.lock_timeout!r}"
    for option in ("--record", "--html", "--plot"):
        path = getattr(args, option[2:])
        if path:
            problem = _output_error(option, path)
            if problem:
                return problem
    return ""


def main(args) -> int:
    from .compare import compare, load_recording
    from .guard import LiveError, LiveInterrupted, LiveUnavailable
    from .workload import WorkloadError
    from .workloads import all_workloads

    if args.list:
        return _list()
    problem = _usage_error(args)
    if problem:
        return _fail(problem)
    recording = "auto"
    if args.recording:
        try:
            recording = load_recording(args.recording)
        except OSError as e:
            return _fail(f"--recording {args.recording}: {e.strerror or e}")
        except ValueError as e:
            return _fail(f"--recording: {e}")
    names = list(all_workloads()) if args.workload == "all" else [args.workload]
    results = []
    for name in names:
        try:
            c = compare(
                name,
                allow_sysfs_writes=args.live,
                recording=recording,
                lock_timeout=args.lock_timeout,
            )
        except LiveInterrupted as e:
            print(f"interrupted: {e.outcome}", file=sys.stderr)
            return 128 + e.signum
        except LiveUnavailable as e:
            return _fail(f"cannot run on the live kernel: {e.reason}")
        except LiveError as e:  # it started, but could not finish (or not restore)
            return _fail(f"the live run failed: {e}")
        except WorkloadError as e:
            return _fail(str(e))
        except (KeyError, ValueError) as e:  # the recording named does not fit
            if not args.recording:
                raise
            return _fail(f"--recording {args.recording}: {e.args[0]}")
        results.append(c)
        print(c.text())
        if c.kernel is not None and c.info.get("seconds") is not None:
            passes = c.info.get("pass_seconds") or []
            longest = max(passes, default=0) * 1000
            print(
                f"kernel side: {c.info['seconds']:.3f} s in all, {len(passes)} passes of ksmd "
                f"(longest {longest:.2f} ms)"
            )
        print()
    try:
        _write_outputs(args, results)
    except OSError as e:  # the folders were checked; this is a full disk or the like
        return _fail(f"cannot write {e.filename}: {e.strerror}")
    if any(c.kernel is not None and not c.agree for c in results):
        return 1
    return 0


def _write_outputs(args, results) -> None:
    """--record, --html and --plot, into the places _usage_error checked."""
    from .compare import write_recording

    if args.record:
        cmd = "python -m ksmlab live-compare " + " ".join(sys.argv[2:] if sys.argv[1:2] == [
            "live-compare"] else [args.workload, "--live", "--record", args.record])
        write_recording(results, args.record, cmd)
        print(f"recorded {len(results)} workload(s) in {args.record}")
    if args.html:
        with open(args.html, "w") as f:
            f.write("<!doctype html><meta charset='utf-8'><title>ksmlab live-compare</title>\n")
            f.write("\n".join(c.html() for c in results))
        print(f"wrote {args.html}")
    if args.plot:
        fig = results[0].plot()
        fig.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"wrote {args.plot}")
