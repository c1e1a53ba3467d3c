"""Schedule: which task ran at each step, as a printable, parseable value."""

import re

__all__ = ["Schedule", "MAX_STEPS"]

_TOKEN = re.compile(r"^([A-Za-z_][A-Za-z0-9_\-]*)(?:\*([1-9][0-9]*)?)?$")
MAX_STEPS = 100_000  # the longest Schedule parse() builds; the scenarios need a few hundred
_MAX_DIGITS = 30  # a longer repeat count is refused before it is converted


class Schedule(tuple):
    """A sequence of task names, one per step. ``str()`` compresses runs as ``NAME*N``:

    >>> s = Schedule(["U", "U", "F", "U"])
    >>> str(s)
    'U*2 F U'
    >>> Schedule.parse("U*2 F U") == s
    True
    """

    def __new__(cls, steps=()):
        if isinstance(steps, str):
            raise TypeError("Schedule() takes task names; parse a text with Schedule.parse()")
        steps = tuple(steps)
        for name in steps:
            if not isinstance(name, str) or not _TOKEN.match(name) or "*" in name:
                raise ValueError(f"bad task name {name!r} in a schedule")
        return super().__new__(cls, steps)

    @classmethod
    def _trusted(cls, steps: tuple) -> "Schedule":
        """A schedule from names already checked (the scheduler's own steps)."""
        return tuple.__new__(cls, steps)

    @staticmethod
    def parse_runs(text: str) -> tuple:
        """``text`` as runs, ``(NAME, COUNT)`` pairs, without expanding the repeats: a
        count of any size costs nothing here (``Scheduler.run`` and ``replay`` take runs,
        and stop at the first step a task cannot take). A last token ``NAME*`` without a
        count means "NAME until it finishes or blocks": its COUNT is None."""
        if not isinstance(text, str):
            raise TypeError(f"a schedule is parsed from a str, not {type(text).__name__}")
        runs = []
        tokens = text.replace(",", " ").split()
        for i, token in enumerate(tokens):
            m = _TOKEN.match(token)
            if not m:
                raise ValueError(f"bad schedule token {token!r}: expected NAME or NAME*COUNT")
            if token.endswith("*"):
                if i != len(tokens) - 1:
                    raise ValueError(f"schedule token {token!r}: NAME* (until it finishes or "
                                     "blocks) can only be the last token")
                runs.append((m.group(1), None))
                continue
            digits = m.group(2) or "1"
            if len(digits) > _MAX_DIGITS:
                raise ValueError(
                    f"schedule token {m.group(1)}*{digits[:8]}...: a repeat count of "
                    f"{len(digits)} digits is more steps than any task can run"
                )
            runs.append((m.group(1), int(digits)))
        return tuple(runs)

    @classmethod
    def parse(cls, text: str) -> "Schedule":
        """The schedule ``str()`` printed: names separated by blanks or commas, ``NAME*N``
        for N steps in a row. ValueError, before any step is stored, for more than
        MAX_STEPS steps in all, and for a last ``NAME*`` (how many steps that is depends on
        the run: see ``parse_open``)."""
        steps, open_end = cls.parse_open(text)
        if open_end is not None:
            raise ValueError(f"{open_end}* (until it finishes or blocks) depends on the run: "
                             "give it to Scheduler.run or replay, or count its steps")
        return steps

    @classmethod
    def parse_open(cls, text: str) -> tuple:
        """``(Schedule, NAME or None)``: the steps of ``text`` before a last ``NAME*``, and
        that NAME (None when the text has no such token). Errors as ``parse``'s.

        >>> Schedule.parse_open("U*3 F*2 U*")
        (Schedule.parse('U*3 F*2'), 'U')
        """
        runs = cls.parse_runs(text)
        open_end = None
        if runs and runs[-1][1] is None:
            open_end, runs = runs[-1][0], runs[:-1]
        total = 0
        for name, count in runs:
            total += count
            if total > MAX_STEPS:
                raise ValueError(
                    f"schedule of more than {MAX_STEPS} steps (at {name}*{count}): "
                    "longer than any scenario runs"
                )
        steps = cls._trusted(tuple(name for name, count in runs for _ in range(count)))
        return steps, open_end

    @classmethod
    def runs_of(cls, schedule) -> tuple:
        """The runs of ``schedule``: its text, a Schedule, or a sequence of task names."""
        if isinstance(schedule, str):
            return cls.parse_runs(schedule)
        if not isinstance(schedule, Schedule):
            if not isinstance(schedule, (list, tuple)):
                raise TypeError(
                    "schedule must be a str, a Schedule or a list of task names, "
                    f"not {type(schedule).__name__}"
                )
            schedule = cls(schedule)
        runs = []
        for name in schedule:
            if runs and runs[-1][0] == name:
                runs[-1][1] += 1
            else:
                runs.append([name, 1])
        return tuple((name, count) for name, count in runs)

    def __str__(self) -> str:
        return " ".join(n if c == 1 else f"{n}*{c}" for n, c in Schedule.runs_of(self))

    def __repr__(self) -> str:
        return f"Schedule.parse({str(self)!r})"

    def runs(self) -> list:
        """The task order with consecutive steps of one task folded: ``['U', 'F', 'U']``."""
        return [name for name, _count in Schedule.runs_of(self)]
