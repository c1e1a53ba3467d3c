"""The classroom app under Voilà, in a real browser: no code, one tab per bug, and each
bug's textbook schedule breaks the property with the fix off and not with the fix on; the
explorer finds the race and replays it in a stepper."""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips (or fails) with the reason
    expect = None
from stepping import banner, click_schedule, reset, set_fix

from ksmlab import scenarios

pytestmark = pytest.mark.browser

BUGS = scenarios.names()[:4]


def test_classroom_app(servers, page, screens, textbook):
    page.goto(servers["voila"] + "/")
    tabs = page.locator(".lm-TabBar-tab")
    expect(tabs).to_have_count(len(BUGS), timeout=120_000)
    expect(page.locator("text=Loading widget...")).to_have_count(0, timeout=60_000)
    # no code on the page: no code input area, no source text
    expect(page.locator(".jp-CodeCell .jp-InputArea:visible")).to_have_count(0)
    expect(page.locator("text=import ipywidgets")).to_have_count(0)
    expect(page.locator("h1", has_text="classroom")).to_be_visible()
    expect(page.locator(".ksmlab-stepper")).to_have_count(len(BUGS))
    expect(page.locator(".ksmlab-explorer")).to_have_count(len(BUGS))
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

    # the explorer of the last tab: search, then replay the counterexample in a stepper
    explorer = page.locator(".ksmlab-explorer:visible")
    explorer.locator("button", has_text="Explore").click()
    expect(explorer).to_contain_text(str(textbook[BUGS[-1]].schedule), timeout=60_000)
    explorer.locator("button", has_text="Replay in the stepper").click()
    replayed = explorer.locator(".ksmlab-stepper")
    expect(banner(replayed)).to_contain_text("Property broken after step", timeout=60_000)
    screens(page, "voila_explorer_replay", banner(replayed))
