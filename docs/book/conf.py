"""Sphinx configuration of the static book (built by docs/book/build.py, ``make book``).

Notebooks are rendered from their stored outputs (``nb_execution_mode = "off"``); widgets
from the widget state stored in each notebook, by the vendored html-manager (see
build.py). Every recorded widget gets a note saying it is a recording, with the ways to
run it live; the repository behind those links is ``[project.urls] Repository`` in
pyproject.toml.
"""

import os
import re
import sys
from pathlib import Path

from docutils import nodes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "book"))

from recording import add_recording_notes  # noqa: E402

project = "ksmlab"
author = "the ksmlab authors"
root_doc = "index"
extensions = ["myst_nb"]
exclude_patterns = ["**/.ipynb_checkpoints", "notebooks/*.cfg", "docs/book"]

# the stored outputs are the tested ones: never execute
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# the widget scripts: pinned local copies in vendor/ at the site's root (not _static)
html_extra_path = [os.environ.get("KSMLAB_BOOK_EXTRA", str(ROOT / "build" / "book" / "extra"))]
nb_ipywidgets_js = {
    "../vendor/require.js": {},
    "../vendor/require-config.js": {},
    "../vendor/embed-amd.js": {"data-jupyter-widgets-cdn-only": "true"},
}

html_theme = "sphinx_book_theme"
html_title = "ksmlab: KSM, step by step"
html_static_path = []
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "search_bar_text": "Search the book…",
}
# an explicit mode, or the theme logs "Got invalid theme mode" on a first visit
html_context = {"default_mode": "light"}
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False


HTML_ANCHOR = re.compile(r"<a\s+id=\"([^\"]+)\"\s*/?>")


def register_html_anchors(app, doctree):
    """``<a id="x"></a>`` in a notebook's Markdown (the glossary's entries) as targets of
    that page, so that links such as ``glossary.ipynb#x`` resolve; a link to an id that no
    page has still fails the build."""
    docname = app.env.docname
    labels = app.env.domaindata["std"]["anonlabels"]
    for raw in doctree.findall(nodes.raw):
        if "html" in raw.get("format", "").split():
            for anchor in HTML_ANCHOR.findall(raw.astext()):
                labels[f"{docname}#{anchor}"] = (docname, anchor)


def setup(app):
    app.connect("doctree-read", register_html_anchors)
    app.connect("html-page-context", add_recording_notes)
    app.add_css_file("ksmlab-book.css")
    app.connect("build-finished", _write_css)
    return {"parallel_read_safe": True}


CSS = """
.ksmlab-recording { border-left: 4px solid #b07d00; background: #fff8e1; color: #3d2c00;
  padding: .4em .8em; margin: .6em 0 .3em; font-size: .9em; }
.ksmlab-recording code { background: transparent; }
"""


def _write_css(app, exception):
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(exist_ok=True)
        (static / "ksmlab-book.css").write_text(CSS)

