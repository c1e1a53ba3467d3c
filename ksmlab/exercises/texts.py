"""The words of the exercises: one data file per notebook in ``text/`` (titles, prompts,
options, hints, explanations, the messages for typical mistakes), kept apart from the
code that computes the answers.

>>> load("01_merging")["01.first-pass"]["title"]
'After the first pass'
>>> sorted(get("02_unmerging_and_cow", "02.break-ksm"))
['explanation', 'hints', 'options', 'prompt', 'title']
"""

import json
from functools import cache
from pathlib import Path

__all__ = ["load", "get", "HERE"]

HERE = Path(__file__).with_name("text")


@cache
def load(notebook) -> dict:
    """Every exercise text of ``notebook`` (``"01_merging"``), by exercise id."""
    path = HERE / f"{notebook}.json"
    if not path.exists():
        raise ValueError(f"no exercise texts for notebook {notebook!r} (looked for {path.name})")
    return json.loads(path.read_text(encoding="utf-8"))


def get(notebook, id) -> dict:
    """The texts of exercise ``id`` of ``notebook``."""
    try:
        return load(notebook)[id]
    except KeyError:
        raise KeyError(f"{notebook}.json has no texts for exercise {id!r}") from None
