"""The explorer: search interleavings of a scenario's tasks for one that breaks its
property, fewest preemptions first, or report that none does within the bound.

A preemption is a switch away from a task that could have gone on; switching when a task
has finished or blocked is free. Exploration is stateless re-execution from the
scenario's initial world (``Scheduler``), so it needs no snapshots and stays exact. A
cache of state keys (``statekey``) skips a prefix whose state was already explored at no
greater cost (``covers``); it stores a 128-bit BLAKE2 digest of each state's description
rather than the description itself (a few KiB). The tests check it against the plain
search.

Snapshots by ``os.fork()`` at branch points were measured and not kept: a fork and its
child's copy-on-write faults cost about 2.8 ms on a 40 MB process, while re-running a
30-step prefix of the capstone costs about 0.17 ms (a copy of the stored initial world,
about 55 us, then 30 steps that make no TraceEvent).
"""

import hashlib
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
    "drain",
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
    if not any(t.runnable for t in sched.tasks.values()):  # runnable() is empty
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
    (``schedules``, ``exhaustive`` within ``bound``; ``pruned`` prefixes skipped and
    ``states`` distinct states recorded by the cache), whether the race window was ever
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
        self.states = 0  # distinct states the cache recorded at the last bound explored
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


_INF = float("inf")
_SKIP = object()  # what ``arrive`` returns for a state already explored at no greater cost


def covers(before, here) -> bool:
    """Whether a state explored as ``before`` = (preemptions, steps, last task, whether
    the last task could still run) has every future of the same state reached as
    ``here``, at no greater cost in preemptions and steps.

    From one state the futures are the same whichever task ran last; only the cost of the
    first step after it differs: a switch away from the last task costs a preemption if
    that task could go on. So with the same last task, fewer or equal preemptions cover;
    with a different one, one preemption fewer covers, and so do equal preemptions when
    the task that ran last before could not go on (every first step was free there).
    """
    pre, steps, last, runnable = before
    if steps > here[1] or pre > here[0]:
        return False
    return last == here[2] or pre < here[0] or not runnable


class _Search:
    """Shared bookkeeping of one exploration. ``reduction`` is None (no cache, the plain
    search), ``"exact"`` (a state is skipped when it was explored after the same last
    task with no more preemptions and steps: the search as it was) or ``"dominance"``
    (``covers``)."""

    def __init__(self, scn, fixes, result, max_schedules, reduction):
        self.scn, self.fixes, self.result = scn, fixes, result
        self.max_schedules = max_schedules
        self.best = None
        self.reduction = reduction
        self.visited = {}
        self.ends = None  # a set to collect (world fingerprint, violation) at every leaf

    def key(self, sched):
        """The state's cache key and its cost entry, or None without a cache."""
        if self.reduction is None:
            return None
        last = sched._last
        here = (sched.preemptions, len(sched.schedule), last.name if last else None,
                last is not None and last.runnable)
        text = repr(state_key(sched, last=self.reduction == "exact"))
        return hashlib.blake2b(text.encode(), digest_size=16).digest(), here

    def covered(self, entry) -> bool:
        """Whether the state of ``entry`` (from ``key``) was already explored at no
        greater cost; counted in ``pruned``."""
        if entry is None:
            return False
        before = self.visited.get(entry[0])
        if before is not None and any(covers(b, entry[1]) for b in before):
            self.result.pruned += 1
            return True
        return False

    def record(self, entry):
        """Remember the state of ``entry`` as explored (only states with no violation:
        those are the ones whose futures are explored)."""
        if entry is None:
            return
        key, here = entry
        before = self.visited.get(key)
        if before is None or self.reduction == "exact":  # exact: the latest visit, as it was
            self.visited[key] = [here]
        else:
            before[:] = [b for b in before if not covers(here, b)]
            before.append(here)

    def useful_length(self):
        """Once a counterexample is found (the bound's preemptions, n steps), only a
        strictly shorter one could replace it, so with the dominance cache no step ``n``
        or later is taken (``window_reached`` then tells about the part explored); inf
        otherwise."""
        if self.best is None or self.reduction != "dominance":
            return _INF
        return self.best[0][1]

    def looks_up(self, sched, bound, resumed=False) -> bool:
        """Whether the state is looked up in the cache and recorded there. The exact cache
        does so after every step that does not end the run, and where a prefix taken from
        the stack is resumed, ended or not (as the search always did). The dominance cache
        only where the search may branch, where more than one task can run within
        ``bound`` preemptions: elsewhere the one way on is taken at once (a forced run of
        one task is cut short by the cache less often than its state keys cost: the
        capstone's bound-1 proof took 29 s of CPU with a lookup after every step, 17.5 s
        so)."""
        if self.reduction != "dominance":
            return resumed or not sched.finished
        if sched.finished:
            return False
        last = sched._last
        if last is not None and last.runnable and sched.preemptions >= bound:
            return False
        return len(sched.runnable()) > 1

    def budget_left(self) -> bool:
        return self.max_schedules is None or self.result.schedules < self.max_schedules

    def start(self, prefix):
        """A scheduler after ``prefix`` (the steps before its last were checked when first
        taken)."""
        sched = Scheduler(self.scn, self.fixes)
        memo = {}
        step = sched._step  # no TraceEvents: the trace makes them if it is ever read
        if self.result.window_reached:  # nothing left for the window to tell
            for name in prefix:
                step(name)
            self.result.steps += len(prefix)
            return sched, memo
        for name in prefix:
            step(name)
            self.result.steps += 1
            self._window(sched, memo)
        return sched, memo

    def _window(self, sched, memo):
        if not self.result.window_reached and self.scn.window(sched, memo):
            self.result.window_reached = True

    def arrive(self, sched, check):
        """After a step: ``_SKIP`` when ``check`` and the state was already explored at no
        greater cost, else the violation (None: go on). A state is looked up before the
        property is checked: one explored before had no violation."""
        entry = self.key(sched) if check else None
        if self.covered(entry):
            return _SKIP
        violation = violation_of(self.scn, sched)
        if violation is None:
            self.record(entry)
        return violation

    def step(self, sched, memo, name):
        sched._step(name)
        self.result.steps += 1
        self._window(sched, memo)

    def leaf(self, sched, violation):
        r = self.result
        r.schedules += 1
        if self.ends is not None:
            self.ends.add((sched.world.fingerprint(), violation))
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
        if len(prefix) >= search.useful_length():
            yield None
            continue
        sched, memo = search.start(prefix)
        violation = search.arrive(sched, search.looks_up(sched, bound, True)) if prefix else None
        while violation is None and not sched.finished:
            if len(sched.schedule) + 1 >= search.useful_length():
                break
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
            search.step(sched, memo, first)
            violation = search.arrive(sched, search.looks_up(sched, bound))
        else:
            if violation is not _SKIP:
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
    sched, memo = search.start(())
    violation = None
    while violation is None and not sched.finished:
        search.step(sched, memo, choose(sched, rng))
        violation = search.arrive(sched, False)
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
    reduction="dominance",
) -> ExploreResult:
    """Search the interleavings of ``scenario`` under ``fixes`` for a violation.

    ``dfs`` raises the preemption bound from 0 to ``max_preemptions``: the first bound
    with a violation is explored to its end and the shortest counterexample reported.
    ``random`` and ``pct`` (probabilistic concurrency testing, with ``max_preemptions``+1
    priority change points) run ``max_schedules`` (default 1000) seeded runs.
    ``progress(schedules, bound)`` is called after each schedule. With ``cache`` (dfs
    only), a state already explored at no greater cost is not explored again (``pruned``
    counts them); without it, ``schedules`` is the plain count of interleavings within
    the bound. ``reduction`` says what "no greater cost" means: ``"exact"``, with no more
    preemptions and steps after the same last task (the search as it was);
    ``"dominance"`` (the default), also after another last task when that costs no more
    (see ``covers``). Both keep the verdict, the shortest counterexample and the set of
    end states of the plain search. :func:`explore_steps` is the same search, one step
    of it at a time.
    """
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, not {type(progress).__name__}")
    steps = explore_steps(scenario, fixes, max_preemptions, strategy, seed, max_schedules,
                          cache, reduction)
    result = drain(steps, None if progress is None else lambda report: progress(*report))
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
    reduction="dominance",
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
    if not isinstance(reduction, str):
        raise TypeError(f"reduction must be a str, not {type(reduction).__name__}")
    if reduction not in ("dominance", "exact"):
        raise ValueError(f"reduction must be 'dominance' or 'exact', not {reduction!r}")
    if not cache or strategy != "dfs":
        reduction = None
    return _search(scn, fixes, max_preemptions, strategy, seed, max_schedules, reduction)


def end_states(scenario, fixes, max_preemptions, cache=True, reduction="dominance") -> tuple:
    """The dfs exploration's result and the set of (world fingerprint, violation) of every
    schedule it ran to its end: what a reduction must not change."""
    explore_steps(scenario, fixes, max_preemptions, cache=cache, reduction=reduction).close()
    from .. import scenarios

    ends = set()
    steps = _search(scenarios.get(scenario), _fixes(fixes), max_preemptions, "dfs", 0, None,
                    reduction if cache else None, ends)
    return drain(steps), ends


def drain(steps, each=None, stop=None):
    """Run a search from :func:`explore_steps` to its end and return its ExploreResult;
    ``each(report)`` is called with every ``(schedules, bound)`` it yields, and ``stop()``
    after everything it yields: where that is true, the search is closed there and None
    returned (a caller's own limit)."""
    while True:
        try:
            report = next(steps)
        except StopIteration as done:
            return done.value
        if report is not None and each is not None:
            each(report)
        if stop is not None and stop():
            steps.close()
            return None


def _search(scn, fixes, max_preemptions, strategy, seed, max_schedules, reduction, ends=None):
    result = ExploreResult(scn, fixes, strategy, max_preemptions)
    search = _Search(scn, fixes, result, max_schedules, reduction)
    search.ends = ends
    t0 = time.perf_counter()
    if strategy == "dfs":
        for bound in range(max_preemptions + 1):
            result.bound = bound
            search.visited = {}
            complete = yield from _dfs_bound(search, bound, bound)
            result.states = len(search.visited)
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
