"""The answer key (python -m ksmlab exercises --key): generated from the model, it covers
every exercise of the catalogue with its answer and the feedback of its typical mistakes."""

import re

import pytest

from ksmlab import exercises
from ksmlab.__main__ import main
from ksmlab.exercises.key import answer_key, entry

ALL = exercises.all_exercises()


@pytest.fixture(scope="module")
def key():
    return answer_key()


def sections(text):
    """Exercise id -> its section of the key."""
    parts = re.split(r"^### ", text, flags=re.M)[1:]
    return {p.split(":", 1)[0]: p for p in parts}


def test_the_key_covers_every_exercise_once_in_catalogue_order(key):
    ids = re.findall(r"^### (\S+): ", key, re.M)
    assert ids == exercises.ids()
    assert len(ids) == len(ALL) > 0
    notebooks = re.findall(r"^## (\S+)$", key, re.M)
    assert notebooks == list(exercises.NOTEBOOKS)


@pytest.mark.parametrize("ex", ALL, ids=lambda e: e.id)
def test_each_entry_has_question_answer_and_the_feedback_of_typical_mistakes(ex, key):
    section = sections(key)[ex.id]
    assert section.startswith(f"{ex.id}: {ex.title}\n")
    assert ex.prompt in section
    assert str(ex.answer()) in section
    wrong = ex.typical_wrong_answers()
    assert len(wrong) >= 2, f"{ex.id}: fewer than two typical wrong answers"
    for answer in wrong:
        fb = ex.check(answer)
        assert not fb.correct and fb.valid
        assert fb.mistake not in (None, "unrecognised", "bad-input"), (ex.id, answer)
        quoted = "\n".join(("> " + line).rstrip() for line in str(fb).splitlines())
        assert quoted in section, (ex.id, answer)
    assert not ex.revealed, "the key must not mark the solution as revealed"


def test_the_answer_is_the_one_check_accepts():
    ex = exercises.get("01.pass2-counters")
    assert "**Answer:** pages_shared = 4, pages_sharing = 12." in ex.answer()
    assert ex.check((4, 12)).correct
    assert (4, 16) in ex.typical_wrong_answers()
    choice = exercises.get("01.which-tree")
    wrong = choice.typical_wrong_answers()
    assert len(wrong) == len(choice.options) - 1
    assert all(not choice.check(w).correct for w in wrong)


def test_schedule_exercises_list_the_serial_schedules_that_run_clean():
    ex = exercises.get("04.be-the-scheduler")
    wrong = [str(s) for s in ex.typical_wrong_answers()]
    assert wrong == ["F*2 U*17", "U*14 F*2"]
    text = entry(ex)
    assert "- `'F*2 U*17'`" in text
    assert "This schedule runs clean" in text


def test_the_key_is_deterministic(key):
    assert answer_key() == key


def test_cli_prints_the_key_of_one_notebook(capsys):
    assert main(["exercises", "--key", "--notebook", "04_fix_cursor_insertion.ipynb"]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"^## (\S+)$", out, re.M) == ["04_fix_cursor_insertion"]
    ids = re.findall(r"^### (\S+): ", out, re.M)
    assert ids == [e.id for e in exercises.for_notebook("04_fix_cursor_insertion")]


def test_cli_lists_the_exercises(capsys):
    assert main(["exercises"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == exercises.ids()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["exercises", "--key", "--notebook", "10_other"], "no notebook '10_other'"),
        (["exercises", "--notebook", "01_merging"], "--notebook only goes with --key"),
    ],
)
def test_cli_bad_input(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
