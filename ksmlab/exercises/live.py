"""Exercises of notebook 09: the same workload on the model and on a real kernel.

The answers come from the live lab's comparison (the model side, and the kernel side as
recorded on a 6.18 machine), never from typed-in numbers; the words are in
``text/09_live_kernel.json``.
"""

from .base import ChoiceExercise, NumericExercise

__all__ = ["exercises"]

NB = "09_live_kernel"


def _comparison(name):
    from ..live import compare

    return compare(name)           # the kernel side is the recording shipped with ksmlab


def _after_pass(observations, n):
    return next(o for o in observations if o.counters["full_scans"] == n)


def _describe(name) -> str:
    """The workload's steps as the comparison table writes them, numbered as its rows."""
    from ..live import get
    from ..live.workload import step_text

    return "\n".join(f"{i:>4} {step_text(step)}" for i, step in enumerate(get(name).steps, 1))


def _duplicates_pass2():
    obs = _after_pass(_comparison("duplicates").model, 2)
    return obs.counters["pages_shared"], obs.counters["pages_sharing"]


def _first_difference(name):
    cmp = _comparison(name)
    return next(d for d in cmp.differences if d.field == "pages_sharing")


def exercises():
    def duplicates_mistakes(exp):
        shared, sharing = exp
        return [((shared, shared + sharing), "counted-ksm-page"), ((sharing, shared), "swapped"),
                ((0, 0), "first-pass")]

    def existing_answer():
        d = _first_difference("merge-into-existing")
        return d.model, d.kernel

    def existing_mistakes(exp):
        model, kernel = exp
        return [((model, model), "no-difference"), ((kernel, model), "swapped"),
                ((kernel, kernel), "both-late")]

    def which_commit():
        commit = _first_difference("merge-into-existing").known.commit
        return {"d58a361b0350": "a"}.get(commit, "d")

    return [
        NumericExercise("09.duplicates-pass2", NB, ("pages_shared", "pages_sharing"),
                        _duplicates_pass2, duplicates_mistakes,
                        fmt={"steps": _describe("duplicates")}),
        NumericExercise("09.merge-into-existing", NB,
                        ("pages_sharing on the model", "pages_sharing on the kernel"),
                        existing_answer, existing_mistakes,
                        fmt={"steps": _describe("merge-into-existing")}),
        ChoiceExercise("09.why-differ", NB, which_commit),
    ]
