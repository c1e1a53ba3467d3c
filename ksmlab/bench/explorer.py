"""The explorer, timed: for each race scenario, the time to find the bug with its fix off
and the time to cover bound 2 exhaustively with every fix on; for the capstone, the oops
before the fixes and the bound-2 proof after them. Targets: a bug in under 1 s, a fixed
scenario in under 10 s, the capstone in under 30 s."""

import time

from .. import scenarios
from ..check.explore import explore
from ..fixes import Fixes

__all__ = ["TARGETS", "rows", "report"]

TARGETS = {"find": 1.0, "prove": 10.0, "capstone": 30.0}


def _run(name, fixes, kind):
    cpu0, t0 = time.process_time(), time.perf_counter()
    res = explore(name, fixes=fixes, max_preemptions=2)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    target = TARGETS["capstone" if name == "merge_across_nodes_switch" else kind]
    return {"scenario": name, "kind": kind, "found": res.found, "exhaustive": res.exhaustive,
            "schedules": res.schedules, "pruned": res.pruned, "steps": res.steps,
            "wall": wall, "cpu": cpu, "target": target, "met": wall < target}


def rows():
    out = []
    for name in scenarios.names():
        scn = scenarios.get(name)
        broken = Fixes.none() if scn.fix is None else Fixes.all().without(scn.fix)
        out.append(_run(name, broken, "find"))
        out.append(_run(name, Fixes.all(), "prove"))
    return out


def report(out) -> int:
    """Print the explorer's table; returns the number of missed targets."""
    print("explorer, bound 2, dfs with the state cache", file=out)
    print(f"{'scenario':<28} {'task':<6} {'result':<10} {'schedules':>9} {'skipped':>8} "
          f"{'steps':>9} {'sched/s':>8} {'wall s':>7} {'cpu s':>6} {'target':>7}", file=out)
    missed = 0
    for r in rows():
        result = "found" if r["found"] else ("exhaustive" if r["exhaustive"] else "partial")
        rate = (r["schedules"] + r["pruned"]) / r["wall"] if r["wall"] else 0
        ok = "ok" if r["met"] else "MISSED"
        missed += not r["met"]
        print(f"{r['scenario']:<28} {r['kind']:<6} {result:<10} {r['schedules']:>9} "
              f"{r['pruned']:>8} {r['steps']:>9} {rate:>8.0f} {r['wall']:>7.2f} "
              f"{r['cpu']:>6.2f} {('<' + str(r['target'])):>6} {ok}", file=out)
    return missed
