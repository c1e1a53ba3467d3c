"""The diagrams in JupyterLab at 1024 px with the file browser open (as on a first
``make lab``: the notebook's output column is then about 572 px): inline SVG that shrinks
to its output's width, but never below the size where its smallest label is 11 px high
(then its figure scrolls), and never cut by an ancestor; hover titles, the stepper's
picture following a click, and the colours following the dark theme."""

import json
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips (or fails) with the reason
    expect = None
from test_lab import SHUT_DOWN_KERNELS, menu, open_and_run_all

pytestmark = pytest.mark.browser

DIAGRAMS = ".jp-OutputArea-output svg.ksmlab-diagram"

GEOMETRY = """() => {
  const svgs = [...document.querySelectorAll('.jp-OutputArea-output svg.ksmlab-diagram')];
  return svgs.map(s => ({
    shown: s.getBoundingClientRect().width,
    design: Number(s.getAttribute('width')),
    least: parseFloat(s.style.minWidth),
    room: s.parentElement.parentElement.getBoundingClientRect().width,
    smallest: Math.min(...[...s.querySelectorAll('text')].map(
        t => t.getBoundingClientRect().height)),
    boxes: s.querySelectorAll('g.ksmlab-node').length,
    titled: s.querySelectorAll('g.ksmlab-node > title').length,
    copyShown: [...s.parentElement.querySelectorAll('img.ksmlab-copy')].filter(
        i => i.getBoundingClientRect().width > 0).length,
  }));
}"""

INK = """() => {
  const t = document.querySelector(
      '.jp-OutputArea-output svg.ksmlab-diagram > text[font-weight="bold"]');
  return getComputedStyle(t).fill;
}"""


# every diagram: its box inside its output's visible width, or its figure scrolling
# (overflow-x auto, scrollWidth > clientWidth, the figure itself inside the output), and
# no ancestor between the figure and the notebook that clips it
FITS_OR_SCROLLS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  return [...panel.querySelectorAll('.jp-OutputArea-output svg.ksmlab-diagram')].map(s => {
    const fig = s.closest('.ksmlab-figure'), out = s.closest('.jp-OutputArea-output');
    const r = s.getBoundingClientRect(), f = fig.getBoundingClientRect();
    const o = out.getBoundingClientRect();
    const scrolls = getComputedStyle(fig).overflowX === 'auto'
        && fig.scrollWidth > fig.clientWidth + 1;
    const inside = (b, c) => b.left >= c.left - 1 && b.right <= c.right + 1;
    const clippedBy = [];
    for (let a = fig.parentElement; a && a !== panel; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible'
          && !inside(f, a.getBoundingClientRect())) clippedBy.push(a.className);
    }
    return {id: s.id, shown: r.width, output: o.width, fits: inside(r, o),
            scrolls: scrolls && inside(f, o), clippedBy,
            smallest: Math.min(...[...s.querySelectorAll('text')].map(
                t => t.getBoundingClientRect().height))};
  });
}"""

ROOT = Path(__file__).resolve().parents[2]


def _with_diagrams():
    names = []
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if "ksmlab-diagram" in p.read_text():
            names.append(p.stem)
    return names


def open_file_browser(page):
    """The left sidebar's file browser, open as on a first ``make lab``."""
    if not page.locator(".jp-FileBrowser").first.is_visible():
        page.click('.jp-SideBar [data-id="filebrowser"]')
    expect(page.locator(".jp-FileBrowser").first).to_be_visible()


@pytest.mark.parametrize("name", _with_diagrams())
def test_every_diagram_fits_or_scrolls_at_1024_px(name, page, servers):
    page.set_viewport_size({"width": 1024, "height": 768})
    try:
        open_and_run_all(page, servers["lab"], name)
        open_file_browser(page)
        page.wait_for_timeout(500)  # the notebook column takes its new width
        figures = page.evaluate(FITS_OR_SCROLLS)
        stored = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
        assert figures, name
        assert len(figures) >= sum(
            "".join(o.get("data", {}).get("text/html", "")).count("<svg ")
            for c in stored["cells"] if c["cell_type"] == "code" for o in c["outputs"]
        )
        for f in figures:
            assert f["output"] < 620, f  # the file browser takes its room
            # every drawer lays its picture out to fit 572 px with labels at 11 px or more;
            # a figure that scrolls instead (f["scrolls"]) would hide part of it, and
            # headless Chromium shows no scrollbar to say so
            assert f["fits"], f
            assert f["clippedBy"] == [], f
            assert f["smallest"] >= 11, f
    finally:
        page.evaluate(SHUT_DOWN_KERNELS)


def _rgb(css):
    return [float(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]


def test_diagrams_in_lab_at_1024_px(page, servers, screens):
    page.set_viewport_size({"width": 1024, "height": 768})
    open_and_run_all(page, servers["lab"], "04_fix_cursor_insertion")
    open_file_browser(page)
    page.wait_for_timeout(500)
    figures = page.evaluate(GEOMETRY)
    assert len(figures) >= 8
    for f in figures:
        # as wide as its design, or as the output allows, but never below its least width
        assert f["least"] - 1 <= f["shown"] <= f["design"] + 1, f
        assert f["shown"] >= min(f["design"], f["room"]) - 1 or f["shown"] <= f["least"] + 1, f
        assert f["smallest"] >= 11, f
        assert f["boxes"] == f["titled"], f  # (swimlanes have marks, not boxes)
        assert f["copyShown"] == 0, f  # the image copy is for untrusted output only
    assert sum(f["boxes"] for f in figures) > 40
    light = _rgb(page.evaluate(INK))
    assert max(light) < 100  # dark text on the light theme
    screens(page, "pictures-1024-light", page.locator(DIAGRAMS).first)
    # the stepper's picture is inline SVG too, and a click redraws it
    stepper = page.locator(".ksmlab-stepper").first
    stepper.scroll_into_view_if_needed()
    picture = stepper.locator(".ksmlab-picture svg.ksmlab-diagram")
    expect(picture).to_have_count(2)
    expect(stepper.locator(".ksmlab-picture")).to_contain_text("memory map at the start")
    stepper.locator("button", has_text="Step U").first.click()
    expect(stepper.locator(".ksmlab-picture")).to_contain_text("memory map after step 1")
    menu(page, "Settings", "Theme")
    page.click(".lm-Menu-content >> text=JupyterLab Dark")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    dark = _rgb(page.evaluate(INK))
    assert min(dark) > 150  # the same text is light on the dark theme
    screens(page, "pictures-1024-dark", page.locator(DIAGRAMS).first)
    menu(page, "Settings", "Theme")  # back to the light theme for the tests after this one
    page.click(".lm-Menu-content >> text=JupyterLab Light")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")


def test_untrusted_notebook_shows_the_image_copy(page, servers, nb_dir):
    # a fresh clone opened without running: JupyterLab sanitizes the stored HTML, which
    # drops the inline svg; the image copy shows instead, and no stray text
    import nbformat

    from ksmlab import Fixes, scenarios, viz

    w = scenarios.get("fork_behind_unmerge_cursor").build(Fixes.all()).world
    d = viz.draw_ring(w)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("draw_ring(w)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/html": d._repr_html_(), "text/plain": repr(d)}
        )
    ]
    nb.cells.append(cell)
    path = nb_dir / "pictures_untrusted.ipynb"
    nbformat.write(nb, path)
    try:
        page.set_viewport_size({"width": 1024, "height": 768})
        page.goto(f"{servers['lab']}/lab/tree/{path.name}?reset")
        out = page.locator('.jp-OutputArea-output[data-mime-type="text/html"]')
        expect(out).to_have_count(1)
        expect(out.locator("svg")).to_have_count(0)  # sanitized away
        copy = out.locator("img.ksmlab-copy")
        expect(copy).to_be_visible()
        assert round(copy.bounding_box()["width"]) == int(d.svg().split('width="')[1].split('"')[0])
        assert copy.evaluate("i => i.naturalWidth") > 0  # the data URI decoded
        # the text the stripped svg leaves behind takes no room: the output is the image
        assert out.bounding_box()["height"] < copy.bounding_box()["height"] + 12
    finally:
        path.unlink()
