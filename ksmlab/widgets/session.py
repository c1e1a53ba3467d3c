"""What the stepper shows, without any widget: a scenario under some fixes, a
Scheduler stepped by hand, and the texts for the goal, the task buttons and the banner.

>>> from ksmlab.widgets.session import StepSession
>>> s = StepSession("fork_behind_unmerge_cursor")
>>> s.fixes.cursor_insertion
False
>>> s.step("U")
''
>>> str(s.schedule), s.banner()[0]
('U', 'running')
>>> s.close()
"""

from ..check.explore import violation_of
from ..fixes import Fixes
from ..sched.scheduler import Scheduler

__all__ = ["StepSession"]


class StepSession:
    """One scenario being stepped by hand. ``fixes`` defaults to every fix but the one
    the scenario is about (so its race can be played); ``step`` and ``undo`` return ""
    or the reason they were refused, and never raise for a refused step."""

    def __init__(self, scenario, fixes=None):
        from .. import scenarios

        self.scenario = scenarios.get(scenario)
        if fixes is None:
            fix = self.scenario.fix
            fixes = Fixes.all().without(fix) if fix else Fixes.none()
        self.fixes = fixes
        self.sched = None
        self.reset()

    # -- actions ------------------------------------------------------------------------
    def reset(self, fixes=None) -> None:
        """Start over (under new ``fixes`` when given)."""
        if fixes is not None:
            self.fixes = fixes
        self.close()
        self.sched = Scheduler(self.scenario, self.fixes)
        self.violation = None
        self.violation_step = None

    def close(self) -> None:
        if self.sched is not None:
            self.sched.close()

    def why_not(self, name) -> str:
        if self.violation is not None:
            return f"the property is already broken at step {self.violation_step}: undo or reset"
        return self.sched.why_not(name)

    def step(self, name) -> str:
        reason = self.why_not(name)
        if reason:
            return f"step {len(self.sched.schedule) + 1} refused: {reason}"
        self.sched.step(name)
        self._check()
        return ""

    def _check(self) -> bool:
        """Record a violation after the latest step; True if there is one."""
        self.violation = violation_of(self.scenario, self.sched)
        if self.violation is not None:
            self.violation_step = len(self.sched.schedule)
        return self.violation is not None

    def run_until_blocked(self, name) -> str:
        """Run task ``name`` for as long as it can go (Scheduler.run_until_blocked),
        stopping at a violation; "" or the reason it was refused."""
        reason = self.why_not(name)
        if reason:
            return f"step {len(self.sched.schedule) + 1} refused: {reason}"
        self.sched.run_until_blocked(name, stop=lambda _s: self._check())
        self._check()
        return ""

    def run(self, schedule) -> str:
        """Take the steps of ``schedule`` (text or Schedule); stop at the first refusal
        and return its reason."""
        from ..sched.schedule import Schedule

        steps = Schedule.parse(schedule) if isinstance(schedule, str) else schedule
        for name in steps:
            reason = self.step(name)
            if reason:
                return reason
        return ""

    def undo(self) -> str:
        if not self.sched.schedule:
            return "nothing to undo"
        prefix = self.sched.schedule[:-1]
        self.reset()
        return self.run(prefix)

    # -- what to show -------------------------------------------------------------------
    @property
    def schedule(self):
        return self.sched.schedule

    @property
    def world(self):
        return self.sched.world

    def goal(self) -> str:
        """What to do, without the title (shown above it): the property to break, not
        the moment that breaks it (finding that is the exercise)."""
        return (
            f"Be the scheduler: pick which task runs next. Goal: break the property "
            f"\u201c{self.scenario.property}\u201d."
        )

    def retries(self, name) -> int:
        """How many times task ``name`` has stopped at a retry point (a label ending in
        ``:retry``, such as migrate_pages' EAGAIN pass) so far."""
        return sum(ev.task == name and ev.label.endswith(":retry") for ev in self.sched.trace)

    def retry_note(self, name) -> str:
        """A plain sentence while task ``name`` is looping on a retry, else ""."""
        t = self.sched.tasks[name]
        n = self.retries(name)
        if t.done or n == 0:
            return ""
        trace = reversed(self.sched.trace)
        ev = next(ev for ev in trace if ev.task == name and ev.label.endswith(":retry"))
        times = "once" if n == 1 else f"{n} times"
        return (
            f"{name} is looping on a retry: it has gone round {ev.label} {times} "
            f"({ev.detail}). \u201cRun {name} until blocked\u201d takes it through the "
            "passes in one click."
        )

    def tasks(self) -> list:
        """(name, state, status line, can run) per task, sorted by name. ``state`` is
        "finished", "failed", "blocked", "waiting" (cannot run for another reason, e.g. the
        property is broken) or "ready"."""
        out = []
        for name in sorted(self.sched.tasks):
            t = self.sched.tasks[name]
            reason = self.why_not(name)
            if t.done:
                state = "failed" if t.error is not None else "finished"
            elif t.blocked:
                state = "blocked"
            else:
                state = "waiting" if reason else "ready"
            status = t.status() if not reason or t.done or t.blocked else reason
            out.append((name, state, status, not reason))
        return out

    def banner(self) -> tuple:
        """(kind, text): kind is "violation", "clean" or "running"."""
        n = len(self.sched.schedule)
        if self.violation is not None:
            return "violation", f"Property broken after step {n}: {self.violation}"
        if self.sched.finished:
            return "clean", (
                f"The run ended cleanly after {n} steps: every task finished and the "
                "property holds."
            )
        runnable = ", ".join(self.sched.runnable())
        return "running", f"Step {n}: runnable now: {runnable}."
