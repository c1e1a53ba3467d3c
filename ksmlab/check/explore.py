"""The explorer: search interleavings of a scenario's tasks for one that breaks its
property, fewest preemptions first, or report that none does within the bound.

A preemption is a switch away from a task that could have gone on; switching when a task
has finished or blocked is free. Exploration is stateless re-execution from the
scenario's initial world (``Scheduler``), so it needs no snapshots and stays exact.
"""

import random
import time

from ..fixes import Fixes
from ..sched.schedule import Schedule
from ..sched.scheduler import Scheduler
from .invariants import first_violation
from .statekey import state_key
from .violation import Violation

__all__ = [
    "explore",
    "explore_steps",
    "replay",
    "ExploreResult",
    "Counterexample",
    "Replay",
    "violation_of",
]


def violation_of(scenario, sched):
    """What is broken after the latest step (a Violation), or None: an oops, an
    invariant, a deadlock, and once every task has ended, the scenario's property and
    lost data."""
    if sched.oops is not None:
        return Violation(f"oops: {sched.oops}", sched.oops.culprits)
    w = sched.world
    bad = first_violation(w, quiescent=False)
    if bad is not None:
        return bad[1].prefixed(f"invariant {bad[0]}: ")
    msg = scenario.check_step(sched)
    if msg is not None:
        return msg
    if all(t.done for t in sched.tasks.values()):
        msg = scenario.final(w) or scenario.lost_data(w)
        if msg is not None:
            return msg
        bad = first_violation(w, quiescent=True)
        if bad is not None:
            return bad[1].prefixed(f"invariant {bad[0]}: ")
        return None
    if not sched.runnable():
        stuck = "; ".join(f"{n} {t.status()}" for n, t in sorted(sched.tasks.items()) if not t.done)
        return Violation(f"deadlock: {stuck}")
    return None


class Counterexample:
    """A schedule that breaks the property, with what broke and the steps taken."""

    def __init__(self, scenario, fixes, schedule, violation, trace, preemptions):
        self.scenario = scenario
        self.fixes = fixes
        self.schedule = str(schedule)
        self.violation = violation
        self.trace = trace
        self.preemptions = preemptions

    @property
    def steps(self) -> int:
        return len(self.trace)

    def task_order(self) -> list:
        """The tasks in the order they ran, consecutive steps folded: ``['U', 'F', 'U']``."""
        return Schedule.parse(self.schedule).runs()

    def replay_call(self) -> str:
        return f"ksmlab.replay({self.scenario.name!r}, {self.schedule!r}, fixes={self.fixes!s})"

    def __str__(self) -> str:
        return (
            f"violation: {self.violation}\nschedule ({self.preemptions} preemptions, "
            f"{self.steps} steps): {self.schedule}\n{self.trace}\nreplay: {self.replay_call()}"
        )


class ExploreResult:
    """What an exploration found (``found``, ``counterexample``), how much it covered
    (``schedules``, ``exhaustive`` within ``bound``), whether the race window was ever
    reached (``window_reached``), and the time it took (``elapsed``)."""

    def __init__(self, scenario, fixes, strategy, bound):
        self.scenario = scenario
        self.fixes = fixes
        self.strategy = strategy
        self.bound = bound
        self.found = False
        self.counterexample = None
        self.schedules = 0
        self.steps = 0
        self.exhaustive = False
        self.pruned = 0
        self.window_reached = False
        self.elapsed = 0.0

    def verdict(self) -> str:
        if self.found:
            return (
                f"violation found with {self.counterexample.preemptions} preemption(s): "
                f"{self.counterexample.violation}"
            )
        if self.exhaustive:
            return f"no violation within bound {self.bound}"
        return f"no violation in {self.schedules} schedules (bound {self.bound} not covered)"

    def __str__(self) -> str:
        return (
            f"{self.scenario.name} with {self.fixes}: {self.verdict()} "
            f"[{self.strategy}, {self.schedules} schedules, {self.steps} steps]"
        )


class Replay:
    """The outcome of one schedule: the scheduler after it, the trace, any violation."""

    def __init__(self, sched, violation):
        self.scheduler = sched
        self.trace = sched.trace
        self.violation = violation
        self.schedule = str(sched.schedule)
        self.preemptions = sched.preemptions


def replay(scenario, schedule, fixes=None) -> Replay:
    """Run ``schedule`` (a Schedule, its text or a list of task names) on ``scenario``
    until the first violation; deterministic. Raises ScheduleError naming the step when a
    task in it cannot run there (a repeat count is never expanded: ``U*99999999`` fails
    at the step after U's last)."""
    from .. import scenarios

    scn = scenarios.get(scenario)
    fixes = _fixes(fixes)
    Schedule.runs_of(schedule)  # a bad schedule fails before the world is built
    sched = Scheduler(scn, fixes)
    violation = None
    for _ev in sched.take(schedule):
        violation = violation_of(scn, sched)
        if violation is not None:
            break
    return Replay(sched, violation)


def _fixes(fixes):
    if fixes is None:
        return Fixes.all()
    if isinstance(fixes, str):
        if fixes in ("all", "none"):
            return Fixes.all() if fixes == "all" else Fixes.none()
        raise ValueError(f"fixes must be a Fixes, 'all' or 'none', not {fixes!r}")
    if not isinstance(fixes, Fixes):
        raise TypeError(f"fixes must be a Fixes, not {type(fixes).__name__}")
    return fixes


def _count(value, name, least):
    """``value`` as an int argument (a bool is not a count), at least ``least``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if least is not None and value < least:
        raise ValueError(f"{name} must be >= {least}, not {value}")


class _Search:
    """Shared bookkeeping of one exploration."""

    def __init__(self, scn, fixes, result, max_schedules, cache):
        self.scn, self.fixes, self.result = scn, fixes, result
        self.max_schedules = max_schedules
        self.best = None
        self.cache = cache
        self.visited = {}

    def seen(self, sched) -> bool:
        """Whether this exact state (with at most these preemptions and steps) was
        already explored; records it otherwise."""
        if not self.cache:
            return False
        key = state_key(sched)
        here = (sched.preemptions, len(sched.schedule))
        before = self.visited.get(key)
        if before is not None and before[0] <= here[0] and before[1] <= here[1]:
            self.result.pruned += 1
            return True
        self.visited[key] = here
        return False

    def budget_left(self) -> bool:
        return self.max_schedules is None or self.result.schedules < self.max_schedules

    def start(self, prefix):
        """A scheduler after ``prefix``, checking only the last step (the others were
        checked when first taken). Returns (sched, memo, violation)."""
        sched = Scheduler(self.scn, self.fixes)
        memo = {}
        violation = None
        for i, name in enumerate(prefix):
            sched.step(name)
            self.result.steps += 1
            self._window(sched, memo)
            if i == len(prefix) - 1:
                violation = violation_of(self.scn, sched)
        return sched, memo, violation

    def _window(self, sched, memo):
        if not self.result.window_reached and self.scn.window(sched, memo):
            self.result.window_reached = True

    def step(self, sched, memo, name):
        sched.step(name)
        self.result.steps += 1
        self._window(sched, memo)
        return violation_of(self.scn, sched)

    def leaf(self, sched, violation):
        r = self.result
        r.schedules += 1
        if violation is None:
            return
        key = (sched.preemptions, len(sched.schedule))
        if self.best is None or key < self.best[0]:
            self.best = (
                key,
                Counterexample(
                    self.scn, self.fixes, sched.schedule, violation, sched.trace, sched.preemptions
                ),
            )


def _dfs_bound(search, bound, exact):
    """Every schedule with at most ``bound`` preemptions; leaves with fewer than ``exact``
    were counted by an earlier bound. Returns False if the budget ran out. A generator: it
    yields after each prefix it takes up, the progress so far after a schedule, None
    after a skipped one (a place where whoever drives the search may pause it)."""
    stack = [()]
    while stack:
        if not search.budget_left():
            return False
        prefix = stack.pop()
        sched, memo, violation = search.start(prefix)
        if violation is None and prefix and search.seen(sched):
            sched.close()
            yield None
            continue
        while violation is None and not sched.finished:
            runnable = sched.runnable()
            last = sched._last
            if last is not None and last.runnable:
                first, cost = last.name, 1
            else:
                first, cost = runnable[0], 0
            if sched.preemptions + cost <= bound:
                for alt in reversed(runnable):
                    if alt != first:
                        stack.append(sched.schedule + (alt,))
            violation = search.step(sched, memo, first)
            if violation is None and not sched.finished and search.seen(sched):
                break
        else:
            counted = sched.preemptions >= exact
            if counted:
                search.leaf(sched, violation)
            sched.close()
            yield (search.result.schedules, bound) if counted else None
            continue
        sched.close()
        yield None
    return True


def _random_run(search, rng, choose):
    sched, memo, violation = search.start(())
    while violation is None and not sched.finished:
        violation = search.step(sched, memo, choose(sched, rng))
    search.leaf(sched, violation)
    sched.close()
    yield search.result.schedules, search.result.bound


def explore(
    scenario,
    fixes=None,
    max_preemptions=2,
    strategy="dfs",
    seed=0,
    max_schedules=None,
    progress=None,
    cache=True,
) -> ExploreResult:
    """Search the interleavings of ``scenario`` under ``fixes`` for a violation.

    ``dfs`` raises the preemption bound from 0 to ``max_preemptions``: the first bound
    with a violation is explored to its end and the shortest counterexample reported.
    ``random`` and ``pct`` (probabilistic concurrency testing, with ``max_preemptions``+1
    priority change points) run ``max_schedules`` (default 1000) seeded runs.
    ``progress(schedules, bound)`` is called after each schedule. With ``cache`` (dfs
    only), a state already explored with no more preemptions and steps is not explored
    again (``pruned`` counts them); without it, ``schedules`` is the plain count of
    interleavings within the bound. :func:`explore_steps` is the same search, one step
    of it at a time.
    """
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, not {type(progress).__name__}")
    steps = explore_steps(scenario, fixes, max_preemptions, strategy, seed, max_schedules,
                          cache)
    while True:
        try:
            report = next(steps)
        except StopIteration as done:
            result = done.value
            break
        if report is not None and progress is not None:
            progress(*report)
    if progress is not None:
        progress(result.schedules, result.bound)
    return result


def explore_steps(
    scenario,
    fixes=None,
    max_preemptions=2,
    strategy="dfs",
    seed=0,
    max_schedules=None,
    cache=True,
):
    """:func:`explore` as a generator, for a caller that runs the search a slice at a time
    (the explorer panel, between two messages of the kernel's event loop): it yields
    ``(schedules, bound)`` after each schedule and None where it only paused, and returns
    the ExploreResult; ``close()`` stops it. The arguments are checked at once."""
    from .. import scenarios

    scn = scenarios.get(scenario)
    fixes = _fixes(fixes)
    _count(max_preemptions, "max_preemptions", 0)
    if not isinstance(strategy, str):
        raise TypeError(f"strategy must be a str, not {type(strategy).__name__}")
    if strategy not in ("dfs", "random", "pct"):
        raise ValueError(f"strategy must be 'dfs', 'random' or 'pct', not {strategy!r}")
    _count(seed, "seed", None)
    if max_schedules is not None:
        _count(max_schedules, "max_schedules", 1)
    if not isinstance(cache, bool):
        raise TypeError(f"cache must be a bool, not {type(cache).__name__}")
    return _search(scn, fixes, max_preemptions, strategy, seed, max_schedules, cache)


def _search(scn, fixes, max_preemptions, strategy, seed, max_schedules, cache):
    result = ExploreResult(scn, fixes, strategy, max_preemptions)
    search = _Search(scn, fixes, result, max_schedules, cache and strategy == "dfs")
    t0 = time.perf_counter()
    if strategy == "dfs":
        for bound in range(max_preemptions + 1):
            result.bound = bound
            search.visited = {}
            complete = yield from _dfs_bound(search, bound, bound)
            if search.best is not None or not complete:
                break
        result.exhaustive = search.best is None and complete
        result.bound = bound if search.best is not None else max_preemptions
    else:
        rng = random.Random(seed)
        runs = max_schedules or 1000
        chooser = _pct_chooser(scn, fixes, max_preemptions + 1) if strategy == "pct" else None
        for _ in range(runs):
            if strategy == "random":
                yield from _random_run(search, rng, lambda s, r: r.choice(s.runnable()))
            else:
                yield from _random_run(search, rng, chooser(rng))
            if search.best is not None:
                break
    if search.best is not None:
        result.found = True
        result.counterexample = search.best[1]
    result.elapsed = time.perf_counter() - t0
    return result


def _pct_chooser(scn, fixes, depth):
    """PCT: random task priorities, lowered at ``depth - 1`` random steps."""
    sched = Scheduler(scn, fixes)
    while not sched.finished and sched.runnable():
        sched.step(sched.runnable()[0])
    length = max(len(sched.schedule), 2)
    names = sorted(sched.tasks)

    def make(rng):
        ranks = rng.sample(range(len(names), 2 * len(names)), len(names))
        prio = dict(zip(names, ranks, strict=True))
        changes = set(rng.sample(range(1, length), min(depth - 1, length - 1)))

        def choose(s, _rng):
            runnable = s.runnable()
            pick = max(runnable, key=lambda n: prio[n])
            if len(s.schedule) + 1 in changes:
                prio[pick] = -len(s.schedule)
                pick = max(runnable, key=lambda n: prio[n])
            return pick

        return choose

    return make
