"""The scheduler stepper ("be the scheduler"): one button per task showing where it
will run to next, disabled with the reason while it cannot run; Undo and Reset; the
schedule so far; the memory map and the picture that matters for the scenario, redrawn
after each step; a banner when the property breaks or the run ends cleanly; fix
toggles that restart the scenario."""

import ipywidgets as W

from ..fixes import Fixes
from ..viz.text import format_trace, picture
from .common import banner_html, guarded, pre, stepper_pictures
from .session import StepSession

__all__ = ["Stepper"]


class Stepper(W.VBox):
    """``Stepper("fork_behind_unmerge_cursor")``; ``figures=False`` shows the text
    picture only (faster). ``buttons`` maps task names to their buttons."""

    def __init__(self, scenario="fork_behind_unmerge_cursor", fixes=None, figures=True):
        self.session = StepSession(scenario, fixes)
        self.figures = figures
        self.error = W.HTML()
        self.goal = W.HTML()
        self.fix_boxes = {
            name: W.Checkbox(description=name, indent=False, layout=W.Layout(width="auto"))
            for name in Fixes.names()
        }
        self.buttons = {}
        self.statuses = {}
        rows = []
        for name in sorted(self.session.sched.tasks):
            b = W.Button(layout=W.Layout(width="340px"))
            b.on_click(guarded(self.error, lambda _b, n=name: self.click(n)))
            self.buttons[name] = b
            self.statuses[name] = W.HTML()
            rows.append(W.HBox([b, self.statuses[name]]))
        self.undo_button = W.Button(description="Undo", icon="undo")
        self.reset_button = W.Button(description="Reset", icon="refresh")
        self.undo_button.on_click(guarded(self.error, lambda _b: self.undo()))
        self.reset_button.on_click(guarded(self.error, lambda _b: self.reset()))
        self.message = W.HTML()
        self.schedule_html = W.HTML()
        self.banner = W.HTML()
        # the diagrams as inline SVG (theme colours, hover titles); hidden without figures
        self.image = W.HTML(layout=W.Layout(display=None if figures else "none"))
        self.image.add_class("ksmlab-picture")
        self._before = None  # the graphs before the latest step, to highlight what changed
        self.text_picture = W.HTML()
        self.trace_html = W.HTML()
        self._sync_fix_boxes()
        for box in self.fix_boxes.values():
            box.observe(guarded(self.error, self._fixes_changed), names="value")
        super().__init__(
            [
                self.goal,
                W.HBox(list(self.fix_boxes.values())),
                *rows,
                W.HBox([self.undo_button, self.reset_button, self.schedule_html]),
                self.message,
                self.banner,
                self.error,
                self.image,
                W.Accordion(
                    [self.text_picture, self.trace_html],
                    titles=("the world as text", "the trace"),
                ),
            ]
        )
        # stable hooks for browser tests and custom CSS
        self.add_class("ksmlab-stepper")
        self.banner.add_class("ksmlab-banner")
        self.refresh()

    # -- actions ------------------------------------------------------------------------
    def click(self, name) -> None:
        """What a click on task ``name``'s button does."""
        self.message.value = pre(self.session.step(name))
        self.refresh()

    def undo(self) -> None:
        self.message.value = pre(self.session.undo())
        self.refresh()

    def reset(self) -> None:
        self.session.reset()
        self.message.value = ""
        self.refresh()

    def replay(self, schedule) -> str:
        """Click through ``schedule`` from a fresh start; returns any refusal."""
        self.session.reset()
        reason = self.session.run(schedule)
        self.message.value = pre(reason)
        self.refresh()
        return reason

    def set_fixes(self, fixes) -> None:
        """Switch fixes (the toggles follow) and restart the scenario."""
        self.session.reset(fixes)
        self._sync_fix_boxes()
        self.message.value = ""
        self.refresh()

    def _fixes_changed(self, _change) -> None:
        if self._syncing:
            return
        fixes = Fixes(**{n: b.value for n, b in self.fix_boxes.items()})
        self.session.reset(fixes)
        self.message.value = pre(f"fixes changed to {fixes}: the scenario restarted")
        self.refresh()

    _syncing = False

    def _sync_fix_boxes(self) -> None:
        self._syncing = True
        try:
            for n, b in self.fix_boxes.items():
                b.value = getattr(self.session.fixes, n)
        finally:
            self._syncing = False

    # -- what to show -------------------------------------------------------------------
    @property
    def schedule(self) -> str:
        return str(self.session.schedule)

    @property
    def banner_text(self) -> str:
        return self.session.banner()[1]

    def refresh(self) -> None:
        s = self.session
        self.goal.value = f"<b>{s.scenario.title}</b><br>{pre(s.goal())}"
        for name, text, status, can_run in s.tasks():
            b = self.buttons[name]
            b.description = text
            b.tooltip = status
            b.disabled = not can_run
            b.button_style = "" if can_run else "warning"
            self.statuses[name].value = pre(status)
        self.undo_button.disabled = not s.schedule
        self.schedule_html.value = pre(f"schedule: {s.schedule}")
        self.banner.value = banner_html(*s.banner())
        w = s.world
        self.text_picture.value = pre(picture(w))
        self.trace_html.value = pre(format_trace(s.sched.trace, s.violation))
        if self.figures:
            self.image.value, self._before = stepper_pictures(s, self._before)
