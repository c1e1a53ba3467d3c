"""Run a kernel path (a generator) to completion: what the friendly facade does."""

from .points import Blocked

__all__ = ["Task", "run_to_completion"]


class Task:
    """A kernel path in progress: a named generator."""

    __slots__ = ("name", "gen")

    def __init__(self, name: str, gen):
        self.name = name
        self.gen = gen

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Task({self.name!r})"


def run_to_completion(w, name: str, gen):
    """Drive ``gen`` with ``w.current`` set to a task called ``name``; return its result.

    Nothing else runs meanwhile, so a path that would block can never be woken: that is
    reported as an error naming the resource and its holder.
    """
    task = Task(name, gen)
    previous, w.current = w.current, task
    try:
        send = gen.send
        try:
            while True:
                ev = send(None)
                if ev.__class__ is Blocked and not ev.ready():
                    gen.close()
                    raise RuntimeError(
                        f"{name} would block at {ev.label}: {ev.reason}, "
                        "and nothing else is running"
                    )
        except StopIteration as stop:
            return stop.value
    finally:
        w.current = previous
