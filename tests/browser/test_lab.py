"""Every notebook in JupyterLab, in a real browser: Run All, no error output, every widget
rendered; in the fix notebooks the textbook schedule breaks the property with the fix off
and no longer does with the fix on."""

import json
import re
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips (or fails) with the reason
    expect = None
from stepping import textbook_schedule_breaks_then_the_fix_closes_it

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
FIX_NOTEBOOKS = {
    "04_fix_cursor_insertion": "fork_behind_unmerge_cursor",
    "05_fix_swapcache_copy_on_fault": "swapin_after_unmerge_walk",
    "06_fix_follow_page_migration_wait": "migration_during_break_ksm",
    "07_fix_stable_node_removal": "stale_stable_node_switch",
}
RUN_TIMEOUT = 180_000
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGETS = ".jp-OutputArea-output > .jupyter-widgets"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
TRACEBACK = re.compile(r"Traceback|^\w*(Error|Exception)\b|Error displaying widget", re.M)

ALL_PROMPTS_RUN = """() => {
  const prompts = [...document.querySelectorAll(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
  return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""


def stored_widget_outputs(name) -> int:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    return sum(
        WIDGET_MIME in out.get("data", {})
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for out in cell["outputs"]
    )


def menu(page, top, item) -> None:
    page.click(f"#jp-MainMenu >> text={top}")
    page.click(f".lm-Menu-content >> text={item}")


SHUT_DOWN_KERNELS = """async () => {
  const xsrf = document.cookie.match(/_xsrf=([^;]+)/);
  const headers = xsrf ? {"X-XSRFToken": decodeURIComponent(xsrf[1])} : {};
  const kernels = await (await fetch("/api/kernels")).json();
  for (const k of kernels) await fetch("/api/kernels/" + k.id, {method: "DELETE", headers});
  return kernels.length;
}"""


def open_and_run_all(page, lab, name):
    page.goto(f"{lab}/lab/tree/{name}.ipynb?reset")  # no notebooks from earlier tests
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    status = page.locator("#jp-main-statusbar")
    expect(status).to_contain_text("Idle", timeout=RUN_TIMEOUT)
    # cleared prompts read "[ ]:", so "[n]:" everywhere means this run reached every cell
    menu(page, "Edit", "Clear Outputs of All Cells")
    expect(page.locator(".jp-OutputArea-output")).to_have_count(0)
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(ALL_PROMPTS_RUN, timeout=RUN_TIMEOUT)
    expect(status).to_contain_text("Idle", timeout=RUN_TIMEOUT)


def check_outputs(page, name):
    for text in page.locator(STDERR).all_inner_texts():
        assert not TRACEBACK.search(text), f"{name}: error output:\n{text}"
        print(f"{name}: stderr output, not an error: {text!r}")  # e.g. a warning
    broken = page.locator(".jp-OutputArea-output", has_text="Error displaying widget")
    expect(broken).to_have_count(0)
    expect(page.locator("text=Loading widget...")).to_have_count(0, timeout=60_000)
    expect(page.locator(WIDGETS)).to_have_count(stored_widget_outputs(name))
    for view in page.locator(WIDGETS).all():
        expect(view).to_be_visible()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_lab(name, servers, page, screens, textbook):
    try:
        run_and_check(name, servers, page, screens, textbook)
    finally:
        page.evaluate(SHUT_DOWN_KERNELS)  # one kernel at a time on the server


def run_and_check(name, servers, page, screens, textbook):
    open_and_run_all(page, servers["lab"], name)
    check_outputs(page, name)
    assert page.blocked == [], f"requests off loopback: {page.blocked}"

    scenario = FIX_NOTEBOOKS.get(name)
    if scenario is None:
        widget = page.locator(WIDGETS)
        screens(page, f"lab_{name}", widget.first if widget.count() else None)
        return

    textbook_schedule_breaks_then_the_fix_closes_it(
        page, scenario, textbook[scenario].schedule, screens, f"lab_{name}"
    )
