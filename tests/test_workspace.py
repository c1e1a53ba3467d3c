"""The learner's workspace: the notebooks without their outputs (python -m ksmlab workspace)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ksmlab.workspace import make_workspace, strip_outputs

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "ksmlab", "workspace", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, check=False)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    dest = tmp_path_factory.mktemp("ws") / "workspace"
    return dest, make_workspace(NOTEBOOKS, dest)


def test_every_notebook_is_copied_and_valid(workspace):
    dest, done = workspace
    assert done == {name: "copied" for name in NAMES}
    assert sorted(p.name for p in dest.glob("*.ipynb")) == NAMES
    for name in NAMES:
        nbformat.validate(nbformat.read(dest / name, as_version=4))


@pytest.mark.parametrize("name", NAMES)
def test_only_outputs_counts_and_widget_state_go(workspace, name):
    dest, _ = workspace
    ref, mine = load(NOTEBOOKS / name), load(dest / name)
    # the reference really has something to take out, or this test proves nothing
    assert any(c.get("outputs") for c in ref["cells"] if c["cell_type"] == "code")
    assert "widgets" not in mine["metadata"]
    assert {k: v for k, v in ref["metadata"].items() if k != "widgets"} == mine["metadata"]
    assert len(mine["cells"]) == len(ref["cells"])
    for r, m in zip(ref["cells"], mine["cells"], strict=True):
        assert m["source"] == r["source"] and m["metadata"] == r["metadata"]
        assert m["cell_type"] == r["cell_type"]
        if m["cell_type"] == "code":
            assert m["outputs"] == [] and m["execution_count"] is None
        else:
            assert m == r


def test_a_learners_notebook_is_kept_and_reset_replaces_it(tmp_path):
    dest = tmp_path / "ws"
    make_workspace(NOTEBOOKS, dest)
    mine = dest / "01_merging.ipynb"
    mine.write_text('{"my": "answers"}', encoding="utf-8")
    done = make_workspace(NOTEBOOKS, dest)
    assert done["01_merging.ipynb"] == "kept" and set(done.values()) == {"kept"}
    assert mine.read_text(encoding="utf-8") == '{"my": "answers"}'
    done = make_workspace(NOTEBOOKS, dest, reset=["01_merging"])
    assert done["01_merging.ipynb"] == "reset"
    assert [v for k, v in done.items() if k != "01_merging.ipynb"] == ["kept"] * (len(NAMES) - 1)
    fresh = load(NOTEBOOKS / "01_merging.ipynb")["cells"][0]["source"]
    assert load(mine)["cells"][0]["source"] == fresh
    assert not list(dest.glob("*.tmp"))


def test_in_place_strips_a_throwaway_copy(tmp_path):
    copy = tmp_path / "nb"
    shutil.copytree(NOTEBOOKS, copy, ignore=shutil.ignore_patterns("app"))
    done = make_workspace(copy)
    assert done == {name: "stripped" for name in NAMES}
    for name in NAMES:
        assert all(c.get("outputs", []) == [] for c in load(copy / name)["cells"])


def test_strip_outputs_leaves_its_argument_alone():
    ref = load(NOTEBOOKS / "00_index.ipynb")
    before = json.dumps(ref, sort_keys=True)
    strip_outputs(ref)
    assert json.dumps(ref, sort_keys=True) == before


@pytest.mark.parametrize("bad, message", [
    ({"cells": "none"}, "not a notebook: no list of cells"),
    ([], "not a notebook: no list of cells"),
])
def test_strip_outputs_refuses_what_is_not_a_notebook(bad, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        strip_outputs(bad)


def test_bad_calls_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="no folder of notebooks at"):
        make_workspace(tmp_path / "missing", tmp_path / "ws")
    with pytest.raises(ValueError, match="no notebooks in"):
        make_workspace(tmp_path, tmp_path / "ws")
    with pytest.raises(ValueError, match=r"--reset 99_none\.ipynb: no such notebook"):
        make_workspace(NOTEBOOKS, tmp_path / "ws", reset=["99_none"])
    with pytest.raises(ValueError, match="must not be the folder it is copied from"):
        make_workspace(NOTEBOOKS, NOTEBOOKS)
    assert not (tmp_path / "ws").exists()  # nothing was made before the refusal


@pytest.mark.parametrize("args, message", [
    (("notebooks",), "error: give either DEST or --in-place"),
    (("notebooks", "ws", "--in-place"), "error: give either DEST or --in-place"),
    (("no-such-folder", "ws"), "error: no folder of notebooks at no-such-folder"),
])
def test_command_line_errors_are_one_line_and_exit_2(args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr.strip() == message


def test_command_line_reports_copied_then_kept(tmp_path):
    first = cli("notebooks", tmp_path / "ws")
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"{tmp_path / 'ws'}: {len(NAMES)} notebook(s) without outputs\n"
    again = cli("notebooks", tmp_path / "ws")
    assert again.stdout == (f"{tmp_path / 'ws'}: {len(NAMES)} notebook(s) kept as you left "
                            "them (--reset NAME starts one over)\n")


@pytest.mark.parametrize("target, app", [("lab", "lab"), ("notebook", "notebook")])
def test_make_lab_and_notebook_open_the_workspace(target, app, tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    bin_ = re.escape(str(tmp_path / "venv" / "bin"))
    copy = [i for i, line in enumerate(lines)
            if re.fullmatch(rf"{bin_}/python -m ksmlab workspace notebooks workspace", line)]
    opened = rf"{bin_}/jupyter {app}( --allow-root)? workspace/00_index\.ipynb"
    run = [i for i, line in enumerate(lines) if re.fullmatch(opened, line)]
    assert copy and run and copy[0] < run[0], result.stdout


def test_binder_strips_its_copy_after_installing():
    lines = (ROOT / "binder" / "postBuild").read_text().splitlines()
    install = lines.index("pip install --no-deps .")
    assert lines.index("python -m ksmlab workspace notebooks --in-place") > install
