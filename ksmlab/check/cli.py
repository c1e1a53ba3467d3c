"""``python -m ksmlab explore`` and ``python -m ksmlab replay``: the explorer on the
command line."""
import argparse
import sys

from ..fixes import Fixes

__all__ = ["add_parser", "parse_fixes"]

#: the most steps ``replay`` takes from the command line; a longer schedule is refused
#: before it is expanded (every scenario's tasks finish in under a hundred steps)

FIXES_HELP = ("which fixes are on: 'all' (Linux 3.9, the default), 'none' (3.8+NUMA), "
              "'without:NAME[,NAME]' or 'only:NAME[,NAME]'; NAMEs: " + ", ".join(Fixes.names()))


def parse_fixes(text: str) -> Fixes:
    """'all', 'none', 'without:a,b' or 'only:a,b' as a Fixes value."""
    if text == "all":
        return Fixes.all()
    if text == "none":
        return Fixes.none()
    kind, _, names = text.partition(":")
    wanted = [n for n in names.split(",") if n]
    if kind not in ("without", "only") or not wanted:
        raise ValueError(f"bad --fixes {text!r}: use all, none, without:NAMES or only:NAMES")
    if kind == "without":
        return Fixes.all().without(*wanted)
    return Fixes.none().with_(*wanted)


def add_parser(subparsers):
    from .. import scenarios

    names = ", ".join(scenarios.names())
    p = subparsers.add_parser(
        "explore", help="search a scenario's interleavings for the shortest breaking schedule",
        description="Explore the interleavings of a scenario's kernel paths, fewest "
        "preemptions first, and print the shortest schedule that breaks its property - or "
        f"that none does within the bound. Scenarios: {names}.")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--fixes", default="all", help=FIXES_HELP)
    p.add_argument("--bound", type=int, default=2, help="most preemptions (default 2)")
    p.add_argument("--strategy", default="dfs", choices=("dfs", "random", "pct"))
    p.add_argument("--seed", type=int, default=0, help="seed of random and pct (default 0)")
    p.add_argument("--max-schedules", type=int, default=None, metavar="N")
    p.add_argument("--trace", action="store_true", help="print every step of the counterexample")
    p.set_defaults(func=_explore)
    r = subparsers.add_parser(
        "replay", help="run one schedule of a scenario and print its trace",
        description="Run SCHEDULE (task names, NAME*N for N steps in a row, e.g. "
        f"'U*3 F*2 U*10') on SCENARIO and print every step. Scenarios: {names}.",
        epilog="SCHEDULE names at least one step: an empty schedule is an error, not a run. "
        "Repeat counts are taken one step at a time, so a count larger than the task can run "
        "fails at the first step it cannot take. Exit status: 0 when no violation occurred "
        "(the last line says whether every task finished), 1 on a violation, 2 for a bad "
        "scenario, schedule or --fixes, or a step that cannot run.")
    r.add_argument("scenario", metavar="SCENARIO")
    r.add_argument("schedule", metavar="SCHEDULE")
    r.add_argument("--fixes", default="all", help=FIXES_HELP)
    r.set_defaults(func=_replay)


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _fixes_name(fixes: Fixes) -> str:
    if fixes == Fixes.all():
        return "all"
    if fixes == Fixes.none():
        return "none"
    return "without:" + ",".join(n for n in Fixes.names() if not getattr(fixes, n))


def _explore(args) -> int:
    from .. import scenarios
    from .explore import explore

    try:
        scn = scenarios.get(args.scenario)
        fixes = parse_fixes(args.fixes)
        res = explore(scn, fixes=fixes, max_preemptions=args.bound, strategy=args.strategy,
                      seed=args.seed, max_schedules=args.max_schedules)
    except (ValueError, TypeError) as err:
        return _fail(str(err))
    print(f"scenario:  {scn.name} - {scn.title}")
    print(f"property:  {scn.property}")
    print(f"fixes:     {fixes}")
    print(f"explored:  {res.schedules} schedules ({res.pruned} already-seen states skipped), "
          f"{res.steps} steps, strategy {res.strategy}, bound {res.bound}")
    print(f"window:    {'reached' if res.window_reached else 'NOT reached'} ({scn.window_text})")
    print(f"verdict:   {res.verdict()}")
    if res.found:
        cx = res.counterexample
        print()
        print(_runs_table(cx.trace))
        print()
        print(f"schedule:  {cx.schedule}")
        print(f"replay:    python -m ksmlab replay {scn.name} '{cx.schedule}' "
              f"--fixes {_fixes_name(fixes)}")
        if args.trace:
            print()
            print(cx.trace)
        return 1
    return 0


def _runs_table(trace) -> str:
    """The counterexample as runs of one task: steps, task, and where the run ended."""
    rows = []
    start = 0
    for i, ev in enumerate(trace):
        if i + 1 == len(trace) or trace[i + 1].task != ev.task:
            first = trace[start].index
            span = f"{first}" if first == ev.index else f"{first}-{ev.index}"
            mark = "*" if trace[start].preemption else " "
            rows.append(f"{span:>8}{mark} {ev.task:<4} {ev.label:<48} {ev.detail}".rstrip())
            start = i + 1
    head = f"{'steps':>8}  {'task':<4} {'ends at':<48} why"
    return "\n".join([head] + rows)


def _empty_schedule_error(text: str) -> str:
    """Why SCHEDULE is refused before it runs: it names no step ('' otherwise)."""
    if text.replace(",", " ").split():
        return ""
    return f"the schedule {text!r} is empty: name at least one step, e.g. 'U*3 F*2 U*10'"


def _replay(args) -> int:
    from .. import scenarios
    from ..sched.scheduler import ScheduleError
    from .explore import replay

    try:
        scn = scenarios.get(args.scenario)
        fixes = parse_fixes(args.fixes)
        refused = _empty_schedule_error(args.schedule)
        if refused:
            return _fail(refused)
        rep = replay(scn, args.schedule, fixes=fixes)
    except (ValueError, TypeError, ScheduleError, OverflowError, MemoryError) as err:
        return _fail(str(err) or type(err).__name__)
    print(rep.trace)
    print()
    if rep.violation:
        print(f"violation: {rep.violation}")
        return 1
    done = all(t.done for t in rep.scheduler.tasks.values())
    print("no violation" + ("" if done else " so far (some tasks have not finished)"))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ksmlab")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)
