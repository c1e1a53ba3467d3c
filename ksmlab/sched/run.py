"""Run a kernel path to completion: what the friendly facade does."""

from .plain import WouldBlock
from .points import Blocked
from .scheduler import TaskState

__all__ = ["run_to_completion"]


def _would_block(name, ev):
    return RuntimeError(
        f"{name} would block at {ev.label}: {ev.reason}, and nothing else is running"
    )


def run_to_completion(w, name: str, path, *args):
    """Run kernel path ``path(*args)`` with ``w.current`` set to a task called ``name``;
    return its result.

    Nothing else runs meanwhile, so a path that would block can never be woken: that is
    reported as an error naming the resource and its holder. Unless a scheduler
    interleaves the world, this runs the path's plain form (``ksmlab.sched.plain``);
    otherwise its generator form, as the scheduler does.
    """
    if not w.interleaved:
        task = TaskState(name, name, None)
        previous, w.current = w.current, task
        try:
            return path.plain(*args)
        except WouldBlock as blocked:
            raise _would_block(name, blocked.event) from None
        finally:
            w.current = previous
    gen = path(*args)
    task = TaskState(name, name, gen)
    previous, w.current = w.current, task
    try:
        send = gen.send
        try:
            while True:
                ev = send(None)
                if ev.__class__ is Blocked and not ev.ready():
                    gen.close()
                    raise _would_block(name, ev)
        except StopIteration as stop:
            return stop.value
    finally:
        w.current = previous
