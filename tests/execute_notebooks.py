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
* no execution timestamps are recorded, and volatile cell metadata is removed.

Cells marked ``# NBVAL_SKIP`` (or tagged ``nbval-skip``) are not run and keep no outputs.
Cells marked ``# NBVAL_RAISES_EXCEPTION`` (or tagged ``raises-exception``) may raise; any
other error aborts the run and leaves that notebook file untouched.
"""

from __future__ import annotations

import os
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


def execute(path: Path) -> None:
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
    nbformat.write(nb, path)


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
