"""The classroom app under Voilà, in a real browser: no code and no developer notes, one
tab per race named by it and a capstone tab, no request off the machine; each bug's
textbook schedule breaks the property with the fix off and not with the fix on; the
explorer finds the race and replays it in a stepper from its first step; the browser
console shows no warning and no error (no shared-module version warnings: the pins and
the extension denylist of docs/classroom.md), from loading to the end of the replay."""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips (or fails) with the reason
    expect = None
from stepping import banner, click_schedule, reset, set_fix

from ksmlab import scenarios

pytestmark = pytest.mark.browser

BUGS = scenarios.names()[:4]


def console_problems(page):
    """The console's warnings and errors (and uncaught page errors) so far."""
    return [m for m in page.console if m.split(":", 1)[0] in ("warning", "error", "pageerror")]


TABS = [
    "Fork behind the cursor",
    "Swap-in after the walk",
    "Page under migration",
    "Stale stable node",
    "Capstone",
]


def test_classroom_app(servers, page, screens, textbook):
    page.goto(servers["voila"] + "/")
    tabs = page.locator(".lm-TabBar-tab")
    expect(tabs).to_have_count(len(TABS), timeout=120_000)
    expect(page.locator("text=Loading widget...")).to_have_count(0, timeout=60_000)
    assert [t.strip() for t in tabs.all_inner_texts()] == TABS
    # no code on the page: no code input area, no source text, no developer notes
    expect(page.locator(".jp-CodeCell .jp-InputArea:visible")).to_have_count(0)
    expect(page.locator("text=import ipywidgets")).to_have_count(0)
    expect(page.locator("text=make app")).to_have_count(0)
    expect(page.locator("h1", has_text="classroom")).to_be_visible()
    expect(page.locator(".ksmlab-stepper")).to_have_count(len(TABS))
    expect(page.locator(".ksmlab-explorer")).to_have_count(len(TABS))
    assert page.blocked == [], f"requests off the machine: {page.blocked}"  # Font Awesome
    assert any(m.startswith("debug: Starting WebSocket") for m in page.console), page.console
    assert console_problems(page) == [], console_problems(page)
    screens(page, "voila_classroom")

    for i, name in enumerate(BUGS):
        tabs.nth(i).click()
        stepper = page.locator(".ksmlab-stepper:visible")
        expect(stepper).to_have_count(1)
        fix = scenarios.get(name).fix
        schedule = textbook[name].schedule
        set_fix(stepper, fix, False)
        reset(stepper)
        assert click_schedule(stepper, schedule) == ""
        expect(banner(stepper)).to_contain_text("Property broken after step")
        if i == 0:
            screens(page, "voila_bug1_violation", banner(stepper))
        set_fix(stepper, fix, True)
        refused = click_schedule(stepper, schedule)
        if refused:
            assert "refused" in refused
        expect(banner(stepper)).not_to_contain_text("Property broken")
        if i == 0:
            screens(page, "voila_bug1_fixed", banner(stepper))

    # the explorer of the last bug's tab: search, then replay the counterexample in a
    # stepper, which opens at the start of the schedule and steps forward with Next
    explorer = page.locator(".ksmlab-explorer:visible")
    explorer.locator("button", has_text="Explore").click()
    ce = textbook[BUGS[-1]]
    expect(explorer).to_contain_text(str(ce.schedule), timeout=60_000)
    expect(explorer).not_to_contain_text("ksmlab.replay(")  # no Python call in the app
    explorer.locator("button", has_text="Replay in the stepper").click()
    replayed = explorer.locator(".ksmlab-stepper")
    expect(banner(replayed)).to_contain_text("Step 0:", timeout=60_000)
    expect(replayed.locator(".ksmlab-picture svg.ksmlab-diagram")).to_have_count(2)
    nxt = replayed.locator("button.ksmlab-next")
    for i in range(1, ce.steps + 1):
        expect(nxt).to_contain_text(f"(step {i} of {ce.steps})", timeout=30_000)
        nxt.click()
    expect(banner(replayed)).to_contain_text("Property broken after step", timeout=60_000)
    screens(page, "voila_explorer_replay", banner(replayed))
    assert console_problems(page) == [], console_problems(page)
