"""``python -m ksmlab workspace``: a learner's copy of the notebooks, with no outputs.

The notebooks in the repository keep their outputs: they are the reference nbval compares
against and what the static book shows. A learner who opened them as they are would see
every exercise's answer printed below it before running anything. So ``make lab`` and
``make notebook`` open a copy made by this command instead: the same cells, tags and cell
metadata, with every output, execution count and stored widget state taken out.

A notebook already in the copy is the learner's own work and is never overwritten; to
start one over, delete it and run the command again (``--reset NAME`` does both). Where
the checkout itself is a throwaway copy (a Binder image), ``--in-place`` strips the
notebooks where they are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["add_parser", "strip_outputs", "make_workspace"]


def strip_outputs(nb: dict) -> dict:
    """A copy of the notebook ``nb`` (its JSON as a dict) as a learner should open it:
    no outputs, no execution counts, no stored widget state."""
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a notebook: no list of cells")
    out = dict(nb)
    meta = dict(nb.get("metadata", {}))
    meta.pop("widgets", None)
    out["metadata"] = meta
    cells = []
    for cell in nb["cells"]:
        cell = dict(cell)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    out["cells"] = cells
    return out


def make_workspace(source, dest=None, reset=()) -> dict:
    """Copy every notebook of the folder ``source`` into ``dest`` without outputs.

    Notebooks already in ``dest`` are kept, except those named in ``reset`` (file names,
    with or without ``.ipynb``), which are copied afresh. ``dest`` None strips the
    notebooks of ``source`` in place. Returns {file name: "copied", "reset", "kept" or
    "stripped"}."""
    source = Path(source)
    if not source.is_dir():
        raise ValueError(f"no folder of notebooks at {source}")
    names = sorted(p.name for p in source.glob("*.ipynb"))
    if not names:
        raise ValueError(f"no notebooks in {source}")
    wanted = set()
    for name in reset:
        name = name if name.endswith(".ipynb") else name + ".ipynb"
        if name not in names:
            raise ValueError(f"--reset {name}: no such notebook in {source}")
        wanted.add(name)
    in_place = dest is None
    if in_place:
        dest = source
    elif Path(dest).resolve() == source.resolve():
        raise ValueError("the workspace must not be the folder it is copied from "
                         "(--in-place strips the notebooks where they are)")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    done = {}
    for name in names:
        target = dest / name
        existed = target.exists()
        if existed and name not in wanted and not in_place:
            done[name] = "kept"
            continue
        with open(source / name, encoding="utf-8") as f:
            nb = strip_outputs(json.load(f))
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)  # a learner's file is never left half-written
        done[name] = ("stripped" if in_place else
                      "reset" if existed and name in wanted else "copied")
    return done


def add_parser(subparsers):
    p = subparsers.add_parser(
        "workspace", help="copy the notebooks without their outputs, for a learner to open",
        description="Copy every notebook of SOURCE into DEST with no outputs, execution "
        "counts or widget state, so that no answer is on screen before its cell runs. "
        "Notebooks already in DEST are the learner's work and are kept.")
    p.add_argument("source", metavar="SOURCE", help="the folder of reference notebooks")
    p.add_argument("dest", metavar="DEST", nargs="?",
                   help="the learner's folder (created if missing)")
    p.add_argument("--in-place", action="store_true",
                   help="strip the notebooks of SOURCE where they are (a throwaway checkout)")
    p.add_argument("--reset", action="append", default=[], metavar="NAME",
                   help="copy this notebook afresh, replacing the learner's copy (repeatable)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    if args.in_place == (args.dest is not None):
        print("error: give either DEST or --in-place", file=sys.stderr)
        return 2
    try:
        done = make_workspace(args.source, args.dest, args.reset)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    where = args.dest or args.source
    copied = [n for n, how in done.items() if how != "kept"]
    kept = [n for n, how in done.items() if how == "kept"]
    if copied:
        print(f"{where}: {len(copied)} notebook(s) without outputs")
    if kept:
        print(f"{where}: {len(kept)} notebook(s) kept as you left them "
              f"(--reset NAME starts one over)")
    return 0
