"""ksmlab.exercises: every check with right and wrong answers, bad input, hints, hidden
solutions, and the "be the scheduler" exercises with several breaking schedules."""

import subprocess
import sys

import pytest

from ksmlab import Scheduler, exercises, scenarios
from ksmlab.exercises.base import Feedback

ALL = exercises.all_exercises()
IDS = [ex.id for ex in ALL]


@pytest.fixture(autouse=True)
def _fresh():
    for ex in ALL:
        ex.reset()
    yield


def right_answer(ex):
    exp = ex._expected()
    if ex.kind == "numeric":
        return exp if len(exp) > 1 else exp[0]
    if ex.kind == "choice":
        return exp
    if ex.kind == "yes/no":
        return ("yes" if exp[0] else "no", exp[1])
    return exp.schedule


# -- the catalogue ----------------------------------------------------------------------------
def test_every_notebook_has_at_least_three_exercises():
    for nb in exercises.NOTEBOOKS:
        found = exercises.for_notebook(nb)
        assert len(found) >= 3, nb
        assert all(ex.notebook == nb for ex in found)
    assert exercises.for_notebook("notebooks/01_merging.ipynb") == exercises.for_notebook(
        "01_merging")


def test_fix_notebooks_have_a_scheduler_exercise():
    for nb in exercises.NOTEBOOKS[3:8]:        # 04-08; 09 compares with the kernel
        assert any(ex.kind == "schedule" for ex in exercises.for_notebook(nb)), nb


def test_get_and_lookup_errors():
    assert exercises.get("01.pass2-counters").id == "01.pass2-counters"
    with pytest.raises(KeyError, match="no exercise"):
        exercises.get("99.nope")
    with pytest.raises(TypeError):
        exercises.get(1)
    with pytest.raises(ValueError, match="no notebook"):
        exercises.for_notebook("10_other")
    assert len(set(IDS)) == len(IDS)
    assert exercises.ids() == IDS


def test_kinds_cover_the_brief():
    kinds = {ex.kind for ex in ALL}
    assert kinds == {"numeric", "choice", "yes/no", "schedule"}


def test_import_is_light():
    code = ("import sys, ksmlab.exercises as e; e.all_exercises(); "
            "bad = [m for m in ('matplotlib', 'ipywidgets', 'networkx') if m in sys.modules]; "
            "sys.exit(bool(bad))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# -- right answers ----------------------------------------------------------------------------
@pytest.mark.parametrize("id", IDS)
def test_right_answer_is_correct(id):
    ex = exercises.get(id)
    fb = ex.check(right_answer(ex))
    assert isinstance(fb, Feedback)
    assert fb.correct and fb.valid and fb.mistake is None, fb.message
    assert str(fb).startswith("✓ Right.")
    assert fb._repr_markdown_().startswith("**✓ Right.**")
    assert bool(fb)
    assert fb.exercise_id == id


@pytest.mark.parametrize("id", IDS)
def test_deterministic(id):
    ex = exercises.get(id)
    wrong = {"numeric": 999, "choice": None, "yes/no": None, "schedule": "Z"}[ex.kind]
    if ex.kind == "choice":
        wrong = next(o.key for o in ex.options if o.key != ex._expected())
    if ex.kind == "yes/no":
        wrong = ("no" if ex._expected()[0] else "yes", ex._expected()[1])
    assert ex.check(wrong).message == ex.check(wrong).message
    assert ex.check(right_answer(ex)).message == ex.check(right_answer(ex)).message


# -- wrong answers: the specific mistake --------------------------------------------------------
SPECIFIC = [
    ("01.first-pass", (4, 12, 0), "counted-after-two-passes", "only records"),
    ("01.first-pass", (0, 0, 0), "volatile-not-tracked", "pages_volatile"),
    ("01.pass2-counters", (4, 16), "counted-ksm-page", "does not count the KSM page itself"),
    ("01.pass2-counters", (12, 4), "swapped", "swapped"),
    ("01.pass2-counters", (0, 0), "nothing-merged", "first pass records checksums"),
    ("01.pages-saved", 4, "shared-is-saved", "KSM *keeps*"),
    ("01.pages-saved", 16, "all-pages", "one KSM page"),
    ("01.volatile", (3, 0), "changing-in-unstable", "never enters the unstable tree"),
    ("01.volatile", (0, 3), "unique-not-inserted", "inserted in the unstable tree"),
    ("02.write-counters", (2, 2), "drops-at-write", "do not move at the write"),
    ("02.write-counters", (3, 3), "never-drops", "next visit"),
    ("02.merge-back", 0, "merges-at-write", "never merges back at once"),
    ("02.merge-back", 2, "two-pass-rule", "stable tree is searched before the checksum"),
    ("02.run2-counters", (0, 0, 2), "full-scans-kept", "resets full_scans"),
    ("02.run2-counters", (1, 3, 2), "run2-is-stop", "run=0"),
    ("03.per-node-counters", (1, 7), "merged-across", "merge_across_nodes=1"),
    ("03.per-node-counters", (2, 8), "counted-ksm-page", "KSM pages themselves"),
    ("04.counters-after", (1, 0), "counts-mappings", "rmap_items"),
    ("05.mapped-after", 2, "q-too", "Q's PTE is still a swap entry"),
    ("05.mapped-after", 0, "fault-copies", "maps the KSM page itself"),
    ("07.nodes-left", (0, 0), "nodes-vanish", "swap cache keeps"),
    ("07.nodes-left", (1, 1), "shared-counts-nodes", "*with rmap_items*"),
    ("08.shortest", 1, "needs-interleaving", "needs no interleaving"),
]


@pytest.mark.parametrize(("id", "answer", "mistake", "phrase"), SPECIFIC)
def test_specific_mistakes(id, answer, mistake, phrase):
    fb = exercises.get(id).check(answer)
    assert not fb.correct and fb.valid
    assert fb.mistake == mistake, fb.message
    assert phrase in fb.message
    assert str(fb).startswith("✗ Not yet.")


@pytest.mark.parametrize("id", [ex.id for ex in ALL if ex.kind == "numeric"])
def test_numeric_every_listed_mistake_is_recognised(id):
    ex = exercises.get(id)
    mistakes = ex._mistake_list()
    assert mistakes, f"{id} recognises no typical mistake"
    for value, key, message in mistakes:
        fb = ex.check(value)
        assert not fb.correct and fb.mistake == key and fb.message == message


def test_numeric_unrecognised_answer_says_which_field():
    fb = exercises.get("01.pass2-counters").check((4, 100))
    assert fb.mistake == "unrecognised"
    assert "pages_shared is right" in fb.message and "pages_sharing is too high" in fb.message


def test_numeric_accepts_several_forms():
    ex = exercises.get("01.pass2-counters")
    exp = ex._expected()
    assert ex.check(list(exp)).correct
    assert ex.check(dict(zip(ex.fields, exp, strict=True))).correct
    assert ex.check(tuple(str(v) for v in exp)).correct
    assert exercises.get("02.merge-back").check("1").correct
    assert exercises.get("02.merge-back").check([1]).correct


@pytest.mark.parametrize("id", [ex.id for ex in ALL if ex.kind == "choice"])
def test_choice_every_wrong_option_explains_itself(id):
    ex = exercises.get(id)
    right = ex._expected()
    assert ex.check(right.upper()).correct
    assert ex.check(f"({right})").correct
    for o in ex.options:
        if o.key != right:
            fb = ex.check(o.key)
            assert not fb.correct and fb.mistake == f"option-{o.key}"
            assert fb.message == o.why and o.why


@pytest.mark.parametrize("id", [ex.id for ex in ALL if ex.kind == "yes/no"])
def test_yes_no_wrong_verdict_and_wrong_reason(id):
    ex = exercises.get(id)
    verdict, reason = ex._expected()
    fb = ex.check((not verdict, reason))
    assert not fb.correct and fb.mistake == "wrong-verdict" and fb.message == ex.wrong_verdict
    for o in ex.reasons:
        if o.key != reason:
            fb = ex.check(("yes" if verdict else "no", o.key))
            assert not fb.correct and fb.mistake == f"reason-{o.key}"
            assert o.why in fb.message and "not for that reason" in fb.message
    assert ex.check(f"{'Yes' if verdict else 'No'}, {reason.upper()}").correct
    assert ex.check([verdict, reason]).correct


# -- bad input never raises ------------------------------------------------------------------------
BAD = [None, object(), 3.5, True, [], {"x": 1}, "", "zzz zzz zzz", -1, ("a", "b", "c", "d")]


@pytest.mark.parametrize("id", IDS)
def test_bad_input_gives_a_message(id):
    ex = exercises.get(id)
    for bad in BAD:
        fb = ex.check(bad)
        assert isinstance(fb, Feedback)
        assert not fb.correct
        assert fb.message
    for bad in (None, object(), 3.5, {"x": 1}):
        fb = ex.check(bad)
        assert not fb.valid and fb.mistake == "bad-input"
        assert str(fb).startswith("⚠ Cannot check this answer.")


def test_bad_input_messages_are_clear():
    assert "whole number" in exercises.get("02.merge-back").check(1.5).message
    assert "negative" in exercises.get("02.merge-back").check(-2).message
    assert "exactly 2 numbers" in exercises.get("01.pass2-counters").check((1, 2, 3)).message
    assert "keys" in exercises.get("01.pass2-counters").check({"pages_shared": 1}).message
    assert "not one of the options" in exercises.get("02.break-ksm").check("z").message
    assert "letter" in exercises.get("02.break-ksm").check(2).message
    fb = exercises.get("03.cross-node").check("no")
    assert not fb.valid and "Also pick the reason" in fb.message
    assert "yes/no" in exercises.get("03.cross-node").check(("maybe", "a")).message
    assert "reason letter" in exercises.get("03.cross-node").check(("no", "q")).message
    sched = exercises.get("04.be-the-scheduler")
    assert "Cannot read the schedule" in sched.check("U*0").message
    assert "empty" in sched.check("   ").message
    assert "not a int" in sched.check(12).message


# -- hints and solutions ---------------------------------------------------------------------------
@pytest.mark.parametrize("id", IDS)
def test_hints_run_out(id):
    ex = exercises.get(id)
    assert ex.hints
    seen = [ex.hint() for _ in ex.hints]
    assert seen[0].startswith(f"Hint 1/{len(ex.hints)}:")
    assert len(set(seen)) == len(seen)
    last = ex.hint()
    assert last.startswith("No more hints")
    assert ex.hint() == last
    assert last._repr_markdown_() == last


@pytest.mark.parametrize("id", IDS)
def test_solution_hidden_until_asked(id):
    ex = exercises.get(id)
    assert not ex.revealed
    ex.check(right_answer(ex))
    ex.hint()
    assert not ex.revealed
    for shown in (str(ex), ex._repr_markdown_(), repr(ex)):
        assert "**Answer:**" not in shown and "A breaking schedule" not in shown
    sol = ex.solution()
    assert ex.revealed
    assert sol._repr_markdown_() == sol
    if ex.kind == "schedule":
        ce = ex._expected()
        assert ce.schedule in sol and "ksmlab.replay(" in sol
        assert ex.replay_call(ce.schedule) in sol
    else:
        assert "**Answer:**" in sol
    ex.reset()
    assert not ex.revealed and ex.hints_given == 0


def test_prompt_shows_options_and_format():
    ex = exercises.get("02.break-ksm")
    text = str(ex)
    assert all(o.text in text for o in ex.options)
    assert "Answer with one of the letters" in text


def test_answers_are_spread_over_letters():
    letters = {ex._expected() for ex in ALL if ex.kind == "choice"}
    assert len(letters) >= 3


# -- be the scheduler ------------------------------------------------------------------------------
BREAKING = {
    "04.be-the-scheduler": ["U*3 F*2 U*10", "F U F U*12"],
    "05.be-the-scheduler": ["R*3 U*9 T", "R*3 U*4 T U*4"],
    "06.be-the-scheduler": ["M*4 U*2 M*2 U*8", "U M*4 U M*2 U*8"],
    "07.be-the-scheduler": ["W*16 R K*5", "W*16 K*3 R K*9"],
    "08.break-none": ["W*21 R K*5", "T K W F R*3 F W*17"],
    "08.break-one-fix-off": ["W*3 F*2 W*15", "K T F W R*2 F R W*17"],
}

CLEAN = {
    "04.be-the-scheduler": ("F*2 U*17", "before the unmerge walk started"),
    "05.be-the-scheduler": ("R*3 T U*10", "before the unmerge walk had finished P"),
    "06.be-the-scheduler": ("M*6 U*11", "finished before the unmerge walk started"),
    "07.be-the-scheduler": ("K R W*18 K*12", "before the switch"),
    "08.break-none": ("F*2 R*4 T*2 W*24 K*17", "Fork route: The fork registered C before"),
    "08.break-one-fix-off": ("F*2 R*4 T*2 W*25 K*16", "Fork route: The fork registered C"),
}


@pytest.mark.parametrize("id", sorted(BREAKING))
def test_scheduler_accepts_any_breaking_schedule(id):
    ex = exercises.get(id)
    first, second = BREAKING[id]
    assert first != second
    for sched in (first, second):
        fb = ex.check(sched)
        assert fb.correct, fb.message
        assert "breaks the property" in fb.message
    # the textbook answer, found by the explorer, is also accepted
    assert ex.check(ex._expected().schedule).correct


@pytest.mark.parametrize("id", sorted(CLEAN))
def test_scheduler_rejects_a_clean_schedule_and_says_why(id):
    ex = exercises.get(id)
    sched, phrase = CLEAN[id]
    fb = ex.check(sched)
    assert not fb.correct and fb.valid and fb.mistake == "clean"
    assert "runs clean" in fb.message and phrase in fb.message, fb.message


def test_scheduler_more_reasons_for_clean_runs():
    assert "no swap-in fault" in exercises.get("05.be-the-scheduler").check("T R*3 U*9").message
    msg = exercises.get("04.be-the-scheduler").check("U*5 F U*4 F*2 U*5").message
    assert "P no longer mapped a KSM page" in msg
    msg = exercises.get("04.be-the-scheduler").check("U*3").message
    assert "not finished" in msg and "never registered" in msg


def test_scheduler_unrunnable_schedule_names_the_step():
    ex = exercises.get("04.be-the-scheduler")
    fb = ex.check("F*3 U")
    assert not fb.correct and fb.mistake == "not-runnable"
    assert "step 3: task F has finished" in fb.message and "could run were: U" in fb.message
    fb = ex.check("X U")
    assert "step 1: there is no task 'X'" in fb.message
    fb = exercises.get("08.break-none").check("F*2 K R*3 T W*21 K*20")
    assert "step 16" in fb.message and "blocked" in fb.message


def test_scheduler_takes_a_scheduler_or_a_list():
    ex = exercises.get("04.be-the-scheduler")
    s = Scheduler(scenarios.get("fork_behind_unmerge_cursor"), ex.fixes)
    s.run("U*3 F*2 U*10")
    assert ex.check(s).correct
    assert ex.check(s.schedule).correct
    s.close()
    assert ex.check(["U", "U", "U", "F", "F"] + ["U"] * 10).correct


def test_scheduler_solution_prints_the_replay_call():
    ex = exercises.get("05.be-the-scheduler")
    sol = ex.solution()
    assert ("ksmlab.replay('swapin_after_unmerge_walk', 'R*3 U*9 T', "
            "fixes=Fixes.all().without('swapcache_copy_on_fault'))") in sol
    assert "Fixes.none()" in exercises.get("08.break-none").solution()


def test_task_table():
    table = exercises.get("04.be-the-scheduler").task_table()
    assert "**F**" in table and "**U**" in table


# -- notebook 09: the live kernel ---------------------------------------------------------------
def test_live_exercises_answers_come_from_the_comparison():
    from ksmlab.live import compare

    cmp = compare("merge-into-existing", version="3.9")
    diff = next(d for d in cmp.differences if d.field == "pages_sharing")
    ex = exercises.get("09.merge-into-existing")
    assert ex.check((diff.model, diff.kernel)).correct
    assert (diff.model, diff.kernel) == (2, 1)
    wrong = ex.check((diff.model, diff.model))
    assert not wrong.correct and wrong.mistake == "no-difference"
    assert "6.11" in wrong.message


def test_live_duplicates_exercise_and_its_mistakes():
    ex = exercises.get("09.duplicates-pass2")
    assert ex.check((3, 5)).correct
    fb = ex.check((3, 8))
    assert not fb.correct and fb.mistake == "counted-ksm-page"
    assert ex.check((0, 0)).mistake == "first-pass"
    assert not ex.check("three").valid


def test_live_why_differ_names_the_commit():
    ex = exercises.get("09.why-differ")
    right = ex._expected()
    assert ex.check(right).correct
    wrong = next(o for o in ex.options if o.key != right)
    fb = ex.check(wrong.key)
    assert not fb.correct and wrong.why in fb.message
