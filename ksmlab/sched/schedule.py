"""Schedule: which task ran at each step, as a printable, parseable value."""

import re

__all__ = ["Schedule"]

_TOKEN = re.compile(r"^([A-Za-z_][A-Za-z0-9_\-]*)(?:\*([1-9][0-9]*))?$")


class Schedule(tuple):
    """A sequence of task names, one per step. ``str()`` compresses runs as ``NAME*N``:

    >>> s = Schedule(["U", "U", "F", "U"])
    >>> str(s)
    'U*2 F U'
    >>> Schedule.parse("U*2 F U") == s
    True
    """

    def __new__(cls, steps=()):
        steps = tuple(steps)
        for name in steps:
            if not isinstance(name, str) or not _TOKEN.match(name) or "*" in name:
                raise ValueError(f"bad task name {name!r} in a schedule")
        return super().__new__(cls, steps)

    @classmethod
    def _trusted(cls, steps: tuple) -> "Schedule":
        """A schedule from names already checked (the scheduler's own steps)."""
        return tuple.__new__(cls, steps)

    @classmethod
    def parse(cls, text: str) -> "Schedule":
        """The schedule ``str()`` printed: names separated by blanks or commas, ``NAME*N``
        for N steps in a row."""
        if not isinstance(text, str):
            raise TypeError(f"a schedule is parsed from a str, not {type(text).__name__}")
        steps = []
        for token in text.replace(",", " ").split():
            m = _TOKEN.match(token)
            if not m:
                raise ValueError(f"bad schedule token {token!r}: expected NAME or NAME*COUNT")
            steps.extend([m.group(1)] * int(m.group(2) or 1))
        return cls(steps)

    def __str__(self) -> str:
        out = []
        i = 0
        while i < len(self):
            j = i
            while j < len(self) and self[j] == self[i]:
                j += 1
            out.append(self[i] if j - i == 1 else f"{self[i]}*{j - i}")
            i = j
        return " ".join(out)

    def __repr__(self) -> str:
        return f"Schedule.parse({str(self)!r})"

    def runs(self) -> list:
        """The task order with consecutive steps of one task folded: ``['U', 'F', 'U']``."""
        out = []
        for name in self:
            if not out or out[-1] != name:
                out.append(name)
        return out
