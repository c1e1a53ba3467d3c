"""Every notebook's rendered markdown (its markdown cells and the markdown its stored
outputs print) fits its cell in JupyterLab at 1024 px with the file browser open, as on a
first ``make lab``: no table, code block, link or word is wider than the column, so
nothing scrolls sideways out of sight.

The browser here draws classic scrollbars, as a learner's Chromium or Firefox on Linux or
Windows does: the notebook's vertical scrollbar takes 15 px from the column (about 550 px
of text then). Headless Playwright hides scrollbars by default, and would pass tables
that a learner sees cut off; a cut-off table shows no scrollbar of its own there either.
"""

import json
import os
from pathlib import Path

import pytest
from conftest import CHROMIUM_ARGS, new_page
from test_lab import SHUT_DOWN_KERNELS
from test_pictures import open_file_browser

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.relative_to(ROOT / "notebooks").with_suffix("").as_posix()
                   for p in (ROOT / "notebooks").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# every markdown cell rendered (with windowingMode "none" all cells are in the DOM)
RENDERED = """n => {
  const panel = document.querySelector('PANEL');
  return panel && [...panel.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')]
      .filter(m => m.childElementCount > 0).length === n;
}""".replace("PANEL", PANEL)

# every rendered markdown of the notebook: its own width, and where it (or an element in
# it that scrolls by itself, such as a code block) is wider than it shows, by how much
# and because of which child
OVERFLOW = """() => {
  const panel = document.querySelector('PANEL');
  const cells = [...panel.querySelectorAll('.jp-Cell')];
  const widest = md => [...md.children].map(c => ({c, r: c.getBoundingClientRect().right}))
      .reduce((a, b) => (b.r > a.r ? b : a), {c: md, r: -Infinity}).c;
  const found = [];
  cells.forEach((cell, index) => {
    for (const md of cell.querySelectorAll('.jp-RenderedMarkdown')) {
      const where = cell.classList.contains('jp-MarkdownCell') ? 'markdown' : 'output';
      const over = [md, ...md.querySelectorAll('*')].filter(e =>
          getComputedStyle(e).overflowX !== 'visible' && e.scrollWidth > e.clientWidth);
      for (const e of over) {
        const culprit = e === md ? widest(md) : e;
        found.push({cell: index, where, element: e === md ? 'the cell' : e.tagName,
                    shows: e.clientWidth, needs: e.scrollWidth,
                    cut: e.scrollWidth - e.clientWidth, because: culprit.tagName,
                    text: culprit.textContent.trim().replace(/\\s+/g, ' ').slice(0, 80)});
      }
      const c = cell.getBoundingClientRect(), m = md.getBoundingClientRect();
      if (m.right > c.right + 0.5)
        found.push({cell: index, where, element: 'the cell', shows: c.right - m.left,
                    needs: m.width, cut: m.right - c.right, because: 'width', text: ''});
    }
  });
  const widths = [...panel.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')]
      .map(m => m.clientWidth);
  return {found, widths};
}""".replace("PANEL", PANEL)


@pytest.fixture(scope="module")
def learner_browser(browser, chromium, tmp_path_factory):
    """A second headless Chromium (from the same Playwright) that draws scrollbars."""
    home = tmp_path_factory.mktemp("chromium-scrollbars")
    env = dict(os.environ, XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"))
    b = browser.browser_type.launch(executable_path=chromium, headless=True,
                                    args=CHROMIUM_ARGS,
                                    ignore_default_args=["--hide-scrollbars"], env=env)
    yield b
    b.close()


def markdown_cells(name) -> int:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    return sum(c["cell_type"] == "markdown" and "".join(c["source"]).strip() != ""
               for c in nb["cells"])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_markdown_fits_its_cell_at_1024_px(name, learner_browser, servers):
    page = new_page(learner_browser, width=1024, height=768)
    try:
        page.goto(f"{servers['lab']}/lab/tree/{name}.ipynb?reset")
        page.wait_for_selector(f"{PANEL} .jp-Cell")
        open_file_browser(page)
        page.wait_for_function(RENDERED, arg=markdown_cells(name))
        page.evaluate("() => document.fonts.ready.then(() => true)")
        # the column has taken its width beside the file browser and the scrollbar
        page.wait_for_function(
            f"() => document.querySelector('{PANEL}').getBoundingClientRect().width < 720")
        page.wait_for_timeout(300)
        result = page.evaluate(OVERFLOW)
        assert len(result["widths"]) == markdown_cells(name)
        # the file browser and the notebook's scrollbar take their room: ~575 px of cell
        assert all(540 <= w <= 590 for w in result["widths"]), set(result["widths"])
        assert result["found"] == [], "\n".join(
            f"{name} cell {f['cell']} ({f['where']}): {f['element']} needs {f['needs']} px, "
            f"shows {f['shows']} ({f['cut']} px cut off) because of {f['because']} "
            f"{f['text']!r}" for f in result["found"])
    finally:
        page.evaluate(SHUT_DOWN_KERNELS)  # the kernel opening the notebook started
        page.context.close()
