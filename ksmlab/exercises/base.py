"""Exercises in the predict -> reveal style: ``check(answer)`` gives specific feedback,
``hint()`` gives one more hint each time, ``solution()`` stays hidden until asked.

Every expected answer is computed by running the model (a ``Kernel`` or a scenario
replay), never typed in, and the same model runs give the typical wrong answers, so the
feedback can say *why* an answer is wrong. The words (title, prompt, options, hints,
explanation, mistake messages) come from the notebook's data file (``texts``), or from
``text`` when given.

>>> from ksmlab.exercises.base import ChoiceExercise
>>> ex = ChoiceExercise("00.demo", "00_index", "a", text={
...     "title": "Demo", "prompt": "Which is a KSM counter?",
...     "options": {"a": ["pages_shared"], "b": ["page_faults", "that is not a KSM counter"]},
...     "hints": ["look in /sys/kernel/mm/ksm"], "explanation": "It is."})
>>> print(ex.check("b"))
✗ Not yet. that is not a KSM counter
>>> ex.check("A").correct
True
>>> print(ex.check(None))
… No answer yet: replace None with one of the letters 'a', 'b', then run the cell again.
>>> ex.revealed
False
"""

import random
import re

from ..check.explore import replay as _replay
from ..check.explore import violation_of
from ..fixes import Fixes
from ..sched.schedule import Schedule
from ..sched.scheduler import ScheduleError, Scheduler
from . import texts
from .runs import RunRecord

__all__ = [
    "Text",
    "Feedback",
    "BadAnswer",
    "Exercise",
    "NumericExercise",
    "Option",
    "ChoiceExercise",
    "YesNoExercise",
    "ScheduleExercise",
]


class Text(str):
    """A str that a notebook shows as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)


class Feedback:
    """The verdict on one answer: ``correct``, a ``message`` saying why, and ``mistake``,
    a short key naming the recognised mistake (None when right or not recognised).
    ``valid`` is False when the answer could not be read at all; an answer still left at
    None is not an error, and gets a neutral prompt (``mistake`` "no-answer")."""

    def __init__(self, correct, message, mistake=None, valid=True, exercise_id=None,
                 facts=()):
        self.correct = bool(correct)
        self.message = str(message)
        self.mistake = mistake
        self.valid = valid
        self.exercise_id = exercise_id
        self.facts = tuple(facts)  # for a clean schedule: the facts its message states

    def __bool__(self) -> bool:
        return self.correct

    @property
    def headline(self) -> str:
        if self.mistake == "no-answer":
            return "… No answer yet:"
        if not self.valid:
            return "⚠ Cannot check this answer."
        return "✓ Right." if self.correct else "✗ Not yet."

    def __str__(self) -> str:
        return f"{self.headline} {self.message}"

    def __repr__(self) -> str:
        return f"<Feedback correct={self.correct} mistake={self.mistake!r}: {self.message[:60]!r}>"

    def _repr_markdown_(self) -> str:
        lines = self.message.split("\n")
        body = "\n".join(ln if ln.startswith("- ") or not ln else ln + "  " for ln in lines)
        return f"**{self.headline}** {body.rstrip()}"


class BadAnswer(Exception):
    """Raised by an exercise's parser: the answer has the wrong type or format."""


class NoAnswer(BadAnswer):
    """Raised by an exercise's parser: there is no answer yet (an untouched stepper)."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Exercise:
    """One exercise of a notebook. Subclasses define ``_parse`` (type and format checks,
    raising BadAnswer), ``_judge`` (the verdict) and ``_solution_text``."""

    kind = "exercise"
    answer_format = ""

    def __init__(self, id, notebook, fmt=None, text=None):
        self.id = id
        self.notebook = notebook
        self.text = dict(texts.get(notebook, id) if text is None else text)
        self._fmt = dict(fmt or {})
        self.title = self._words("title")
        self.prompt = self._words("prompt")
        self.hints = tuple(self._format(h) for h in self.text.get("hints", ()))
        self.explanation = self._words("explanation")
        self.hints_given = 0
        self.revealed = False
        self._cache = {}

    def _format(self, words: str) -> str:
        return words.format(**self._fmt) if self._fmt else words

    def _words(self, key, group=None) -> str:
        """The text called ``key`` (in ``group``, e.g. "mistakes"), with ``fmt`` filled in."""
        where = self.text if group is None else self.text.get(group, {})
        if key not in where:
            place = key if group is None else f"{group}.{key}"
            raise KeyError(f"exercise {self.id}: no text {place!r}")
        return self._format(where[key])

    def _options(self, group) -> list:
        return [Option(key, *(self._format(t) for t in words))
                for key, words in self.text[group].items()]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    def __str__(self) -> str:
        fmt = f"\nAnswer with {self.answer_format}." if self.answer_format else ""
        return f"Exercise {self.id}: {self.title}\n{self.prompt}{fmt}"

    def _repr_markdown_(self) -> str:
        fmt = f"\n\n*Answer with {self.answer_format}.*" if self.answer_format else ""
        return f"**Exercise {self.id}: {self.title}**\n\n{self.prompt}{fmt}"

    # -- the learner's side -------------------------------------------------------------
    def check(self, answer) -> Feedback:
        """The verdict on ``answer``; a badly formed answer gives a message, not an error,
        and None (the answer cell as the notebook ships it) a neutral prompt."""
        if answer is None:
            return Feedback(False, f"replace None with {self.answer_format}, then run the "
                            "cell again.", mistake="no-answer", valid=False,
                            exercise_id=self.id)
        try:
            value = self._parse(answer)
        except NoAnswer as none:
            return Feedback(False, str(none), mistake="no-answer", valid=False,
                            exercise_id=self.id)
        except BadAnswer as bad:
            return Feedback(False, str(bad), mistake="bad-input", valid=False,
                            exercise_id=self.id)
        fb = self._judge(value)
        fb.exercise_id = self.id
        return fb

    def hint(self) -> Text:
        """The next hint; once they are used up, says so."""
        if self.hints_given >= len(self.hints):
            n = len(self.hints)
            return Text(f"No more hints: that was the last of {n}. "
                        "Call `.solution()` to reveal the answer.")
        self.hints_given += 1
        n, text = self.hints_given, self.hints[self.hints_given - 1]
        return Text(f"Hint {n}/{len(self.hints)}: {text}")

    def solution(self) -> Text:
        """Reveal the answer and why (sets ``revealed``)."""
        self.revealed = True
        return self.answer()

    def answer(self) -> Text:
        """The answer and why, as ``solution()`` shows it, without marking it revealed
        (for the teacher's answer key)."""
        return Text(self._solution_text())

    def typical_wrong_answers(self) -> list:
        """Wrong answers whose feedback the exercise has prepared (each one accepted by
        ``check``, which says why it is wrong), computed from the model like the answer."""
        return [a for a in self._typical_answers() if not self.check(a).correct]

    def reset(self) -> None:
        """Hide the solution again and start the hints from the first."""
        self.hints_given = 0
        self.revealed = False

    # -- the exercise's side -------------------------------------------------------------
    def _memo(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _expected(self):
        """The right answer, computed by running the model (cached)."""
        raise NotImplementedError

    def _parse(self, answer):
        raise NotImplementedError

    def _judge(self, value) -> Feedback:
        raise NotImplementedError

    def _solution_text(self) -> str:
        raise NotImplementedError

    def _typical_answers(self) -> list:
        raise NotImplementedError


# -- numeric predictions --------------------------------------------------------------------
class NumericExercise(Exercise):
    """Predict one or more counts (``fields``). ``compute()`` runs the model and returns
    the counts (an int, or a tuple in the order of ``fields``); ``mistakes(expected)``
    (given the int itself when there is one field) returns ``(value, key)`` for the typical
    wrong answers, computed from the model as well; the message for each key is the text's
    ``mistakes[key]``."""

    kind = "numeric"

    def __init__(self, id, notebook, fields, compute, mistakes=None, fmt=None, text=None):
        super().__init__(id, notebook, fmt, text)
        self.fields = tuple(fields)
        self._compute = compute
        self._mistakes = mistakes
        if len(self.fields) == 1:
            self.answer_format = f"one whole number ({self.fields[0]})"
        else:
            names = ", ".join(self.fields)
            self.answer_format = (f"a tuple of {len(self.fields)} whole numbers ({names}), "
                                  "or a dict with those keys")

    def _expected(self):
        def run():
            value = self._compute()
            return value if isinstance(value, tuple) else (value,)

        return self._memo("expected", run)

    def _mistake_list(self):
        def run():
            exp = self._expected()
            arg = exp[0] if len(exp) == 1 else exp
            out = []
            for value, key in (self._mistakes(arg) if self._mistakes else ()):
                value = value if isinstance(value, tuple) else (value,)
                if value != exp and all(v != value for v, _, _ in out):
                    out.append((value, key, self._words(key, "mistakes")))
            return out

        return self._memo("mistakes", run)

    @staticmethod
    def _one(value, name):
        if isinstance(value, bool):
            raise BadAnswer(f"{name}: give a whole number, not {value!r}.")
        if _is_int(value):
            n = value
        elif isinstance(value, float):
            if not value.is_integer():
                raise BadAnswer(f"{name}: {value!r} is not a whole number; counters count pages.")
            n = int(value)
        elif isinstance(value, str):
            text = value.strip()
            if not re.fullmatch(r"[+-]?[0-9]+", text):
                raise BadAnswer(f"{name}: {value!r} is not a whole number.")
            n = int(text)
        else:
            raise BadAnswer(f"{name}: give a whole number, not a {type(value).__name__}.")
        if n < 0:
            raise BadAnswer(f"{name}: {n} is negative, and these counts never are.")
        return n

    def _parse(self, answer):
        fields = self.fields
        if len(fields) == 1:
            if isinstance(answer, (tuple, list)) and len(answer) == 1:
                answer = answer[0]
            if isinstance(answer, dict) and set(answer) == set(fields):
                answer = answer[fields[0]]
            return (self._one(answer, fields[0]),)
        if isinstance(answer, dict):
            missing = [f for f in fields if f not in answer]
            extra = [k for k in answer if k not in fields]
            if missing or extra:
                parts = []
                if missing:
                    parts.append("missing " + ", ".join(map(str, missing)))
                if extra:
                    parts.append("unexpected " + ", ".join(map(repr, extra)))
                raise BadAnswer(f"The dict needs exactly the keys {', '.join(fields)} "
                                f"({'; '.join(parts)}).")
            answer = tuple(answer[f] for f in fields)
        if isinstance(answer, str) or not isinstance(answer, (tuple, list)):
            raise BadAnswer(f"Give {len(fields)} numbers as a tuple ({', '.join(fields)}), "
                            f"e.g. {tuple(range(1, len(fields) + 1))}, "
                            f"not a {type(answer).__name__}.")
        if len(answer) != len(fields):
            raise BadAnswer(f"Give exactly {len(fields)} numbers ({', '.join(fields)}), "
                            f"not {len(answer)}.")
        return tuple(self._one(v, f) for v, f in zip(answer, fields, strict=True))

    def _show(self, value) -> str:
        if len(self.fields) == 1:
            return f"{self.fields[0]} = {value[0]}"
        return ", ".join(f"{f} = {v}" for f, v in zip(self.fields, value, strict=True))

    def _judge(self, value) -> Feedback:
        exp = self._expected()
        if value == exp:
            return Feedback(True, f"{self._show(exp)}. {self.explanation}")
        for wrong, key, message in self._mistake_list():
            if value == wrong:
                return Feedback(False, message, mistake=key)
        parts = []
        for f, got, want in zip(self.fields, value, exp, strict=True):
            if got == want:
                parts.append(f"{f} is right")
            else:
                parts.append(f"{f} is too {'high' if got > want else 'low'}")
        return Feedback(False, "; ".join(parts) + ". Try `.hint()` if you are stuck.",
                        mistake="unrecognised")

    def _solution_text(self) -> str:
        exp = self._expected()
        return f"**Answer:** {self._show(exp)}.\n\n{self.explanation}"

    def _typical_answers(self) -> list:
        return [v[0] if len(v) == 1 else v for v, _, _ in self._mistake_list()]


# -- multiple choice ----------------------------------------------------------------------
class Option:
    """One choice: its ``key`` (a letter), the ``text`` shown, and ``why`` it is wrong (or,
    for the right one, the explanation)."""

    def __init__(self, key, text, why=""):
        self.key = key
        self.text = text
        self.why = why


def _shuffled(seed, options):
    """The options in a fixed order that depends only on ``seed``, relabelled a, b, c...;
    returns (options, {old key: new key})."""
    order = list(options)
    random.Random(seed).shuffle(order)
    relabel = {}
    out = []
    for letter, o in zip("abcdefghij", order, strict=False):
        relabel[o.key] = letter
        out.append(Option(letter, o.text, o.why))
    return out, relabel


def _norm_key(text: str) -> str:
    return text.strip().strip("()[].:").strip().lower()


class ChoiceExercise(Exercise):
    """Pick one option. ``correct`` is the key, or a callable computing it from the model.
    The options (the text's ``options``: key -> [text, why it is wrong]) are shown in an
    order fixed by the exercise id and relabelled a, b, c..."""

    kind = "choice"

    def __init__(self, id, notebook, correct, fmt=None, text=None):
        super().__init__(id, notebook, fmt, text)
        self.options, self._relabel = _shuffled(id, self._options("options"))
        self._correct = correct
        self.prompt += "\n\n" + "\n".join(f"- **{o.key}**) {o.text}" for o in self.options)
        keys = ", ".join(repr(o.key) for o in self.options)
        self.answer_format = f"one of the letters {keys}"

    def _expected(self):
        c = self._correct
        return self._memo("expected", lambda: self._relabel[c() if callable(c) else c])

    def _option(self, key):
        for o in self.options:
            if o.key == key:
                return o
        raise KeyError(key)

    def _parse(self, answer):
        keys = [o.key for o in self.options]
        if not isinstance(answer, str):
            raise BadAnswer(f"Answer with a letter as a str, one of {', '.join(keys)} "
                            f"(got a {type(answer).__name__}).")
        k = _norm_key(answer)
        for o in self.options:
            if k == o.key.lower() or k == _norm_key(o.text):
                return o.key
        raise BadAnswer(f"{answer!r} is not one of the options; answer with one of "
                        f"{', '.join(keys)}.")

    def _judge(self, value) -> Feedback:
        exp = self._expected()
        if value == exp:
            return Feedback(True, self.explanation)
        return Feedback(False, self._option(value).why, mistake=f"option-{value}")

    def _solution_text(self) -> str:
        o = self._option(self._expected())
        return f"**Answer:** {o.key}) {o.text}\n\n{self.explanation}"

    def _typical_answers(self) -> list:
        return [o.key for o in self.options]


# -- yes / no with a reason -----------------------------------------------------------------
_YES = {"yes", "y", "true"}
_NO = {"no", "n", "false"}


class YesNoExercise(Exercise):
    """Answer yes or no, and pick the reason: ``("no", "b")``. ``compute()`` runs the model
    and returns the right yes/no as a bool; the text's ``wrong_verdict`` explains the
    opposite answer, and each wrong reason's ``why`` (the text's ``reasons``) says what is
    wrong with it; ``reason`` is the key of the right one."""

    kind = "yes/no"

    def __init__(self, id, notebook, compute, reason="a", fmt=None, text=None):
        super().__init__(id, notebook, fmt, text)
        self.reasons, relabel = _shuffled(id, self._options("reasons"))
        self._reason = relabel[reason]
        self._compute = compute
        self.wrong_verdict = self._words("wrong_verdict")
        self.prompt += ("\n\nReasons:\n"
                        + "\n".join(f"- **{o.key}**) {o.text}" for o in self.reasons))
        keys = "/".join(o.key for o in self.reasons)
        self.answer_format = f'a pair ("yes" or "no", one of the reason letters {keys})'

    def _expected(self):
        return self._memo("expected", lambda: (bool(self._compute()), self._reason))

    @staticmethod
    def _verdict(v):
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in _YES | _NO:
            return v.strip().lower() in _YES
        raise BadAnswer(f'{v!r} is not a yes/no answer: use "yes" or "no" (or True/False).')

    def _parse(self, answer):
        keys = [o.key for o in self.reasons]
        if isinstance(answer, str):
            parts = answer.replace(",", " ").split()
            if len(parts) == 1:
                answer = (parts[0],)
            elif len(parts) == 2:
                answer = tuple(parts)
            else:
                raise BadAnswer(f'Write the answer as ("yes" or "no", reason letter), e.g. '
                                f'("no", "{keys[0]}"); could not read {answer!r}.')
        if isinstance(answer, bool):
            answer = (answer,)
        if not isinstance(answer, (tuple, list)):
            raise BadAnswer(f'Answer with a pair ("yes" or "no", reason letter), not a '
                            f"{type(answer).__name__}.")
        if len(answer) == 1:
            self._verdict(answer[0])
            raise BadAnswer(f"Also pick the reason: one of {', '.join(keys)}, e.g. "
                            f'("{"yes" if self._verdict(answer[0]) else "no"}", "{keys[0]}").')
        if len(answer) != 2:
            raise BadAnswer(f'Answer with exactly two things: ("yes" or "no", reason letter), '
                            f"not {len(answer)}.")
        verdict = self._verdict(answer[0])
        reason = answer[1]
        if not isinstance(reason, str) or _norm_key(reason) not in [k.lower() for k in keys]:
            raise BadAnswer(f"{reason!r} is not a reason letter; pick one of {', '.join(keys)}.")
        key = next(k for k in keys if k.lower() == _norm_key(reason))
        return verdict, key

    def _judge(self, value) -> Feedback:
        exp_verdict, exp_reason = self._expected()
        verdict, reason = value
        if verdict != exp_verdict:
            return Feedback(False, self.wrong_verdict, mistake="wrong-verdict")
        if reason != exp_reason:
            why = next(o.why for o in self.reasons if o.key == reason)
            return Feedback(False, f"{'Yes' if verdict else 'No'} is right, but not for that "
                            f"reason: {why}", mistake=f"reason-{reason}")
        return Feedback(True, f"{'Yes' if verdict else 'No'}. {self.explanation}")

    def _solution_text(self) -> str:
        verdict, reason = self._expected()
        o = next(o for o in self.reasons if o.key == reason)
        return (f"**Answer:** {'yes' if verdict else 'no'}, because {reason}) {o.text}\n\n"
                f"{self.explanation}")

    def _typical_answers(self) -> list:
        verdict, reason = self._expected()
        yes_no = "yes" if verdict else "no"
        return [("no" if verdict else "yes", reason)] + [
            (yes_no, o.key) for o in self.reasons if o.key != reason]


# -- be the scheduler -------------------------------------------------------------------------
def fixes_code(fixes: Fixes) -> str:
    """``fixes`` as the code that builds it: ``Fixes.all().without('cursor_insertion')``."""
    off = [n for n in Fixes.names() if not getattr(fixes, n)]
    if not off:
        return "Fixes.all()"
    if len(off) == len(Fixes.names()):
        return "Fixes.none()"
    return "Fixes.all().without(" + ", ".join(repr(n) for n in off) + ")"


def _steps_text(n, after="") -> str:
    """"the N steps[ after] were" (or the one step), for the steps a replay never took."""
    return f"the step{after} was" if n == 1 else f"the {n} steps{after} were"


class ScheduleExercise(Exercise):
    """Find a schedule of the scenario's tasks that breaks its property under ``fixes``.

    Any schedule that ends in a violation is accepted. A schedule that runs clean is
    replayed with a ``RunRecord`` of the mappings ``watch(scenario)`` names ((owner,
    address) pairs); ``story(record)`` returns the facts of that run worth telling and the
    keys of the text's ``advice`` that apply, and the feedback states exactly those facts.
    A breaking schedule's feedback compares its preemptions with the explorer's shortest,
    and the solution gives that count, unless ``tell_shortest`` is False. The solution shows
    the explorer's shortest, or with ``solution_from`` the shortest under those fixes
    (which must break the property under ``fixes`` too), so that it need not show what a
    later exercise asks."""

    kind = "schedule"

    def __init__(self, id, notebook, scenario, fixes, watch, story, fmt=None, text=None,
                 tell_shortest=True, solution_from=None):
        from .. import scenarios

        self.tell_shortest = tell_shortest  # False where a later exercise asks for it
        self.solution_from = solution_from  # fixes whose shortest the solution shows
        self.scenario = scenarios.get(scenario)
        self.fixes = fixes
        self._watch = watch
        self._story = story
        fmt = {"scenario": self.scenario.name, "scenario_title": self.scenario.title,
               "fixes": fixes_code(fixes), "property": self.scenario.property, **(fmt or {})}
        super().__init__(id, notebook, fmt, text)
        names = self.task_names()
        self.example = f"{names[0]}*2 {names[-1]}*3"
        self.answer_format = (f"a schedule string such as `'{self.example}'` (the task "
                              f"letters {', '.join(names)}, in either case; `NAME*N` for N "
                              "steps in a row; a last `NAME*` runs NAME until it finishes or "
                              "blocks), a list of task letters, or the stepper you played")

    def task_names(self) -> list:
        """The scenario's task names, sorted."""
        return [n for n, _ in self._tasks()]

    def _tasks(self):
        def run():
            k = self.scenario.build(self.fixes)
            tasks = self.scenario.tasks(k)
            for _, _, gen in tasks:
                gen.close()
            return sorted((n, title) for n, title, _ in tasks)

        return self._memo("tasks", run)

    def task_table(self) -> Text:
        """The racing tasks, by letter."""
        return Text("\n".join(f"- **{n}**: {title}" for n, title in self._tasks()))

    def _expected(self):
        """The explorer's shortest counterexample (a ``Counterexample``)."""
        from ..check.explore import explore

        def run():
            res = explore(self.scenario, fixes=self.fixes)
            if res.counterexample is None:
                raise RuntimeError(f"{self.scenario.name}: no counterexample under {self.fixes}")
            return res.counterexample

        return self._memo("expected", run)

    def replay_call(self, schedule) -> str:
        return (f"ksmlab.replay({self.scenario.name!r}, {str(schedule)!r}, "
                f"fixes={fixes_code(self.fixes)})")

    def _parse(self, answer):
        if isinstance(answer, Schedule):
            steps = answer
        elif isinstance(answer, str):
            try:
                steps, open_end = Schedule.parse_open(answer)
            except ValueError as err:
                raise BadAnswer(f"Cannot read the schedule: {err}.") from None
            if open_end is not None:
                steps = self._open_end(self._parse(steps) if steps else steps, open_end)
        elif isinstance(answer, (list, tuple)):
            try:
                steps = Schedule(answer)
            except ValueError as err:
                raise BadAnswer(f"Cannot read the schedule: {err} (each step is one task "
                                "letter as a str).") from None
        elif isinstance(getattr(answer, "schedule", None), (Schedule, str, list, tuple)):
            return self._parse(answer.schedule)
        else:
            raise BadAnswer(f"Give the schedule as a str like `'{self.example}'`, a list of "
                            f"task letters, or a Scheduler, not a {type(answer).__name__}.")
        if not steps:
            raise NoAnswer("no step has been taken. Click the task buttons (or give task "
                           f"steps as text, e.g. `'{self.example}'`) until the property "
                           "breaks, then run this cell again.")
        names = {n.lower(): n for n in self.task_names()}
        unknown = sorted({n for n in steps if n.lower() not in names})
        if unknown:
            raise BadAnswer(f"{', '.join(map(repr, unknown))} is not a task of this scenario; "
                            f"its tasks are {', '.join(names.values())} (either case).")
        return Schedule._trusted(tuple(names[n.lower()] for n in steps))

    def _open_end(self, steps, name):
        """``steps``, then task ``name`` (any case) until it finishes or blocks, stopping at
        a violation; a step that cannot be taken is left for ``_taken`` to explain."""
        names = {n.lower(): n for n in self.task_names()}
        if name.lower() not in names:
            self._parse([name])  # the unknown-task error
        name = names[name.lower()]
        s = Scheduler(self.scenario, self.fixes)
        try:
            s.run(steps)
            s.step(name)
            while (s.tasks[name].runnable and s.oops is None
                   and violation_of(self.scenario, s) is None):
                s.step(name)
            return s.schedule
        except ScheduleError:
            return Schedule._trusted(tuple(steps) + (name,))
        finally:
            s.close()

    def _taken(self, steps):
        """``(why, used)``: why ``steps`` cannot be taken (the ScheduleError and what could
        run) or None, and how many of them are taken: replay stops at a violation or an
        oops, and nothing is left to run once every task has finished."""
        s = Scheduler(self.scenario, self.fixes)
        try:
            for i, name in enumerate(steps):
                if (s.oops is not None or s.finished
                        or violation_of(self.scenario, s) is not None):
                    return None, i
                s.step(name)
            return None, len(steps)
        except ScheduleError as err:
            runnable = s.runnable()
            extra = (f" At that point the tasks that could run were: {', '.join(runnable)}."
                     if runnable else " At that point no task could run.")
            return f"This schedule cannot run: {err}.{extra}", None
        finally:
            s.close()

    def _judge(self, value) -> Feedback:
        why, used = self._taken(value)
        if why is not None:
            return Feedback(False, why, mistake="not-runnable")
        rep = _replay(self.scenario.name, value[:used], fixes=self.fixes)
        rep.scheduler.close()
        if rep.violation is not None:
            msg = f"Your schedule breaks the property: {rep.violation}."
            if self.tell_shortest:
                msg += (f" It has {rep.preemptions} preemption(s) (switches away from a task "
                        "that could have gone on); the shortest breaking schedules have "
                        f"{self._expected().preemptions}.")
            if used < len(value):
                msg += (f" The violation came at step {used}; "
                        f"{_steps_text(len(value) - used, ' after it')} not needed.")
            return Feedback(True, msg + self._with_fixes(value[:used]))
        fb = self._why_clean(value[:used])
        if fb.mistake == "clean" and used < len(value):
            fb.message += (f" Every task had finished after step {used}, so "
                           f"{_steps_text(len(value) - used, ' after it')} not needed.")
        return fb

    def _with_fixes(self, steps) -> str:
        s = Scheduler(self.scenario, Fixes.all())
        try:
            for name in steps:
                if s.finished:
                    break
                s.step(name)
                if violation_of(self.scenario, s) is not None:
                    return ""
        except ScheduleError as err:
            return (f" With every fix on, the same steps cannot all be taken ({err}): the "
                    "fixed code takes other steps (a task may need more of them, or wait), so the "
                    "same clicks no longer line up.")
        finally:
            s.close()
        return " With every fix on, the same schedule runs clean."

    def clean_run(self, steps):
        """Replay ``steps`` with a record: (facts, advice keys, tasks left unfinished)."""
        s = Scheduler(self.scenario, self.fixes)
        try:
            rec = RunRecord(s, self._watch(self.scenario))
            for name in steps:
                s.step(name)
                rec.record()
            facts, advice = self._story(rec)
            unfinished = [] if s.oops is not None else [
                n for n, t in sorted(s.tasks.items()) if not t.done]
            return facts, advice, unfinished
        finally:
            s.close()

    def _why_clean(self, steps) -> Feedback:
        facts, advice, unfinished = self.clean_run(steps)
        told = "\n".join(f"- {f}" for f in facts)
        if unfinished:
            # nothing is judged yet: advice about why a finished run stayed clean would
            # describe a run that has not happened
            msg = (f"Not finished yet: your schedule stops with {', '.join(unfinished)} still "
                   "running, and the property is judged once every task has ended. What "
                   f"happened so far:\n\n{told}\n\nPlay the remaining steps too.")
            return Feedback(False, msg, mistake="unfinished", facts=facts)
        msg = f"This schedule runs clean: nothing is broken. What happened:\n\n{told}\n\n"
        # one paragraph per route (the capstone's clean runs get advice on several)
        msg += "\n\n".join(self._words(key, "advice") for key in advice)
        return Feedback(False, msg, mistake="clean", facts=facts)

    def _typical_answers(self) -> list:
        """Each task run to its end before the next starts (no preemption), in each order
        of the tasks that starts a different one first, the others in name order and in
        reverse name order (with six tasks, as in the capstone, most name orders break)."""
        names = [name for name, _ in self._tasks()]
        out = []
        for first in names:
            others = [n for n in names if n != first]
            for order in ([first] + others, [first] + others[::-1]):
                s = self._serial(order)
                if s and s not in out:
                    out.append(s)
        return out

    def _serial(self, order):
        """The schedule that runs the tasks of ``order`` one after the other, each as far as
        it can go (a blocked task waits for the next one)."""
        s = Scheduler(self.scenario, self.fixes)
        try:
            while not s.finished and s.runnable():
                runnable = s.runnable()
                s.step(next(n for n in order if n in runnable))
            return s.schedule
        finally:
            s.close()

    def _solution_run(self):
        """The counterexample the solution shows (see the class docstring)."""
        if self.solution_from is None:
            return self._expected()
        from ..check.explore import Counterexample, explore

        def run():
            found = explore(self.scenario, fixes=self.solution_from).counterexample
            rep = _replay(self.scenario.name, found.schedule, fixes=self.fixes)
            rep.scheduler.close()
            if rep.violation is None:
                raise RuntimeError(f"{self.id}: {found.schedule} does not break the property "
                                   f"under {self.fixes}")
            return Counterexample(self.scenario, self.fixes, rep.schedule, rep.violation,
                                  rep.trace, rep.preemptions)

        return self._memo("solution", run)

    def _solution_text(self) -> str:
        ce = self._solution_run()
        which = (f"the explorer's shortest, {ce.preemptions} preemption(s)"
                 if self.tell_shortest and self.solution_from is None
                 else "one the explorer found")
        return (f"**A breaking schedule** ({which}): `{ce.schedule}`\n\n"
                f"It breaks the property with: {ce.violation}\n\n{self.explanation}\n\n"
                f"Replay it:\n\n```python\n{self.replay_call(ce.schedule)}\n```\n\n"
                f"```\n{ce.trace}\n```")
