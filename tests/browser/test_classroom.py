"""The classroom app's widgets under Voilà, in a real browser: fast clicks keep their
order, run-until-blocked, Stop, the layout at 1024 px (nothing cut) and at 1920 px, the
accessibility attributes and contrasts, the dark theme, and orphaned kernels culled."""

import re
import time

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips (or fails) with the reason
    expect = None
from conftest import CULL_IDLE, new_page
from stepping import banner, click_schedule, run_button, schedule_text, set_fix, step_button

pytestmark = pytest.mark.browser

TIMEOUT = 60_000

CONTRAST = """(el) => {
  // WCAG contrast of an element's text against the first opaque background behind it
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bg = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || c[3] > 0.9) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const style = getComputedStyle(el);
  const fg = rgb(style.color).slice(0, 3);
  const back = bg(el);
  const [a, b] = [lum(fg), lum(back)].sort((x, y) => y - x);
  return {ratio: (a + 0.05) / (b + 0.05), opacity: Number(style.opacity), back: lum(back)};
}"""

OUTLINE_CONTRAST = """(el) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number).slice(0, 3);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let e = el.parentElement, back = [255, 255, 255];
  for (; e; e = e.parentElement) {
    const c = (getComputedStyle(e).backgroundColor.match(/[\\d.]+/g) || []).map(Number);
    if (c.length === 3 || c[3] > 0.9) { back = c.slice(0, 3); break; }
  }
  const s = getComputedStyle(el);
  const [a, b] = [lum(rgb(s.outlineColor)), lum(back)].sort((x, y) => y - x);
  return {ratio: (a + 0.05) / (b + 0.05), width: parseFloat(s.outlineWidth), style: s.outlineStyle};
}"""

CUT = """(root) => {
  // elements whose own content is wider or taller than their box (text cut or hidden)
  const out = [];
  const sel = 'button, .widget-checkbox label, .lm-TabBar-tabLabel, .widget-html-content, '
      + '.widget-label';
  for (const el of root.querySelectorAll(sel)) {
    if (!el.offsetParent) continue;  // not shown
    if (el.scrollWidth > el.clientWidth + 1)
      out.push(el.className + ': ' + el.textContent.trim().slice(0, 60));
  }
  const r = root.getBoundingClientRect();
  for (const el of root.querySelectorAll('button, .widget-checkbox, .widget-html')) {
    if (!el.offsetParent) continue;
    const b = el.getBoundingClientRect();
    if (b.right > r.right + 1) out.push('outside: ' + el.textContent.trim().slice(0, 60));
  }
  return out;
}"""


STOP_LATENCY = """(root) => new Promise((resolve, reject) => {
  const stop = [...root.querySelectorAll('button')].find(b => b.textContent.trim() === 'Stop');
  const t0 = performance.now();
  const obs = new MutationObserver(() => {
    if (root.textContent.includes('stopped after')) {
      obs.disconnect();
      resolve(performance.now() - t0);
    }
  });
  obs.observe(root, {subtree: true, childList: true, characterData: true});
  stop.click();
  setTimeout(() => reject(new Error('not stopped within 10 s')), 10000);
})"""


LABELS = """(root) => {
  // the shown size (px) of the box labels of the diagrams shown in root
  const out = [];
  for (const svg of root.querySelectorAll('svg.ksmlab-diagram')) {
    const r = svg.getBoundingClientRect();
    if (!r.width) continue;
    const scale = r.width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('g.ksmlab-node text'))
      out.push(parseFloat(getComputedStyle(t).fontSize) * scale);
  }
  return out;
}"""


def open_app(page, url, theme=None):
    page.goto(url + "/" + (f"?theme={theme}" if theme else ""))
    expect(page.locator(".lm-TabBar-tab")).to_have_count(5, timeout=120_000)
    expect(page.locator("text=Loading widget...")).to_have_count(0, timeout=TIMEOUT)
    expect(banner(page.locator(".ksmlab-stepper:visible"))).to_contain_text("Step 0:")


def tab(page, i):
    page.locator(".lm-TabBar-tab").nth(i).click()
    return page.locator(".ksmlab-stepper:visible").first, page.locator(".ksmlab-explorer:visible")


@pytest.fixture(scope="module")
def app_1024(servers, browser):
    """The app at 1024x800, shared by the tests of this module that only read it or
    reset what they change."""
    pg = new_page(browser, width=1024, height=800)
    open_app(pg, servers["voila"])
    yield pg
    pg.context.close()


def test_fast_clicks_keep_their_order(app_1024, screens):
    stepper, _ = tab(app_1024, 0)
    stepper.locator("button", has_text="Reset").click()
    expect(banner(stepper)).to_contain_text("Step 0:")
    order = "UUUFFUUU"
    for name in order:  # about 60 ms apart, without waiting for the kernel
        step_button(stepper, name).click(no_wait_after=True)
        app_1024.wait_for_timeout(60)
    expect(banner(stepper)).to_contain_text("Step 8:", timeout=TIMEOUT)
    expect(schedule_text(stepper)).to_have_text("schedule: U*3 F*2 U*3")
    expect(stepper.locator(".widget-html", has_text="refused")).to_have_count(0)
    screens(app_1024, "voila_1024_fast_clicks", banner(stepper))
    stepper.locator("button", has_text="Reset").click()
    expect(banner(stepper)).to_contain_text("Step 0:")


def test_run_until_blocked_and_the_retry_note(app_1024, screens):
    stepper, _ = tab(app_1024, 2)  # page under migration
    set_fix(stepper, "follow_page_migration_wait", True)
    # U waits on the migration entry; three more steps of M end its first pass: EAGAIN
    assert click_schedule(stepper, "M M M U U M M M") == ""
    expect(stepper).to_contain_text("M is looping on a retry", timeout=TIMEOUT)
    screens(app_1024, "voila_1024_retry_note", stepper.locator(".widget-html",
                                                                has_text="looping"))
    run_button(stepper, "M").click()
    expect(stepper).to_contain_text("M ran 55 steps, until it finished.", timeout=TIMEOUT)
    expect(schedule_text(stepper)).to_have_text("schedule: M*3 U*2 M*58")
    expect(stepper).not_to_contain_text("looping on a retry")
    expect(run_button(stepper, "M")).to_be_disabled()
    run_button(stepper, "U").click()
    expect(banner(stepper)).to_contain_text("The run ended cleanly after", timeout=TIMEOUT)
    # a finished task and a blocked one look different: their status lines' styles
    finished = stepper.locator(".ksmlab-status-finished").first
    expect(finished).to_be_visible()
    set_fix(stepper, "follow_page_migration_wait", False)


def test_stop_within_half_a_second(app_1024, screens):
    _, explorer = tab(app_1024, 4)  # capstone: with every fix, a bound-2 search is long
    for box in explorer.locator(".widget-checkbox input[type=checkbox]").all():
        if not box.is_checked():
            box.click()
    explore = explorer.locator("button", has_text="Explore")
    stop = explorer.locator("button", has_text="Stop")
    explore.click()
    text = explorer.locator(".widget-html",
                            has_text=re.compile(r"\d+ schedules, bound"))
    expect(text.first).to_be_visible(timeout=TIMEOUT)
    expect(explore).to_be_disabled()  # Explore cannot be started twice
    bar = explorer.locator(".progress-bar").first
    widths = []
    for _ in range(5):
        widths.append(bar.evaluate("e => parseFloat(e.style.width) || 0"))
        app_1024.wait_for_timeout(300)
    assert widths == sorted(widths), f"the progress bar ran backwards: {widths}"
    # measured in the page: from the click to the text that says the search stopped
    latency = explorer.evaluate(STOP_LATENCY)
    print(f"Stop took {latency:.0f} ms from the click to the page")
    assert latency < 500, latency
    expect(explorer).to_contain_text("stopped after")
    expect(explore).to_be_enabled()
    expect(stop).to_be_disabled()
    screens(app_1024, "voila_1024_stopped", explorer)


def test_1024_nothing_cut(app_1024, screens):
    for i in range(5):
        stepper, explorer = tab(app_1024, i)
        for root in (stepper, explorer):
            cut = root.evaluate(CUT)
            assert cut == [], f"tab {i}: cut at 1024 px: {cut}"
    tabs = app_1024.locator(".lm-TabBar").first.evaluate(CUT)
    assert tabs == [], tabs
    stepper, _ = tab(app_1024, 0)
    screens(app_1024, "voila_1024_stepper", stepper)
    screens(app_1024, "voila_1024_page", full_page=True)


def test_accessibility_attributes_and_contrast(app_1024):
    stepper, _ = tab(app_1024, 0)
    assert stepper.locator(".ksmlab-banner [role=status][aria-live=polite]").count() == 1
    alt = stepper.locator(".ksmlab-picture [role=img]").first.get_attribute("aria-label")
    assert alt and "mm_slot ring" in alt  # the text picture
    # the text picture and the trace: their buttons are reachable with Tab
    step_button(stepper, "F").focus()
    reached = []
    for _ in range(40):
        app_1024.keyboard.press("Tab")
        reached.append(app_1024.evaluate("document.activeElement.textContent.trim()"))
        if reached[-1] == "Show the trace":
            break
    assert "Show the world as text" in reached and reached[-1] == "Show the trace", reached
    focused = app_1024.evaluate_handle("document.activeElement")
    ring = focused.evaluate(OUTLINE_CONTRAST)
    assert ring["style"] != "none" and ring["width"] >= 2 and ring["ratio"] >= 4.5, ring
    app_1024.keyboard.press("Enter")
    expect(stepper.locator("button", has_text="Hide the trace")).to_be_visible()
    app_1024.keyboard.press("Enter")
    undo = stepper.locator("button", has_text="Undo")
    expect(undo).to_be_disabled()
    c = undo.evaluate(CONTRAST)
    assert c["ratio"] >= 4.5 and c["opacity"] == 1, c
    b = stepper.locator(".ksmlab-banner [role=status]").evaluate(CONTRAST)
    assert b["ratio"] >= 4.5, b


def test_dark_theme(servers, browser, screens):
    pg = new_page(browser, width=1920, height=1080, color_scheme="dark")
    try:
        open_app(pg, servers["voila"], theme="dark")
        stepper, _ = tab(pg, 0)
        assert click_schedule(stepper, "U") == ""
        b = stepper.locator(".ksmlab-banner [role=status]").evaluate(CONTRAST)
        assert b["back"] < 0.2 and b["ratio"] >= 4.5, b  # a dark banner, readable
        for el in (step_button(stepper, "F"), stepper.locator("button", has_text="Undo")):
            c = el.evaluate(CONTRAST)
            assert c["ratio"] >= 4.5, c
        screens(pg, "voila_1920_dark", stepper)
    finally:
        pg.context.close()


def test_1920_layout_and_diagrams_that_grow(servers, browser, screens):
    from ksmlab.viz.svg import FONT, MAX_LABEL, MIN_LABEL

    pg = new_page(browser, width=1920, height=1080)
    try:
        open_app(pg, servers["voila"])
        stepper, explorer = tab(pg, 1)
        assert stepper.evaluate(CUT) == [] and explorer.evaluate(CUT) == []
        screens(pg, "voila_1920_stepper", stepper)
        # on a projector the diagrams grow with the page, their box labels up to MAX_LABEL
        # px; at 1280 and 1024 px they keep their design size (or shrink, never below
        # MIN_LABEL px)
        sizes = {}
        for width in (1920, 1280, 1024):
            pg.set_viewport_size({"width": width, "height": 1080})
            pg.wait_for_timeout(300)
            labels = stepper.evaluate(LABELS)
            assert len(labels) > 10, labels
            assert min(labels) >= MIN_LABEL - 0.01, (width, labels)
            sizes[width] = max(labels)
        print("box labels (px):", sizes)
        assert sizes[1920] > sizes[1280] >= sizes[1024], sizes
        assert MAX_LABEL - 0.5 <= sizes[1920] <= MAX_LABEL + 0.01, sizes
        assert sizes[1280] <= FONT + 0.01, sizes
    finally:
        pg.context.close()


def test_orphaned_kernel_is_culled(servers, browser):
    log = servers["voila_log"]
    before = log.read_text().count("Culling 'idle' kernel")
    pg = new_page(browser, width=1024, height=800)
    open_app(pg, servers["voila"])
    pg.context.close()  # the tab is closed; its kernel is left behind
    deadline = time.monotonic() + CULL_IDLE + 30
    while time.monotonic() < deadline:
        if log.read_text().count("Culling 'idle' kernel") > before:
            return
        time.sleep(1)
    raise AssertionError("the orphaned kernel was not culled: " + log.read_text()[-1500:])


TABS_INSIDE = """(bar) => {
  // tabs of the bar that stick out of it (its overflow would cut them) or whose label
  // is cut; a bar that wraps its tabs onto more rows has none
  const r = bar.getBoundingClientRect();
  const out = [];
  for (const t of bar.querySelectorAll('.lm-TabBar-tab')) {
    const b = t.getBoundingClientRect();
    const label = t.querySelector('.lm-TabBar-tabLabel');
    if (b.right > r.right + 1 || b.bottom > r.bottom + 1 || b.left < r.left - 1
        || label.scrollWidth > label.clientWidth + 1)
      out.push(t.textContent.trim());
  }
  return out;
}"""


def test_app_in_lab_at_1024_px_wraps_its_tabs(servers, page, screens):
    from test_lab import SHUT_DOWN_KERNELS, open_and_run_all

    page.set_viewport_size({"width": 1024, "height": 768})
    try:
        open_and_run_all(page, servers["lab"], "app/classroom")  # file browser open
        bar = page.locator(".jp-OutputArea-output .widget-tab.ksmlab-app > .lm-TabBar")
        expect(bar.locator(".lm-TabBar-tab")).to_have_count(5, timeout=TIMEOUT)
        labels = [t.strip() for t in bar.locator(".lm-TabBar-tabLabel").all_inner_texts()]
        assert labels[-1] == "Capstone" and len(labels) == 5, labels
        room = bar.evaluate("b => b.getBoundingClientRect().width")
        assert room < 700, room  # too narrow for the five tabs in one row
        assert bar.evaluate(TABS_INSIDE) == []
        tops = {round(t.bounding_box()["y"]) for t in bar.locator(".lm-TabBar-tab").all()}
        assert len(tops) > 1, tops  # they wrapped
        bar.locator(".lm-TabBar-tab", has_text="Capstone").click()
        expect(page.locator(".jp-OutputArea-output .ksmlab-stepper:visible")).to_have_count(1)
        screens(page, "lab_1024_app_tabs", bar)
    finally:
        page.evaluate(SHUT_DOWN_KERNELS)
