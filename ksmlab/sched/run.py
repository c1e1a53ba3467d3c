"""Run a kernel path (a generator) to completion: what the friendly facade does."""

from .points import Blocked
from .scheduler import TaskState

__all__ = ["run_to_completion"]


def run_to_completion(w, name: str, gen):
    """Drive ``gen`` with ``w.current`` set to a task called ``name``; return its result.

    Nothing else runs meanwhile, so a path that would block can never be woken: that is
    reported as an error naming the resource and its holder.
    """
    task = TaskState(name, name, gen)
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
