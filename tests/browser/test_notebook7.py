"""Notebook 7, the simpler interface (``make notebook``), in a real browser: the index, a
fix notebook and the capstone run with Run All, with no error output and every widget
rendered; in the fix notebook the textbook schedule clicked in the stepper breaks the
property with the fix off (the banner says so) and no longer does with the fix on."""

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips (or fails) with the reason
    expect = None
from stepping import textbook_schedule_breaks_then_the_fix_closes_it
from test_lab import (
    ALL_PROMPTS_RUN,
    FIX_NOTEBOOKS,
    RUN_TIMEOUT,
    SHUT_DOWN_KERNELS,
    check_outputs,
    menu,
)

pytestmark = pytest.mark.browser

FIX_NOTEBOOK = "04_fix_cursor_insertion"
NOTEBOOKS = ["00_index", FIX_NOTEBOOK, "08_capstone"]
IDLE = '.jp-Notebook-ExecutionIndicator[data-status="idle"]'
# raised by Notebook 7 itself on every notebook, with or without widgets
KNOWN_PAGE_ERRORS = re.compile(r"Cannot read properties of undefined \(reading 'schema'\)")


# the notebook's kernel has started and answers (the indicator alone can read "idle" while
# the kernel is still starting on a busy machine, and Run All then does nothing)
KERNEL_IDLE = """async () => {
  const kernels = await (await fetch("/api/kernels")).json();
  return kernels.length === 1 && kernels[0].execution_state === "idle";
}"""
ANY_PROMPT_RAN = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""


def run_all(page, url, name):
    page.goto(f"{url}/notebooks/{name}.ipynb")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    page.wait_for_function(KERNEL_IDLE, timeout=RUN_TIMEOUT, polling=500)
    expect(page.locator(IDLE)).to_have_count(1, timeout=RUN_TIMEOUT)
    # cleared prompts read "[ ]:", so "[n]:" everywhere means this run reached every cell
    menu(page, "Edit", "Clear Outputs of All Cells")
    expect(page.locator(".jp-OutputArea-output")).to_have_count(0)
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(ANY_PROMPT_RAN, timeout=RUN_TIMEOUT)
    page.wait_for_function(ALL_PROMPTS_RUN, timeout=RUN_TIMEOUT)
    expect(page.locator(IDLE)).to_have_count(1, timeout=RUN_TIMEOUT)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_notebook7(name, notebook7, page, screens, textbook):
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        run_all(page, notebook7, name)
        check_outputs(page, name)
        assert page.blocked == [], f"requests off loopback: {page.blocked}"
        assert [e for e in errors if not KNOWN_PAGE_ERRORS.search(e)] == []
        assert page.locator("#jp-MainMenu").is_visible()  # Notebook 7's own page, not Lab
        assert "/notebooks/" in page.url
        widgets = page.locator(".jp-OutputArea-output > .jupyter-widgets")
        screens(page, f"nb7_{name}", widgets.first if widgets.count() else None)
        if name == FIX_NOTEBOOK:
            scenario = FIX_NOTEBOOKS[name]
            textbook_schedule_breaks_then_the_fix_closes_it(
                page, scenario, textbook[scenario].schedule, screens, f"nb7_{name}"
            )
    finally:
        page.evaluate(SHUT_DOWN_KERNELS)

