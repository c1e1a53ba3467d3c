"""The static book (make book) in a real browser, served from loopback with every other
request aborted: every page opens with no blocked or failed request and no error; every
figure loads; every widget stored in a notebook renders exactly once, after a note that it
is a recording with its launch links. Screenshots at 1024 and 1920 px wide."""

import json
import re
import sys
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips (or fails) with the reason
    expect = None

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "book"))
from recording import binder_url  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDTHS = (1024, 1920)
SOURCES = (
    ["index"]
    + sorted(p.relative_to(ROOT).with_suffix("").as_posix()
             for p in [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("notebooks/app/*.ipynb"),
                       *ROOT.glob("docs/*.md")])
)
PAGES = SOURCES + ["genindex", "search"]
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|Error displaying widget|"
                        r"Could not (create|render) (a )?(model|view)|Failed to load")

STATE = """() => {
  const outside = e => !e.closest('.jupyter-widgets');
  const out = [...document.querySelectorAll('.cell_output')];
  const imgs = out.flatMap(o => [...o.querySelectorAll('img')]).filter(outside);
  const svgs = out.flatMap(o => [...o.querySelectorAll('svg')])
      .filter(s => outside(s) && !s.parentElement.closest('svg'));
  const subareas = [...document.querySelectorAll('.widget-subarea')];
  return {
    figures: imgs.length + svgs.length,
    unloaded: [...document.images].filter(i => !i.complete || i.naturalWidth === 0)
        .map(i => i.src.slice(0, 120)),
    empty_svgs: svgs.filter(s => {
        const r = s.getBoundingClientRect(); return !(r.width > 0 && r.height > 0); }).length,
    views: document.querySelectorAll(
        'script[type="application/vnd.jupyter.widget-view+json"]').length,
    subareas: subareas.length,
    rendered: subareas.map(s => s.querySelectorAll(':scope > .jupyter-widgets').length),
    shown: subareas.map(s => s.getBoundingClientRect().height > 0),
    notes: [...document.querySelectorAll('.ksmlab-recording')].map(n => ({
        before_widget: !!(n.nextElementSibling
                          && n.nextElementSibling.classList.contains('widget-subarea')),
        binder: (n.querySelector('a.ksmlab-binder') || {}).href || '',
        text: n.textContent})),
    embed_scripts: document.querySelectorAll('script[src*="embed-amd.js"]').length,
    require_scripts: document.querySelectorAll('script[src*="require.js"]').length,
    problems: document.querySelectorAll('.system-message, .problematic').length,
    errors: [...document.querySelectorAll('.cell_output, .widget-subarea')]
        .map(e => e.innerText).filter(t => ERROR.test(t)).map(t => t.slice(0, 300)),
  };
}""".replace("ERROR.test", f"/{ERROR_TEXT.pattern}/.test")


def stored(source):
    """(widget views, figures) stored in a notebook's outputs, counted as the book shows
    them: an output is shown by its richest format (text/html before images)."""
    path = ROOT / f"{source}.ipynb"
    if not path.exists():
        return 0, 0
    nb = json.loads(path.read_text())
    views = figures = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                views += 1
            elif "text/html" in data:
                html = "".join(data["text/html"])
                figures += len(re.findall(r"<svg\b", html)) + len(re.findall(r"<img\b", html))
            elif any(m.startswith("image/") for m in data):
                figures += 1
    return views, figures


def test_the_book_has_a_page_for_every_source_and_no_other(book_url):
    from conftest import BOOK

    built = sorted(p.relative_to(BOOK).with_suffix("").as_posix() for p in BOOK.rglob("*.html")
                   if not p.relative_to(BOOK).parts[0].startswith(("_", "vendor")))
    assert built == sorted(PAGES)


@pytest.mark.parametrize("name", PAGES)
def test_book_page(name, book_url, page, screens):
    failed, errors = [], []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.on("requestfailed", lambda r: failed.append(f"{r.failure} {r.url}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    page.goto(f"{book_url}/{name}.html", wait_until="networkidle")
    views, figures = stored(name)
    if views:
        page.wait_for_function(
            "n => [...document.querySelectorAll('.widget-subarea')]"
            ".filter(s => s.querySelector(':scope > .jupyter-widgets')).length >= n", arg=views)
    page.wait_for_load_state("networkidle")
    state = page.evaluate(STATE)

    assert page.blocked == [], f"requests off loopback: {page.blocked}"
    assert failed == [], failed
    assert errors == [], errors
    assert state["problems"] == 0 and state["errors"] == [], state["errors"]
    # figures: as many as stored, every one loaded
    assert state["figures"] == figures
    assert state["unloaded"] == [] and state["empty_svgs"] == 0, state["unloaded"]
    # widgets: each stored view rendered exactly once, scripts loaded once, notes
    assert state["views"] == state["subareas"] == views
    assert state["rendered"] == [1] * views
    assert all(state["shown"])
    assert state["embed_scripts"] == state["require_scripts"] == (1 if views else 0)
    assert len(state["notes"]) == views
    for note in state["notes"]:
        assert note["before_widget"]
        assert note["text"].startswith("Recording.")
        assert note["binder"] == binder_url(f"{name}.ipynb")
        assert ("make app" if name.endswith("classroom") else "make lab") in note["text"]
    expect(page.locator(".ksmlab-recording a", has_text="the repository").first
           if views else page.locator("body")).to_be_visible()

    slug = name.replace("/", "_")
    page.add_style_tag(content="html { scroll-behavior: auto !important; }")  # no smooth scroll
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("window.scrollTo(0, 0)")
        screens(page, f"book_{slug}_{width}")
    if views:
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        screens(page, f"book_{slug}_widget", page.locator(".ksmlab-recording").first)

