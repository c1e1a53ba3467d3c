"""Driving a Stepper widget in the browser: click a schedule, toggle a fix, read the banner."""

import re

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips (or fails) with the reason
    expect = None

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
