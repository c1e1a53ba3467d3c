"""Cooperative scheduling primitives: yield points, scheduler-aware locks, task runner."""

from .locks import Mutex, RwSem, lock_page, trylock_page, unlock_page
from .points import Blocked, Point
from .run import Task, run_to_completion

__all__ = [
    "Point",
    "Blocked",
    "Mutex",
    "RwSem",
    "lock_page",
    "trylock_page",
    "unlock_page",
    "Task",
    "run_to_completion",
]
