"""Launch links and the "this is a recording" note of every stored widget in the book.

The repository's address lives in one place, ``[project.urls] Repository`` in
pyproject.toml; every launch link is made from it here.
"""

import html
import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
BRANCH = "main"
BINDER = "https://mybinder.org/v2/gh"
APP = "notebooks/app/classroom.ipynb"
WIDGET_VIEW = '<script type="application/vnd.jupyter.widget-view+json">'

__all__ = ["repository", "binder_url", "note", "add_recording_notes"]


def repository() -> str:
    """The repository's address, e.g. ``https://github.com/OWNER/ksmlab``."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        url = tomllib.load(f)["project"]["urls"]["Repository"]
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"[project.urls] Repository is not a GitHub repository: {url!r}")
    return url


def binder_url(notebook: str) -> str:
    """Binder's launch link of ``notebook`` (a path such as ``notebooks/01_merging.ipynb``):
    JupyterLab, or Voilà for the classroom app."""
    gh = repository().removeprefix("https://github.com/")
    where = "voila/render" if notebook == APP else "lab/tree"
    return f"{BINDER}/{gh}/{BRANCH}?urlpath={where}/{notebook}"


def note(notebook: str) -> str:
    """The HTML note put before each recorded widget of ``notebook``."""
    app = notebook == APP
    local = "make app" if app else "make lab"
    what = "the classroom app" if app else "this notebook"
    return (
        '<div class="ksmlab-recording" role="note"><strong>Recording.</strong> This widget '
        "shows the stored state of the last tested run: it does not compute here, and its "
        f"buttons do nothing. To use it live, open {what}: run <code>{local}</code> in a "
        f'clone of <a href="{html.escape(repository())}">the repository</a>, or '
        f'<a class="ksmlab-binder" href="{html.escape(binder_url(notebook))}">launch it on '
        "Binder</a> (best effort: start it a few minutes before you need it).</div>"
    )


def add_recording_notes(app, pagename, templatename, context, doctree):
    """Sphinx ``html-page-context``: a note before every stored widget view of a notebook."""
    body = context.get("body", "")
    if WIDGET_VIEW not in body:
        return
    context["body"] = body.replace(WIDGET_VIEW, note(pagename + ".ipynb") + WIDGET_VIEW)
