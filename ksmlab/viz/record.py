"""A run of a scenario as data for swimlanes: the steps, which locks each task held
after every step, and the violation (if any) with the step it appeared at."""

from ..check.explore import violation_of
from ..sched.scheduler import Scheduler
from .locks import held_locks

__all__ = ["Timeline", "timeline"]


class Timeline:
    """``events`` (TraceEvents), ``holds[i]`` (the held_locks after step i+1),
    ``tasks`` (names, sorted), ``violation`` and ``violation_step`` (1-based or None)."""

    def __init__(self, tasks, titles=None):
        self.tasks = sorted(tasks)
        self.titles = dict(titles or {})
        self.events = []
        self.holds = []
        self.violation = None
        self.violation_step = None

    def record(self, sched, violation=None) -> None:
        """Append the scheduler's latest step (call after each ``step``)."""
        self.events.append(sched.trace[-1])
        self.holds.append(held_locks(sched.world))
        if violation is not None and self.violation is None:
            self.violation = violation
            self.violation_step = len(self.events)

    def intervals(self) -> list:
        """(task, lock, first step, last step) for every stretch a lock was held, sorted."""
        out = []
        open_ = {}
        for i, holds in enumerate(self.holds, start=1):
            now = {(t, lock) for t, lock, _ in holds}
            for key in sorted(set(open_) - now):
                out.append((key[0], key[1], open_.pop(key), i - 1))
            for key in sorted(now - set(open_)):
                open_[key] = i
        for key, start in sorted(open_.items()):
            out.append((key[0], key[1], start, len(self.holds)))
        return sorted(out)


def timeline(scenario, schedule, fixes=None) -> Timeline:
    """Replay ``schedule`` on ``scenario`` and record it; stops at the first violation."""
    from .. import scenarios
    from ..fixes import Fixes
    from ..sched.schedule import Schedule

    scn = scenarios.get(scenario)
    if isinstance(schedule, str):
        schedule = Schedule.parse(schedule)
    sched = Scheduler(scn, fixes if fixes is not None else Fixes.all())
    tl = Timeline(sched.tasks, {n: t.title for n, t in sched.tasks.items()})
    try:
        for name in schedule:
            sched.step(name)
            tl.record(sched, violation_of(scn, sched))
            if tl.violation is not None:
                break
    finally:
        sched.close()
    return tl
