"""The teacher's answer key, generated from the model: for every exercise its question,
its answer and the typical wrong answers with the feedback ``check`` gives them, so the
key says exactly what the notebooks' checks say.

>>> from ksmlab.exercises.key import entry
>>> from ksmlab import exercises
>>> text = entry(exercises.get("01.pass2-counters"))
>>> "pages_shared = 4, pages_sharing = 12" in text
True
"""

from ..sched.schedule import Schedule
from . import catalogue

__all__ = ["entry", "answer_key", "listing"]


def _quote(text: str) -> str:
    return "\n".join(("> " + line).rstrip() for line in str(text).splitlines())


def _answer(answer) -> str:
    """An answer as one would pass it to ``check``."""
    return repr(str(answer) if isinstance(answer, Schedule) else answer)


def entry(ex) -> str:
    """One exercise of the key, as Markdown."""
    fmt = f"\n\n*Answer with {ex.answer_format}.*" if ex.answer_format else ""
    lines = [f"### {ex.id}: {ex.title}", "", f"{ex.prompt}{fmt}", "", str(ex.answer()), ""]
    wrong = ex.typical_wrong_answers()
    if wrong:
        lines += ["**Typical wrong answers and the feedback they get:**", ""]
        for answer in wrong:
            fb = ex.check(answer)
            lines += [f"- `{_answer(answer)}`", "", _quote(str(fb)), ""]
    return "\n".join(lines).rstrip() + "\n"


def answer_key(notebooks=None) -> str:
    """The whole key (or that of the named notebooks), notebook by notebook, as Markdown.
    An unknown notebook raises ValueError."""
    names = list(catalogue.NOTEBOOKS) if notebooks is None else list(notebooks)
    parts = ["# Answer key", "",
             "Generated from the model by `python -m ksmlab exercises --key`: every answer "
             "and every piece of feedback below is what the notebooks' checks compute.", ""]
    for nb in names:
        exs = catalogue.for_notebook(nb)
        parts += [f"## {exs[0].notebook if exs else nb}", ""]
        parts += [entry(ex) for ex in exs]
    return "\n".join(parts).rstrip() + "\n"


def listing() -> str:
    """One line per exercise: its id, kind and title."""
    return "\n".join(f"{ex.id:32} {ex.kind:9} {ex.title}" for ex in catalogue.all_exercises())
