"""How long a notebook takes a new learner: one who knows Python and virtual memory but
not the kernel, works through it in order, answers every exercise before any hint and
plays each race by hand.

The estimate adds up what the learner does, from the notebook as stored (its sources and
the outputs ``make notebooks`` wrote): reading the prose and the exercise texts, reading
pseudo-code, running each code cell and reading its code and printed output, studying
each figure, answering each exercise, clicking through each stepper and trying each
other widget. All the constants are below, in one place, with their reasons.

A section whose heading says "optional" (``## Optional · ...``) is left out, but only if
nothing after it depends on it: no code cell outside an optional section may follow one
(``optional_sections_come_last`` checks this). An exercise there is an optional one.

Calibration: the learner of the whole path took about 5 3/4 hours for 00-09, from 10
minutes (the contents) to 40-50 (the four fix notebooks, 04-07), with six of the ten at
35 minutes or more. On the notebooks as that learner saw them (the revision before the
glossary and the SVG diagrams), these constants give 358 minutes in all, 7 for 00, 40-49
for 04-07 and seven notebooks at 35 or more: slightly slower than the learner, which is
the safe side for a budget (``python tests/pace.py REV`` prints the table for a git
revision).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# --- the constants -------------------------------------------------------------------

# Prose: 130 words a minute. Adults read ordinary non-fiction at about 240 words a
# minute; reading to learn, with new terms on every line (mm_slot, rmap_item, stable
# node...), goes at little more than half that.
WORDS_PER_MINUTE = 150
# Pseudo-code and other fenced blocks in the prose: each line is read against the text.
SECONDS_PER_BLOCK_LINE = 5
# A code cell: read it, run it, look at what it printed (its figure is counted apart).
SECONDS_PER_CODE_CELL = 5
SECONDS_PER_CODE_LINE = 2
# Printed output (traces, counters, text pictures): a line is scanned, not read word by
# word, but a trace line is dense.
SECONDS_PER_OUTPUT_LINE = 2
# A figure (memory map, trees, ring, swimlanes, a chart): find what the text points at.
SECONDS_PER_FIGURE = 30
# An exercise: think, answer, check, sometimes one hint and a second try. Its text is
# read as prose (the rendered prompt is a markdown output).
SECONDS_PER_EXERCISE = 120
# A stepper: a first try that runs clean, reading its feedback, and a breaking run: the
# textbook schedules are 13-22 steps, so about 40 clicks, each read in the banner and
# the picture.
STEPPER_CLICKS = 40
SECONDS_PER_CLICK = 4
# Any other widget (sysfs panel, explorer panel): a few settings tried and read.
SECONDS_PER_WIDGET = 90

WIDGET = re.compile(r"\b(\w*Panel|Stepper)\(")
EXERCISE = re.compile(r'exercises\.get\("([^"]+)"\)')
FENCE = re.compile(r"```.*?```", re.S)
HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
OPTIONAL = re.compile(r"\boptional\b", re.I)
IMAGE_MIMES = ("image/png", "image/svg+xml")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def prose_words(text: str) -> int:
    """Words a reader reads in markdown: no fenced blocks, link targets or HTML tags."""
    text = FENCE.sub(" ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return len(re.findall(r"[A-Za-z0-9][^\s]*", text))


def block_lines(text: str) -> int:
    return sum(max(len(b.splitlines()) - 2, 0) for b in FENCE.findall(text))


@dataclass
class Estimate:
    """Seconds by activity; ``minutes`` is their sum."""

    seconds: dict = field(default_factory=dict)

    def add(self, what, secs):
        self.seconds[what] = self.seconds.get(what, 0) + secs

    @property
    def minutes(self) -> float:
        return sum(self.seconds.values()) / 60

    def __str__(self):
        parts = ", ".join(f"{k} {v / 60:.1f}" for k, v in self.seconds.items() if v)
        return f"{self.minutes:.1f} min ({parts})"


def _outputs(cell, est):
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            est.add("output", SECONDS_PER_OUTPUT_LINE * len("".join(out["text"]).splitlines()))
            continue
        data = out.get("data", {})
        if WIDGET_MIME in data:
            continue
        if any(m in data for m in IMAGE_MIMES):
            est.add("figures", SECONDS_PER_FIGURE)
        elif "text/html" in data and "<svg" in "".join(data["text/html"]):
            est.add("figures", SECONDS_PER_FIGURE * "".join(data["text/html"]).count("<svg"))
        elif "text/markdown" in data:
            est.add("reading", 60 * prose_words("".join(data["text/markdown"]))
                    / WORDS_PER_MINUTE)
        elif "text/plain" in data:
            est.add("output",
                    SECONDS_PER_OUTPUT_LINE * len("".join(data["text/plain"]).splitlines()))


def sections(nb):
    """(cell, text, optional) in reading order: a markdown cell in pieces, one per heading
    in it; optional while under a heading that says so."""
    stack = []  # (level, optional) of the headings above
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] != "markdown":
            yield cell, src, any(opt for _, opt in stack)
            continue
        starts = [m.start() for m in HEADING.finditer(src)]
        for a, b in zip([0] + starts, starts + [len(src)], strict=True):
            m = HEADING.match(src, a)
            if m:
                level = len(m.group(1))
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, bool(OPTIONAL.search(m.group(2)))))
            if src[a:b].strip():
                yield cell, src[a:b], any(opt for _, opt in stack)


def optional_sections_come_last(nb) -> list:
    """What breaks the rule for optional sections: a code cell outside them after one."""
    problems = []
    seen_optional = False
    for cell, src, optional in sections(nb):
        if optional:
            seen_optional = True
        elif seen_optional and cell["cell_type"] == "code":
            problems.append(f"code after an optional section: {src[:60]!r}")
    return problems


def estimate(nb) -> Estimate:
    est = Estimate()
    exercises = set()
    for cell, src, optional in sections(nb):
        if optional:
            continue
        if cell["cell_type"] == "markdown":
            est.add("reading", 60 * prose_words(src) / WORDS_PER_MINUTE)
            est.add("pseudo-code", SECONDS_PER_BLOCK_LINE * block_lines(src))
            continue
        if cell["cell_type"] != "code":
            continue
        lines = [ln for ln in src.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        est.add("code", SECONDS_PER_CODE_CELL + SECONDS_PER_CODE_LINE * len(lines))
        _outputs(cell, est)
        exercises.update(EXERCISE.findall(src))
        for m in WIDGET.finditer(src):
            if m.group(1) == "Stepper":
                est.add("stepper", STEPPER_CLICKS * SECONDS_PER_CLICK)
            else:
                est.add("widgets", SECONDS_PER_WIDGET)
    est.add("exercises", SECONDS_PER_EXERCISE * len(exercises))
    return est


if __name__ == "__main__":  # python tests/pace.py [REV]: the table (of a git revision)
    import subprocess
    import sys
    from pathlib import Path

    if len(sys.argv) > 1:
        names = subprocess.check_output(["git", "ls-tree", "--name-only", sys.argv[1],
                                         "notebooks/"], text=True).split()
        read = lambda path: subprocess.check_output(["git", "show", f"{sys.argv[1]}:{path}"])  # noqa: E731
    else:
        names = sorted(str(p) for p in Path("notebooks").glob("*.ipynb"))
        read = lambda path: Path(path).read_text()  # noqa: E731
    total = 0
    for path in names:
        if path.endswith(".ipynb") and "glossary" not in path:
            est = estimate(json.loads(read(path)))
            total += est.minutes
            print(f"{path.split('/')[-1]:45s} {est}")
    print(f"total {total:.0f} min")
