"""Every exercise of the notebook suite, by id and by notebook."""

from .base import Exercise

__all__ = ["NOTEBOOKS", "all_exercises", "get", "for_notebook", "ids"]

NOTEBOOKS = (
    "01_merging",
    "02_unmerging_and_cow",
    "03_numa_trees",
    "04_fix_cursor_insertion",
    "05_fix_swapcache_copy_on_fault",
    "06_fix_follow_page_migration_wait",
    "07_fix_stable_node_removal",
    "08_capstone",
    "09_live_kernel",
)

_BY_ID = {}


def _load() -> dict:
    if not _BY_ID:
        from . import basics, live, races

        for ex in basics.exercises() + races.exercises() + live.exercises():
            if ex.id in _BY_ID:
                raise RuntimeError(f"two exercises are called {ex.id}")
            _BY_ID[ex.id] = ex
    return _BY_ID


def all_exercises() -> list:
    """Every exercise, in notebook order."""
    return list(_load().values())


def ids() -> list:
    return list(_load())


def get(id) -> Exercise:
    """The exercise called ``id`` (e.g. ``"01.pass2-counters"``)."""
    if not isinstance(id, str):
        raise TypeError(f"an exercise id is a str, not {type(id).__name__}")
    try:
        return _load()[id]
    except KeyError:
        raise KeyError(f"no exercise {id!r}; known: {', '.join(_load())}") from None


def for_notebook(notebook) -> list:
    """The exercises of ``notebook`` (``"01_merging"``, or ``"01_merging.ipynb"``)."""
    if not isinstance(notebook, str):
        raise TypeError(f"a notebook name is a str, not {type(notebook).__name__}")
    name = notebook.rsplit("/", 1)[-1].removesuffix(".ipynb")
    if name not in NOTEBOOKS:
        raise ValueError(f"no notebook {notebook!r}; known: {', '.join(NOTEBOOKS)}")
    return [ex for ex in _load().values() if ex.notebook == name]
