"""Cooperative scheduling primitives: yield points, scheduler-aware locks, task runner."""

from .locks import Mutex, RwSem, lock_page, trylock_page, unlock_page
from .points import Blocked, Point
from .run import run_to_completion
from .scheduler import TaskState

__all__ = [
    "Point",
    "Blocked",
    "Mutex",
    "RwSem",
    "lock_page",
    "trylock_page",
    "unlock_page",
    "TaskState",
    "run_to_completion",
]
