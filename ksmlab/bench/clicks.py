"""What a learner waits for: each stepper click (one step, then the pictures redrawn)
while clicking each bug's textbook schedule with its fix off. The target is on wall-clock
time; the CPU time of the same clicks is printed beside it, the steadier figure on a
shared machine."""

import time

__all__ = ["CLICK_TARGET_MS", "widget_clicks", "report"]

CLICK_TARGET_MS = 150  # the 95th percentile


def widget_clicks():
    """Each click's wall-clock and CPU ms: {scenario: [(wall, cpu), ...]}; {} without the
    lab extras."""
    try:
        from ..widgets.stepper import Stepper
    except ImportError:
        return {}
    from .. import Fixes, explore, scenarios
    from ..sched.schedule import Schedule

    out = {}
    for name in scenarios.names():
        scn = scenarios.get(name)
        if scn.fix is None:
            continue  # the bug scenarios only
        fixes = Fixes.all().without(scn.fix)
        schedule = explore(name, fixes=fixes).counterexample.schedule
        stepper = Stepper(name, fixes)  # the first drawing happens here
        times = []
        for task in Schedule.parse(schedule):
            t0, c0 = time.perf_counter(), time.process_time()
            stepper.buttons[task].click()
            times.append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
        stepper.session.close()
        out[name] = times
    return out


def _median(ms):
    return sorted(ms)[len(ms) // 2]


def _p95(ms):
    s = sorted(ms)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def report(out) -> int:
    """Print the click table; returns the number of scenarios over the target."""
    clicks = widget_clicks()
    if not clicks:
        print("stepper clicks: skipped (ipywidgets or matplotlib not installed)", file=out)
        return 0
    print(f"stepper click (step + redraw), ms; target: 95th percentile < {CLICK_TARGET_MS} ms",
          file=out)
    print("{:<28} {:>6} {:>7} {:>7} {:>7}   {:>7} {:>7}".format(
        "scenario", "clicks", "median", "p95", "max", "cpu med", "cpu p95"), file=out)
    missed = 0
    for name, times in clicks.items():
        ms = [wall for wall, _ in times]
        cpu = [c for _, c in times]
        missed += _p95(ms) >= CLICK_TARGET_MS
        print(f"{name:<28} {len(ms):>6} {_median(ms):>7.0f} {_p95(ms):>7.0f} {max(ms):>7.0f}"
              f"   {_median(cpu):>7.1f} {_p95(cpu):>7.1f}", file=out)
    return missed
