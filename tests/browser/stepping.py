"""Driving a Stepper widget in the browser: click a schedule, toggle a fix, read the banner;
the textbook-schedule check the JupyterLab and Notebook 7 tests share."""

import re

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips (or fails) with the reason
    expect = None

from ksmlab import scenarios
from ksmlab.sched.schedule import Schedule

STEP_TIMEOUT = 30_000


def banner(stepper):
    return stepper.locator(".ksmlab-banner")


def step_button(stepper, task):
    return stepper.locator(f"button.ksmlab-step-{task}")


def run_button(stepper, task):
    return stepper.locator(f"button.ksmlab-run-{task}")


def schedule_text(stepper):
    return stepper.locator(".widget-html", has_text="schedule:").first


def fix_box(stepper, fix):
    return stepper.locator(".widget-checkbox", has_text=fix).locator("input[type=checkbox]")


def set_fix(stepper, fix, on: bool) -> None:
    """Tick or untick ``fix``; a change restarts the scenario (the banner says step 0)."""
    box = fix_box(stepper, fix)
    if box.is_checked() != on:
        box.click()
        expect(box).to_be_checked(checked=on)
        expect(stepper).to_contain_text("the scenario restarted", timeout=STEP_TIMEOUT)
    expect(banner(stepper)).to_contain_text("Step 0:", timeout=STEP_TIMEOUT)


def reset(stepper) -> None:
    stepper.locator("button", has_text="Reset").click()
    expect(banner(stepper)).to_contain_text("Step 0:", timeout=STEP_TIMEOUT)


def click_schedule(stepper, schedule) -> str:
    """Click the task buttons of ``schedule`` one by one, waiting for each step to show.
    Returns "" or the text of the refusal that stopped it."""
    steps = list(Schedule.parse(str(schedule)))
    for i, task in enumerate(steps, start=1):
        button = step_button(stepper, task)
        if button.is_disabled():
            why = button.get_attribute("title") or ""
            return f"step {i} refused: {task} cannot run: {why}"
        button.click()
        done = re.compile(rf"(Step {i}:|after step {i}:|after {i} steps)")
        expect(banner(stepper)).to_contain_text(done, timeout=STEP_TIMEOUT)
    return ""


def textbook_schedule_breaks_then_the_fix_closes_it(page, scenario, schedule, screens, shot):
    """In the page's first stepper (a notebook of ``scenario``): ``schedule`` clicked with
    the scenario's fix off breaks the property; with the fix on it is refused or ends clean,
    with no error shown. Screenshots ``{shot}_broken`` and ``{shot}_fixed``."""
    fix = scenarios.get(scenario).fix
    stepper = page.locator(".jp-OutputArea-output .ksmlab-stepper").first
    stepper.scroll_into_view_if_needed()
    set_fix(stepper, fix, False)
    reset(stepper)
    assert click_schedule(stepper, schedule) == ""
    expect(banner(stepper)).to_contain_text("Property broken after step", timeout=STEP_TIMEOUT)
    screens(page, f"{shot}_broken", banner(stepper))

    set_fix(stepper, fix, True)
    refused = click_schedule(stepper, schedule)
    if refused:
        assert "refused" in refused and ":" in refused
    expect(banner(stepper)).not_to_contain_text("Property broken")
    expect(stepper.locator(".widget-html", has_text="error:")).to_have_count(0)
    screens(page, f"{shot}_fixed", banner(stepper))
