"""Checked exercises for the notebooks: predict, check, ask for a hint, reveal.

>>> from ksmlab import exercises
>>> ex = exercises.get("01.pass2-counters")
>>> print(ex.check((4, 16)))  # doctest: +ELLIPSIS
✗ Not yet. pages_sharing does not count the KSM page itself...
>>> [e.id for e in exercises.for_notebook("03_numa_trees")][:1]
['03.per-node-counters']
"""

from .base import (
    ChoiceExercise,
    Exercise,
    Feedback,
    NumericExercise,
    Option,
    ScheduleExercise,
    YesNoExercise,
)
from .catalogue import NOTEBOOKS, all_exercises, for_notebook, get, ids

__all__ = [
    "Exercise",
    "Feedback",
    "NumericExercise",
    "ChoiceExercise",
    "YesNoExercise",
    "ScheduleExercise",
    "Option",
    "NOTEBOOKS",
    "all_exercises",
    "for_notebook",
    "get",
    "ids",
]
