"""The explorer, timed: for each race scenario, the time to find the bug with its fix off
and the time to cover bound 2 exhaustively with every fix on; for the capstone, the oops
before the fixes, the bound-2 proof after them and the bound-3 proof. Each bound-2 proof
runs twice, side by side: with the exact state cache (the search as it was,
``reduction="exact"``) and with the default dominance cache. Targets, in CPU seconds, for
the default search: a bug in under 1 s, a fixed scenario in under 10 s, the capstone's
bound-2 proof in under 30 s and its bound-3 proof in under 2 minutes. A run that passes
its limit (the old search's capstone proofs would take many minutes) is stopped there and
reported with how far it got."""

import time

from .. import scenarios
from ..check.explore import drain, explore_steps
from ..fixes import Fixes

__all__ = ["TARGETS", "LIMIT", "rows", "report"]

CAPSTONE = "merge_across_nodes_switch"
TARGETS = {"find": 1.0, "prove": 10.0, "capstone": 30.0, "capstone3": 120.0}
LIMIT = 300.0  # CPU seconds after which a run is stopped


def _run(name, fixes, kind, bound=2, reduction="dominance", limit=LIMIT):
    cpu0, t0 = time.process_time(), time.perf_counter()
    steps = explore_steps(name, fixes=fixes, max_preemptions=bound, reduction=reduction)
    seen = (0, 0)  # the latest (schedules, bound), for a run that is stopped

    def note(report):
        nonlocal seen
        seen = report

    res = drain(steps, note, lambda: time.process_time() - cpu0 > limit)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if name == CAPSTONE and kind == "prove":
        target = TARGETS["capstone3" if bound == 3 else "capstone"]
    else:
        target = TARGETS[kind]
    timed = reduction == "dominance"
    row = {"scenario": name, "kind": kind, "bound": bound, "search": reduction,
           "wall": wall, "cpu": cpu, "target": target if timed else None,
           "met": not timed or (res is not None and cpu < target)}
    if res is None:  # stopped: how far it got
        row.update(result=f"stopped@{seen[1]}", schedules=seen[0], pruned=None, states=None,
                   steps=None)
    else:
        row.update(result="found" if res.found else
                   ("exhaustive" if res.exhaustive else "partial"),
                   schedules=res.schedules, pruned=res.pruned, states=res.states,
                   steps=res.steps)
    return row


def rows():
    """The rows, one at a time (the capstone's take minutes)."""
    for name in scenarios.names():
        scn = scenarios.get(name)
        broken = Fixes.none() if scn.fix is None else Fixes.all().without(scn.fix)
        yield _run(name, broken, "find")
        yield _run(name, Fixes.all(), "prove", reduction="exact")
        yield _run(name, Fixes.all(), "prove")
    yield _run(CAPSTONE, Fixes.all(), "prove", bound=3, limit=TARGETS["capstone3"])


def _n(v):
    return "-" if v is None else str(v)


def report(out) -> int:
    """Print the explorer's table; returns the number of missed targets."""
    print("explorer, dfs with the state cache: exact (old) and dominance (new, default); "
          "times and targets in CPU seconds", file=out)
    print(f"{'scenario':<28} {'task':<6} {'b':>1} {'search':<9} {'result':<10} "
          f"{'schedules':>9} {'skipped':>8} {'states':>7} {'steps':>9} {'sched/s':>8} "
          f"{'wall s':>7} {'cpu s':>7} {'target':>7}", file=out)
    missed = 0
    for r in rows():
        rate = r["schedules"] / r["cpu"] if r["cpu"] else 0
        if r["target"] is None:
            verdict = ""
        else:
            verdict = f"{('<' + str(r['target'])):>6} {'ok' if r['met'] else 'MISSED'}"
        missed += not r["met"]
        print(f"{r['scenario']:<28} {r['kind']:<6} {r['bound']:>1} {r['search']:<9} "
              f"{r['result']:<10} {r['schedules']:>9} {_n(r['pruned']):>8} "
              f"{_n(r['states']):>7} {_n(r['steps']):>9} {rate:>8.0f} {r['wall']:>7.2f} "
              f"{r['cpu']:>7.2f} {verdict}", file=out, flush=True)
    return missed
