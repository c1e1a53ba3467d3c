"""Execute notebooks in place, so that they store the reference outputs nbval compares against.

Usage (from the repository root; ``make notebooks`` does this for every notebook)::

    .venv/bin/python tests/execute_notebooks.py notebooks/*.ipynb

Each notebook runs in a fresh ``python3`` kernel whose working directory is the notebook's
folder, with a 600 s timeout per cell. To keep the stored outputs reproducible:

* the kernel runs with ``PYTHONHASHSEED=0`` (``make test`` runs nbval with the same seed) and
  without ``MPLBACKEND``, so matplotlib uses the inline backend exactly as under nbval;
* nbclient's Output-widget emulation is switched off (``comm_open_handlers = {}``), so text
  written into an Output widget while a cell runs is stored as a plain stream, which is what
  nbval sees;
* no execution timestamps are recorded, and volatile cell metadata is removed;
* consecutive stream outputs are joined (how a kernel splits what a cell prints depends on
  timing), and widget model ids, random in the kernel, are renumbered in the order they
  first appear, so executing an unchanged notebook again writes the same file.

Cells marked ``# NBVAL_SKIP`` (or tagged ``nbval-skip``) are not run and keep no outputs.
Cells marked ``# NBVAL_RAISES_EXCEPTION`` (or tagged ``raises-exception``) may raise; any
other error aborts the run and leaves that notebook file untouched.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT = 600
KERNEL_NAME = "python3"
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime")


def _marked(cell, marker: str, tags: tuple[str, ...]) -> bool:
    """True if the cell has one of the tags, or a comment line that is exactly the marker.

    Same rules as nbval's: ``# NBVAL_SKIP`` on any line, or the tag ``nbval-skip``.
    """
    if set(tags) & set(cell.metadata.get("tags", [])):
        return True
    for line in cell.source.splitlines():
        line = line.strip()
        if line.startswith("#") and line.lstrip("#").strip() == marker:
            return True
    return False


def kernel_env() -> dict[str, str]:
    """Environment of the kernel: ours, with a fixed hash seed and no forced matplotlib backend."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env.pop("MPLBACKEND", None)
    return env


def execute(path: Path, attempts: int = 3) -> None:
    """Execute ``path`` and write it back. A widget whose model the kernel's messages did
    not deliver before the run ended (nbclient keeps the state it has seen) would be a
    view the book cannot draw: the run is then repeated, and fails after ``attempts``."""
    for _ in range(attempts):
        text = _executed(path)
        missing = _missing_models(text)
        if not missing:
            path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            return
    raise RuntimeError(f"{path}: widget models referred to but not stored: {sorted(missing)}")


def _executed(path: Path) -> str:
    """The notebook at ``path`` executed, as the JSON text to store."""
    nb = nbformat.read(path, as_version=4)

    skipped = {}  # index -> original source of cells that must not run
    added_tags = []  # cells that got a temporary "raises-exception" tag
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if _marked(cell, "NBVAL_SKIP", ("nbval-skip",)):
            skipped[index] = cell.source
            cell.source = ""
        elif _marked(
            cell, "NBVAL_RAISES_EXCEPTION", ("raises-exception", "nbval-raises-exception")
        ):
            tags = cell.metadata.setdefault("tags", [])
            if "raises-exception" not in tags:
                tags.append("raises-exception")
                added_tags.append(cell)

    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name=KERNEL_NAME,
        record_timing=False,
        coalesce_streams=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # No Output-widget emulation: the stored outputs then match what nbval sees.
    client.comm_open_handlers = {}
    client.execute(env=kernel_env())

    for index, source in skipped.items():
        cell = nb.cells[index]
        cell.source = source
        cell.outputs = []
        cell.execution_count = None
    for cell in added_tags:
        cell.metadata["tags"].remove("raises-exception")
        if not cell.metadata["tags"]:
            del cell.metadata["tags"]
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)

    nbformat.validate(nb)
    return renumber_widget_ids(nbformat.writes(nb))


def _missing_models(text: str) -> set:
    """The widget model ids ``text`` refers to (views and references inside the stored
    state) that its stored widget state lacks."""
    nb = json.loads(text)
    state = nb.get("metadata", {}).get("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    refs = set(re.findall(r"IPY_MODEL_([0-9a-f]{32})", json.dumps(state)))
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(_WIDGET_VIEW)
            if view:
                refs.add(view["model_id"])
    return refs - set(state)


_MODEL_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def renumber_widget_ids(text: str) -> str:
    """``text`` (a notebook's JSON) with every widget model id, random in the kernel,
    replaced by its ordinal, and the stored widget state in that order: the views in the
    order the outputs show them, each followed depth-first by the models its state refers
    to (in key order), then any other model by its content. Written as 32 hex digits like
    the ids ipywidgets makes."""
    nb = nbformat.reads(text, as_version=4)
    state = nb.metadata.get("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    if not state:
        return text
    order = {}

    def visit(model_id):
        if model_id in order or model_id not in state:
            return
        order[model_id] = f"{len(order) + 1:032x}"
        for ref in _MODEL_ID.findall(json.dumps(state[model_id], sort_keys=True)):
            visit(ref)

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(_WIDGET_VIEW)
            if view:
                visit(view["model_id"])
    for model_id in sorted(set(state) - set(order),
                           key=lambda m: _MODEL_ID.sub("", json.dumps(state[m], sort_keys=True))):
        visit(model_id)
    renumbered = nbformat.reads(_MODEL_ID.sub(lambda m: order.get(m.group(), m.group()), text),
                                as_version=4)
    widgets = renumbered.metadata.widgets[_WIDGET_STATE]
    widgets["state"] = dict(sorted(widgets["state"].items()))
    return nbformat.writes(renumbered)


def main(argv: list[str]) -> int:
    if not argv:
        print(f"usage: {sys.argv[0]} NOTEBOOK.ipynb [...]", file=sys.stderr)
        return 2
    for name in argv:
        path = Path(name)
        execute(path)
        print("executed", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
