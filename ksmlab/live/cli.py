"""``python -m ksmlab live-compare``: the live lab on the command line."""

from __future__ import annotations

import argparse
import sys

from ..changes import VERSIONS

__all__ = ["add_parser", "main"]

EPILOG = """\
Without --live the kernel column comes from the recording shipped with ksmlab (made on a
machine with KSM, and labelled as recorded), and /sys/kernel/mm/ksm is not touched.
With --live (root, and a writable /sys/kernel/mm/ksm) the workload runs on this machine's
KSM: ksmd is made to run one full pass (or one batch) at a time, and every knob it touches
is restored afterwards, also on errors and ^C. The model runs the profile of the newest
modelled version not newer than the kernel side (--version picks one). Exit status: 0
when model and kernel agree after every step, 1 on a difference, 2 when it cannot run.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "live-compare",
        help="run a workload on the model and on the machine's real KSM, side by side",
        description="Run a workload on the model and on a real kernel's KSM and show "
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
    p.add_argument("--version", choices=list(VERSIONS), default=None,
                   help="the model's kernel profile (default: the newest modelled version "
                   "not newer than the kernel side)")
    p.add_argument("--lock-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long to wait for another live run to finish (default 30)")
    p.set_defaults(func=main)
    return p


def _list() -> int:
    from ..changes import change
    from .workloads import SHOWS, WORKLOADS

    width = max(map(len, WORKLOADS))
    print("Workloads (each agrees with the kernel after every step on the matching profile;")
    print("[a change] marks one where the 3.9 profile and a newer kernel part):")
    for name, w in WORKLOADS.items():
        c = change(SHOWS[name]) if name in SHOWS else None
        tag = f" [{c.name}, {c.commit}, {c.release}]" if c else ""
        print(f"  {name:<{width}}  {w.title}{tag}")
    return 0


def main(args) -> int:
    from .compare import compare, write_recording
    from .guard import LiveUnavailable
    from .workload import WorkloadError
    from .workloads import all_workloads

    if args.list:
        return _list()
    if not args.workload:
        print("live-compare: name a WORKLOAD (or 'all'); --list shows them", file=sys.stderr)
        return 2
    if args.record and not args.live:
        print("live-compare: --record needs --live (it records the live kernel)",
              file=sys.stderr)
        return 2
    names = list(all_workloads()) if args.workload == "all" else [args.workload]
    if args.plot and len(names) != 1:
        print("live-compare: --plot takes one workload", file=sys.stderr)
        return 2
    if args.workload != "all" and args.workload not in all_workloads():
        print(f"live-compare: no workload {args.workload!r}; --list shows them",
              file=sys.stderr)
        return 2
    results = []
    for name in names:
        try:
            c = compare(
                name,
                allow_sysfs_writes=args.live,
                recording=args.recording or "auto",
                version=args.version,
                lock_timeout=args.lock_timeout,
            )
        except LiveUnavailable as e:
            print(f"live-compare: cannot run on the live kernel: {e.reason}", file=sys.stderr)
            return 2
        except (WorkloadError, FileNotFoundError, KeyError, ValueError) as e:
            print(f"live-compare: {e}", file=sys.stderr)
            return 2
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
    if any(c.kernel is not None and not c.agree for c in results):
        return 1
    return 0
