"""Scheduler: step kernel paths by hand (or by an explorer), one yield point at a time.

Exploration is stateless: ``undo()`` and every backtrack rebuild the world from the
scenario and re-execute the prefix, which the model's determinism makes exact.
"""

import weakref

from ..errors import KernelError, KernelOops
from .points import Blocked
from .schedule import Schedule

__all__ = ["Scheduler", "TaskState", "TraceEvent", "Trace", "ScheduleError"]


class ScheduleError(ValueError):
    """A step names a task that cannot run (unknown, finished or blocked)."""


class TaskState:
    """A task: a named kernel path in progress, and where it is paused."""

    __slots__ = ("name", "title", "gen", "event", "done", "result", "error", "steps", "key")

    def __init__(self, name, title, gen):
        self.name = name
        self.title = title
        self.gen = gen
        self.event = None  # the Point/Blocked it is paused at; None before its start
        self.done = False
        self.result = None
        self.error = None  # the KernelError or KernelOops it ended with
        self.steps = 0
        self.key = None  # the state key's description of its frames, kept until it steps

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<task {self.name}: {self.status()}>"

    @property
    def blocked(self) -> bool:
        ev = self.event
        return ev.__class__ is Blocked and not ev.ready()

    @property
    def runnable(self) -> bool:
        return not self.done and not self.blocked

    @property
    def label(self) -> str:
        """Where the task is paused: a kernel site such as ``break_ksm:cond_resched``."""
        if self.done:
            return "done"
        return "start" if self.event is None else self.event.label

    def status(self) -> str:
        """One line: where it is paused and, when it cannot run, why."""
        if self.done:
            if self.error is not None:
                return f"ended with {self.error}"
            return "finished"
        if self.event is None:
            return f"not started: {self.title}"
        if self.blocked:
            return f"blocked at {self.event.label}: {self.event.reason}"
        return f"at {self.event.label}: {self.event.reason}"


class TraceEvent:
    """One step: which task ran, and where it stopped (or how it ended)."""

    __slots__ = ("index", "task", "label", "detail", "preemption")

    def __init__(self, index, task, label, detail, preemption):
        self.index = index
        self.task = task
        self.label = label
        self.detail = detail
        self.preemption = preemption

    def text(self) -> str:
        mark = "*" if self.preemption else " "
        return f"{self.index:>4}{mark} {self.task:<3} {self.label:<52} {self.detail}".rstrip()

    def __repr__(self) -> str:
        return f"TraceEvent({self.text()!r})"


class Trace(list):
    """The steps so far; ``str()`` is one line per step (``*`` marks a preemption)."""

    def __str__(self) -> str:
        return "\n".join(ev.text() for ev in self)


def _abandon(w, tasks) -> None:
    for t in tasks:
        if not t.done:
            w.current = t
            try:
                t.gen.close()
            except Exception:  # noqa: BLE001 - an abandoned path may trip on its own state
                pass
            t.done = True
    w.current = None


class Scheduler:
    """Run a scenario's tasks one step at a time.

    ``runnable()`` lists the names of tasks that can run, sorted; ``step(name)`` runs that
    task to its next yield point and returns the TraceEvent; ``run_until_blocked(name)``
    steps it until it ends or blocks; ``undo()`` takes the last step back. ``oops`` holds
    the KernelOops that ended the run, if any.
    """

    def __init__(self, scenario, fixes=None):
        from .. import scenarios
        from ..fixes import Fixes

        self.scenario = scenarios.get(scenario)
        self.fixes = fixes if fixes is not None else Fixes.all()
        if not isinstance(self.fixes, Fixes):
            raise TypeError(f"fixes must be a Fixes, not {type(self.fixes).__name__}")
        self._reset()

    def close(self) -> None:
        """Abandon the tasks still running (their cleanup runs against this world, each as
        the current task). Also done when the scheduler is dropped or reset."""
        self._finalizer()
        self._live = []

    def _reset(self):
        if getattr(self, "tasks", None):
            self.close()
        self.kernel = self.scenario.fresh(self.fixes)
        self.world = self.kernel.world
        self.world.interleaved = True
        self.tasks = {}
        for name, title, gen in self.scenario.tasks(self.kernel):
            self.tasks[name] = TaskState(name, title, gen)
        # when the scheduler goes, close its paths properly rather than leaving them to the
        # garbage collector, which would run their cleanup with no current task
        self._finalizer = weakref.finalize(self, _abandon, self.world, list(self.tasks.values()))
        # the tasks not yet ended, sorted by name: a task ends only in a step (or when the
        # scheduler is closed), so ``runnable()`` and ``finished`` need not look at the rest
        self._live = sorted(self.tasks.values(), key=lambda t: t.name)
        self._steps = []  # the names of the tasks stepped, in order
        self._events = []  # (task, label, detail, preemption) of each step
        self._schedule = Schedule()
        self._trace = Trace()
        self.oops = None
        self.preemptions = 0
        self._last = None

    @property
    def schedule(self) -> Schedule:
        """The steps taken so far."""
        s = self._schedule
        if len(s) != len(self._steps):
            s = self._schedule = tuple.__new__(Schedule, self._steps)
        return s

    @property
    def trace(self) -> Trace:
        """The TraceEvents of the steps taken so far, one Trace that grows with them. The
        events are made when the trace is read: the explorer re-runs most of its steps
        (``_step``) without ever reading them."""
        trace, events = self._trace, self._events
        for i in range(len(trace), len(events)):
            trace.append(TraceEvent(i + 1, *events[i]))
        return trace

    # -- what can run --------------------------------------------------------------
    def runnable(self) -> list:
        """Names of the tasks that can take a step, sorted."""
        if self.oops is not None:
            return []
        return [t.name for t in self._live
                if t.event.__class__ is not Blocked or t.event.ready()]

    @property
    def finished(self) -> bool:
        return not self._live or self.oops is not None

    @property
    def deadlocked(self) -> bool:
        return not self.finished and not self.runnable()

    def why_not(self, name) -> str:
        """Why ``name`` cannot take a step now (empty if it can)."""
        t = self.tasks.get(name)
        if t is None:
            return f"there is no task {name!r} (tasks: {', '.join(sorted(self.tasks))})"
        if self.oops is not None:
            return "the kernel has oopsed"
        if t.done:
            return f"task {name} has {t.status()}"
        if t.blocked:
            return f"task {name} is {t.status()}"
        return ""

    # -- stepping ----------------------------------------------------------------------
    def step(self, name) -> TraceEvent:
        """Run task ``name`` to its next yield point."""
        self._step(name)
        return self.trace[-1]

    def _step(self, name) -> None:
        """``step`` without making its TraceEvent (the trace makes it when read)."""
        t = self.tasks.get(name)
        if t is None or t.done or self.oops is not None or t.blocked:
            raise ScheduleError(f"step {len(self._steps) + 1}: {self.why_not(name)}")
        last = self._last
        preemption = False
        if last is not None and last is not t and not last.done:
            ev = last.event
            preemption = ev.__class__ is not Blocked or ev.ready()
            if preemption:
                self.preemptions += 1
        w = self.world
        w.current = t
        try:
            ev = t.gen.send(None)
            t.event = ev
            label, detail = ev.label, ev.reason
            if ev.__class__ is Blocked and not ev.ready():
                detail = f"blocked: {detail}"
        except StopIteration as stop:
            t.done, t.result = True, stop.value
            label, detail = "done", "returned" if stop.value is None else f"returned {stop.value!r}"
        except KernelError as err:
            t.done, t.error = True, err
            label, detail = "done", f"failed: {err}"
        except KernelOops as oops:
            t.done, t.error = True, oops
            self.oops = oops
            w.dmesg.append(str(oops))
            label, detail = "OOPS", str(oops)
        finally:
            w.current = None
        if t.done:
            self._live.remove(t)
        t.steps += 1
        t.key = None
        self._last = t
        self._steps.append(name)
        self._events.append((name, label, detail, preemption))

    def take(self, schedule):
        """Take the steps of ``schedule`` (a Schedule, its text or a list of task names)
        in order, yielding each TraceEvent. A run ``NAME*N`` is taken step by step, never
        expanded, so a count larger than its task can run fails (ScheduleError) at the first
        step the task cannot take, without storing the steps. A last ``NAME*`` (no count)
        steps NAME until it finishes or blocks (at least one step)."""
        for name, count in Schedule.runs_of(schedule):
            if count is None:
                yield self.step(name)
                while self.tasks[name].runnable and self.oops is None:
                    yield self.step(name)
                continue
            for _ in range(count):
                yield self.step(name)

    def run_until_blocked(self, name, stop=None, limit=10_000) -> list:
        """Step task ``name`` for as long as it can go: until it ends, blocks (or the
        kernel oopses), or ``stop(self)`` (called after each step) returns true, e.g. at
        a property violation. Returns the TraceEvents taken (at least one: the first step
        must be allowed, else ScheduleError). ``limit`` steps at most (ValueError if a
        path never stops, which no kernel path of the model does)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int, not {limit!r}")
        t = self.tasks.get(name)
        events = [self.step(name)]
        while t.runnable and self.oops is None and not (stop is not None and stop(self)):
            if len(events) >= limit:
                raise ValueError(f"task {name} ran {limit} steps without ending or blocking")
            events.append(self.step(name))
        return events

    def run(self, schedule) -> "Scheduler":
        """Take the steps of ``schedule`` (as ``take``) in order."""
        for _ev in self.take(schedule):
            pass
        return self

    def undo(self) -> None:
        """Take the last step back (by re-executing the steps before it)."""
        if not self.schedule:
            raise ScheduleError("nothing to undo")
        prefix = self.schedule[:-1]
        self._reset()
        self.run(prefix)
