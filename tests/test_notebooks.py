"""The notebook sequence: every notebook has its goals, navigation, checked exercises and
summary; links resolve; the prose is spelled right; stored outputs are complete.

(nbval, run by ``make test`` as ``pytest --nbval notebooks/``, compares the outputs.)
"""

import html
import json
import re
from pathlib import Path

import pace
import pytest
from pace import estimate, optional_sections_come_last

from ksmlab import exercises

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SEQUENCE = [
    "00_index", "01_merging", "02_unmerging_and_cow", "03_numa_trees",
    "04_fix_cursor_insertion", "05_fix_swapcache_copy_on_fault",
    "06_fix_follow_page_migration_wait", "07_fix_stable_node_removal", "08_capstone",
    "09_live_kernel",
]
GLOSSARY = "glossary"
# a new learner's time for one notebook (tests/pace.py says how it is estimated)
BUDGET_MINUTES = 30
WORDLIST = Path(__file__).with_name("wordlist.txt")
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")

# the glossary's entries (anchor: how the notebooks write the term); the first use of each
# in a notebook's prose links to its entry
TERMS = {
    "mm": r"(?<![/\w])mms?\b(?![/.,\w])",
    "mm-slot": r"mm_slots?",
    "vma": r"\bVMAs?\b",
    "pte": r"\bPTEs?\b",
    "mmap-sem": r"mmap_sem",
    "page-lock": r"\bpage lock\b",
    "anon-vma": r"anon_vma",
    "swap-cache": r"\bswap cache\b",
    "cond-resched": r"cond_resched",
    "rmap-item": r"rmap_items?",
    "stable-node": r"\bstable nodes?\b",
    "unstable-tree": r"\bunstable trees?\b",
    "rb-tree": r"\bred-black trees?\b",
    "eagain": r"EAGAIN",
    "ebusy": r"EBUSY",
    "mapcount": r"\b(?:mapcount|refcount)s?\b",
    "ksm-page": r"\bKSM pages?\b",
    "ksmd": r"\bksmd\b",
    "cow": r"\bcopy-on-write\b",
    "numa": r"\bNUMA nodes?\b",
    "preemption": r"\bpreemptions?\b",
    "pruned": r"\bpruned\b",
    "exhaustive": r"\bexhaustive\b",
    "seqnr": r"\bseqnr\b",
}
SEGMENT = re.compile(r"(```.*?```|`[^`]+`|\[[^\]]*\]\([^)]*\)|<[^>]+>|^#[^\n]*$)", re.S | re.M)


def first_uses(text, seen):
    """For each term not in ``seen`` met in ``text`` (outside code blocks, headings, HTML
    and links other than its glossary link; an inline code span counts when it is the term
    itself): (start, end, anchor, whether it is its glossary link). Adds the anchors to
    ``seen``."""
    out = []
    pos = 0
    pieces = []
    for m in SEGMENT.finditer(text):
        pieces.append((pos, text[pos:m.start()], "prose"))
        pieces.append((m.start(), m.group(0), "special"))
        pos = m.end()
    pieces.append((pos, text[pos:], "prose"))
    for start, piece, kind in pieces:
        found = []
        for anchor, pattern in TERMS.items():
            if anchor in seen:
                continue
            if kind == "prose":
                m = re.search(pattern, piece)
                if m:
                    found.append((start + m.start(), start + m.end(), anchor, False))
            elif piece.startswith("`") and not piece.startswith("```"):
                if re.fullmatch(pattern, piece.strip("`")):
                    found.append((start, start + len(piece), anchor, False))
            elif piece.startswith("["):
                link = LINK.fullmatch(piece)
                if link and link.group(2) == f"{GLOSSARY}.ipynb#{anchor}":
                    found.append((start, start + len(piece), anchor, True))
        for item in sorted(found):
            if item[2] not in seen:
                seen.add(item[2])
                out.append(item)
    return out


def load(name):
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())


def markdown(nb):
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def code(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_sequence_is_complete():
    found = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert found == sorted(SEQUENCE + [GLOSSARY])


@pytest.mark.parametrize("name", SEQUENCE)
def test_opening_has_title_navigation_and_goals(name):
    first = markdown(load(name))[0]
    number = name[:2]
    assert first.startswith(f"# {number} · ")
    assert "[Contents](00_index.ipynb)" in first
    i = SEQUENCE.index(name)
    if i > 0:
        assert f"({SEQUENCE[i - 1]}.ipynb)" in first, "no link to the previous notebook"
    if i + 1 < len(SEQUENCE):
        assert f"({SEQUENCE[i + 1]}.ipynb)" in first, "no link to the next notebook"
    goals = first.split("## Learning goals", 1)
    assert len(goals) == 2, "no '## Learning goals' section"
    bullets = [line for line in goals[1].splitlines() if line.startswith("- ")]
    assert len(bullets) >= 3


@pytest.mark.parametrize("name", SEQUENCE + [GLOSSARY])
def test_navigation_links_the_glossary(name):
    md = markdown(load(name))
    for cell in (md[0], md[-1]):
        assert "[Contents](00_index.ipynb)" in cell
        if name != GLOSSARY:
            assert "[Glossary](glossary.ipynb)" in cell


def glossary_anchors():
    return set(re.findall(r'<a id="([a-z0-9-]+)"></a>', "\n".join(markdown(load(GLOSSARY)))))


def test_glossary_covers_every_term():
    anchors = glossary_anchors()
    assert set(TERMS) <= anchors
    needed = {"anon-vma", "cond-resched", "eagain", "mapcount", "mm", "mm-slot", "mmap-sem",
              "page-lock", "pte", "rb-tree", "rmap-item", "stable-node", "swap-cache",
              "unstable-tree", "vma", "pic-frame", "pic-swap", "pic-ring", "pic-unstable",
              "seqnr", "preemption", "bound", "pruned", "exhaustive", "window", "dfs"}
    assert needed <= anchors, needed - anchors
    text = "\n".join(markdown(load(GLOSSARY)))
    for field in ("r2 m2", "data '-'", "behind the cursor", "unstable tree 0: A@+0x0",
                  "rmap_items 0", "random", "pct"):
        assert field in text, field


@pytest.mark.parametrize("name", SEQUENCE)
def test_glossary_links_resolve_and_terms_are_linked_at_first_use(name):
    anchors = glossary_anchors()
    seen = set()
    unlinked = []
    for text in markdown(load(name)):
        for _, target in LINK.findall(text):
            if target.startswith(f"{GLOSSARY}.ipynb#"):
                assert target.split("#", 1)[1] in anchors, f"{name}: no glossary entry {target}"
        for start, end, anchor, linked in first_uses(text, seen):
            if not linked:
                unlinked.append(f"{anchor} ({text[start:end]!r})")
    assert not unlinked, f"{name}: first use not linked to the glossary: {unlinked}"


@pytest.mark.parametrize("name", SEQUENCE)
def test_closing_has_summary_and_navigation(name):
    md = markdown(load(name))
    text = "\n".join(md)
    assert "## Summary" in text
    assert "[Contents](00_index.ipynb)" in md[-1], "the last cell repeats the navigation"


@pytest.mark.parametrize("name", SEQUENCE[1:])
def test_at_least_three_checked_exercises(name):
    nb = load(name)
    ids = []
    for cell in code(nb):
        ids += re.findall(r'exercises\.get\("([^"]+)"\)', "".join(cell["source"]))
    checks = sum("".join(c["source"]).count(".check(") for c in code(nb))
    assert len(set(ids)) >= 3, f"{name} has {len(set(ids))} exercises"
    assert checks >= 3
    known = {ex.id for ex in exercises.for_notebook(name)}
    assert set(ids) <= known, f"unknown exercise ids {set(ids) - known}"


# Predict before demonstrate: an exercise whose answer a later cell shows is asked first.
# The cell that shows it (the reveal) carries {"ksmlab": {"reveals": [exercise ids]}} in its
# metadata; these exercises must have one.
PREDICT_FIRST = {
    "01_merging": {"01.first-pass", "01.which-tree", "01.pass2-counters", "01.pages-saved",
                   "01.volatile", "01.stable-first"},
    "03_numa_trees": {"03.per-node-counters", "03.cross-node", "03.switch-busy",
                      "03.switch-procedure"},
    "04_fix_cursor_insertion": {"04.counters-after", "04.be-the-scheduler", "04.the-fix"},
    "02_unmerging_and_cow": {"02.write-counters", "02.merge-back", "02.run2-counters",
                             "02.break-ksm", "02.swapped-out"},
    "05_fix_swapcache_copy_on_fault": {"05.decider", "05.mapped-after", "05.with-fix",
                                       "05.be-the-scheduler"},
    "06_fix_follow_page_migration_wait": {"06.what-walk-saw", "06.be-the-scheduler",
                                          "06.where-p-maps", "06.the-fix"},
    "07_fix_stable_node_removal": {"07.nodes-left", "07.why-oops", "07.be-the-scheduler",
                                   "07.switch-with-fix", "07.ebusy-policy"},
}
# the notebooks whose exercises' answers are checked not to be on screen before them, in
# that notebook or an earlier one (the contents, 00, has no exercise but comes first)
NO_GIVEAWAY = SEQUENCE[:8]
ASKED = re.compile(r'^(\w+) = exercises\.get\("([^"]+)"\)', re.M)


def asked_and_revealed(nb):
    """({exercise id: (index of the cell that asks it, index of the cell that checks it)},
    {exercise id: index of the cell that reveals its answer})."""
    cells = nb["cells"]
    asked, revealed = {}, {}
    for i, cell in enumerate(cells):
        src = "".join(cell["source"])
        for ex_id in cell.get("metadata", {}).get("ksmlab", {}).get("reveals", []):
            assert ex_id not in revealed, f"{ex_id} has two reveal cells"
            revealed[ex_id] = i
        if cell["cell_type"] != "code":
            continue
        for var, ex_id in ASKED.findall(src):
            check = next((j for j in range(i, len(cells)) if cells[j]["cell_type"] == "code"
                          and f"{var}.check(" in "".join(cells[j]["source"])), None)
            asked[ex_id] = (i, check)
    return asked, revealed


@pytest.mark.parametrize("name", SEQUENCE)
def test_exercises_are_asked_before_the_cell_that_shows_their_answer(name):
    nb = load(name)
    asked, revealed = asked_and_revealed(nb)
    assert PREDICT_FIRST.get(name, set()) <= set(revealed), \
        f"{name}: no reveal cell marked for {PREDICT_FIRST[name] - set(revealed)}"
    for ex_id, shown in revealed.items():
        assert ex_id in asked, f"{name}: a reveal of {ex_id}, which is never asked"
        ask, check = asked[ex_id]
        assert check is not None, f"{name}: {ex_id} is never checked"
        assert ask < check < shown, f"{name}: {ex_id} is asked at cell {ask}, checked at " \
                                    f"{check}, but its answer is shown at cell {shown}"
        # the demonstration is followed by prose that says what it showed
        after = shown
        while nb["cells"][after]["cell_type"] == "code":
            after += 1
        text = "".join(nb["cells"][after]["source"])
        assert not text.lstrip().startswith("#"), \
            f"{name}: nothing says what the reveal of {ex_id} showed"


def test_reveal_markers_are_found():
    nb = {"cells": [_code('ex = exercises.get("x.y")'), _code("ex.check(None)"),
                    {**_code("show()"), "metadata": {"ksmlab": {"reveals": ["x.y"]}}},
                    _md("It showed this.")]}
    assert asked_and_revealed(nb) == ({"x.y": (0, 1)}, {"x.y": 2})
    nb["cells"][:2] = nb["cells"][1::-1]  # checked before it is asked
    assert asked_and_revealed(nb)[0] == {"x.y": (1, None)}


def _on_screen(cell):
    """What a learner sees of a cell: a markdown cell's text, a code cell's outputs (of a
    link, its text and not where it points)."""
    parts = ["".join(cell["source"])] if cell["cell_type"] == "markdown" else []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append("".join(out["text"]))
        for mime in ("text/markdown", "text/plain", "text/html"):
            parts.append("".join(out.get("data", {}).get(mime, "")))
    return _plain(LINK.sub(lambda m: m.group(1), " ".join(parts)))


def test_on_screen_is_what_a_learner_reads():
    link = _md("See [06 A page under migration](06_fix_follow_page_migration_wait.ipynb).")
    assert _on_screen(link) == "see 06 a page under migration."
    out = {**_code("print(x)"), "outputs": [
        {"output_type": "stream", "text": ["ksm_might_need_to_copy\n"]},
        {"output_type": "display_data", "data": {"text/markdown": "**a**) `break_ksm`"}}]}
    assert _on_screen(out).strip() == "ksmmightneedtocopy a) breakksm"


def _plain(text):
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return re.sub(r"\s+", " ", re.sub(r"[`*_]", "", text)).lower()


def right_answer_words(ex):
    """The words of the right answer, where it has words: the right option or reason, or
    the shortest breaking schedule."""
    if ex.kind == "choice":
        return [o.text for o in ex.options if o.key == ex._expected()]
    if ex.kind == "yes/no":
        return [o.text for o in ex.reasons if o.key == ex._expected()[1]]
    if ex.kind == "schedule":
        return [str(ex._expected().schedule)]
    return []


@pytest.mark.parametrize("name", NO_GIVEAWAY)
def test_no_right_answer_is_on_screen_before_its_exercise(name):
    earlier = SEQUENCE[:SEQUENCE.index(name)]
    seen = " ".join(_on_screen(cell) for nb in earlier for cell in load(nb)["cells"])
    for cell in load(name)["cells"]:
        if cell["cell_type"] == "code":
            for _, ex_id in ASKED.findall("".join(cell["source"])):
                for words in right_answer_words(exercises.get(ex_id)):
                    assert _plain(words) not in seen, f"{name}: {ex_id}'s answer {words!r} " \
                                                      "is on screen before it is asked"
        seen += " " + _on_screen(cell)


def _md(text):
    return {"cell_type": "markdown", "source": text}


def _code(text):
    return {"cell_type": "code", "source": text, "outputs": []}


def test_the_estimate_leaves_out_only_optional_sections_at_the_end():
    words = " ".join(["word"] * 150)  # one minute of reading
    core = [_md(f"# Title\n\n{words}"), _code('ex = exercises.get("x.y")')]
    optional = [_md(f"## Optional · more depth\n\n{words}"), _code("draw_memory(w)")]
    closing = [_md("## Read it in the kernel\n\nmm/ksm.c")]
    base = estimate({"cells": core + closing}).minutes
    # 157 words of prose, a one-line code cell, one exercise
    assert base == pytest.approx((157 * 60 / pace.WORDS_PER_MINUTE + pace.SECONDS_PER_CODE_CELL
                                  + pace.SECONDS_PER_CODE_LINE + pace.SECONDS_PER_EXERCISE) / 60)
    assert estimate({"cells": core + optional + closing}).minutes == pytest.approx(base)
    assert not optional_sections_come_last({"cells": core + optional + closing})
    # code after an optional section may depend on it: not allowed
    assert optional_sections_come_last({"cells": core + optional + [_md("## Next"), _code("x")]})
    plain = [_md(f"## More depth\n\n{words}"), _code("draw_memory(w)")]
    assert estimate({"cells": core + plain + closing}).minutes > base + 1


@pytest.mark.parametrize("name", SEQUENCE)
def test_fits_in_the_time_budget(name):
    nb = load(name)
    assert not optional_sections_come_last(nb)
    est = estimate(nb)
    assert est.minutes <= BUDGET_MINUTES, f"{name}: {est}"


@pytest.mark.parametrize("name", SEQUENCE)
def test_never_reveals_a_solution_in_the_stored_notebook(name):
    for cell in code(load(name)):
        assert ".solution()" not in "".join(cell["source"])


@pytest.mark.parametrize("name", SEQUENCE)
def test_stored_outputs_are_complete_and_errorless(name):
    for cell in code(load(name)):
        src = "".join(cell["source"])
        if "NBVAL_SKIP" in src:
            continue
        assert cell["execution_count"] is not None, f"unexecuted cell: {src[:60]!r}"
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"stored error in {src[:60]!r}"
        if "NBVAL_IGNORE_OUTPUT" in src:
            line = next(ln for ln in src.splitlines() if "NBVAL_IGNORE_OUTPUT" in ln)
            assert re.search(r"NBVAL_IGNORE_OUTPUT\W+\w+", line), "say why output is ignored"


@pytest.mark.parametrize("name", SEQUENCE)
def test_no_model_logic_in_notebooks(name):
    for cell in code(load(name)):
        src = "".join(cell["source"])
        assert not re.search(r"^\s*(def|class) ", src, re.M), f"definition in {name}: {src[:80]}"


@pytest.mark.parametrize("name", SEQUENCE + [GLOSSARY])
def test_internal_links_resolve(name):
    for text in markdown(load(name)):
        for _, target in LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = target.split("#", 1)[0]
            if path:
                assert (NOTEBOOKS / path).resolve().exists(), f"{name}: broken link {target}"


def _words(text):
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = LINK.sub(lambda m: m.group(1), text)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    for word in re.findall(r"[A-Za-z0-9][A-Za-z0-9'’]*", text):
        word = re.sub(r"['’]s$", "", word.strip("'’"))
        if len(word) > 2 and not re.search(r"[0-9]", word) and not any(
                ch.isupper() for ch in word[1:]):
            yield word


def test_spelling_of_notebook_prose():
    from spellchecker import SpellChecker

    checker = SpellChecker()
    extra = {w.strip().lower() for w in WORDLIST.read_text().split() if w.strip()}
    unknown = {}
    for name in SEQUENCE + [GLOSSARY]:
        for text in markdown(load(name)):
            for word in _words(text):
                low = word.lower()
                if low in extra:
                    continue
                if checker.unknown([low]):
                    unknown.setdefault(low, name)
    assert not unknown, f"unknown words (fix, or add real terms to {WORDLIST.name}): {unknown}"


@pytest.mark.parametrize("name", SEQUENCE + [GLOSSARY])
def test_cell_ids_are_unique(name):
    """nbformat renames a repeated id when it reads the notebook (the book build warns):
    every cell keeps its own."""
    ids = [c["id"] for c in load(name)["cells"]]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
