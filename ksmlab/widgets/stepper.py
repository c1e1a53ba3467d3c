"""The scheduler stepper ("be the scheduler"): a step button and a run-until-blocked
button per task, Undo and Reset, in one toolbar that never moves; a status line per task
(finished, blocked and ready tasks look different) and a plain note while a task loops
on a retry; the schedule so far; the memory map and the picture that matters for the
scenario, redrawn after each step, with the text picture as its text alternative; a
banner (a live region) when the property breaks or the run ends cleanly; fix toggles
that restart the scenario and offer to replay the same schedule under the new fixes."""

import html

import ipywidgets as W

from ..fixes import Fixes
from ..sched.schedule import Schedule
from ..viz.text import format_trace, picture
from .common import (
    STYLE,
    ClickQueue,
    Described,
    banner_html,
    fixes_text,
    guarded,
    pre,
    stepper_pictures,
    text_html,
)
from .session import StepSession

__all__ = ["Stepper"]

class Stepper(Described, W.VBox):
    """``Stepper("fork_behind_unmerge_cursor")``; ``figures=False`` shows the text
    picture only (faster). ``buttons`` and ``run_buttons`` map task names to their step
    and run-until-blocked buttons. With ``plan`` (a schedule, e.g. the explorer's), a
    Next button takes that schedule's steps one by one from the start. ``fix_toggles=False``
    hides the fix toggles (where an exercise after the stepper asks what the fix is)
    until ``show_fix_toggles()``; ``set_fixes`` still switches them."""

    description_text = (
        "A scheduler stepper appears here when the cell runs: a button per task to choose "
        "who runs next, the schedule so far, and pictures of the world after each step."
    )

    def __init__(self, scenario="fork_behind_unmerge_cursor", fixes=None, figures=True,
                 plan=None, fix_toggles=True):
        self.session = StepSession(scenario, fixes)
        self.figures = figures
        self.plan = None if plan is None else Schedule.parse(str(plan))
        self.clicks = ClickQueue()
        self._offered = None  # the schedule the replay button would replay
        self.error = W.HTML()
        self.goal = W.HTML()
        self.fix_boxes = {
            name: W.Checkbox(description=name, indent=False, layout=W.Layout(width="auto"))
            for name in Fixes.names()
        }
        self.buttons = {}
        self.run_buttons = {}
        self.statuses = {}
        for name in sorted(self.session.sched.tasks):
            b = W.Button(description=f"Step {name}", layout=W.Layout(width="auto"))
            b.add_class(f"ksmlab-step-{name}")
            self._on(b, lambda n=name: self.click(n))
            r = W.Button(description=f"Run {name} until blocked", layout=W.Layout(width="auto"))
            r.add_class(f"ksmlab-run-{name}")
            self._on(r, lambda n=name: self.run_until_blocked(n))
            self.buttons[name], self.run_buttons[name] = b, r
            self.statuses[name] = W.HTML()
        self.next_button = W.Button(
            description="Next",
            layout=W.Layout(width="auto", display=None if self.plan is not None else "none"),
        )
        self.next_button.add_class("ksmlab-next")
        self._on(self.next_button, self.next_step)
        self.undo_button = W.Button(description="Undo", layout=W.Layout(width="auto"))
        self.reset_button = W.Button(description="Reset", layout=W.Layout(width="auto"))
        self._on(self.undo_button, self.undo)
        self._on(self.reset_button, self.reset)
        self.replay_button = W.Button(layout=W.Layout(width="max-content", display="none"))
        self.replay_button.add_class("ksmlab-replay-offer")
        self._on(self.replay_button, self.replay_offered)
        self.message = W.HTML()
        self.notes = W.HTML()
        self.schedule_html = W.HTML()
        self.banner = W.HTML()
        # the diagrams as inline SVG (theme colours, hover titles); hidden without figures
        self.image = W.HTML(layout=W.Layout(display=None if figures else "none"))
        self.image.add_class("ksmlab-picture")
        self._before = None  # the graphs before the latest step, to highlight what changed
        self.text_picture = W.HTML()
        self.trace_html = W.HTML()
        self.fix_row = W.HBox(list(self.fix_boxes.values()),
                              layout=W.Layout(display=None if fix_toggles else "none"))
        self._sync_fix_boxes()
        for box in self.fix_boxes.values():
            box.observe(guarded(self.error, self._fixes_changed), names="value")
        toolbar = W.HBox(
            [*self.buttons.values(), *self.run_buttons.values(), self.next_button,
             self.undo_button, self.reset_button]
        )
        toolbar.add_class("ksmlab-toolbar")
        super().__init__(
            [
                W.HTML(STYLE),
                self.goal,
                self.fix_row,
                toolbar,
                self.replay_button,
                self.schedule_html,
                *self.statuses.values(),
                self.notes,
                self.message,
                self.banner,
                self.error,
                self.image,
                _disclosure("the world as text", self.text_picture),
                _disclosure("the trace", self.trace_html),
            ]
        )
        # stable hooks for browser tests and custom CSS
        self.add_class("ksmlab-stepper")
        self.add_class("ksmlab-widget")
        self.banner.add_class("ksmlab-banner")
        if self.plan is not None:
            self.message.value = text_html(
                f"The explorer's schedule, from its start: {self.plan}. "
                "Next takes its steps one by one."
            )
        self.refresh()

    def _on(self, button, action) -> None:
        """A click on ``button`` queues ``action`` (guarded) in the click queue."""
        act = guarded(self.error, action)
        button.on_click(lambda _b: self.clicks.submit(act))

    # -- actions ------------------------------------------------------------------------
    def click(self, name) -> None:
        """What a click on task ``name``'s step button does."""
        self.message.value = text_html(self.session.step(name))
        self.refresh()

    def run_until_blocked(self, name) -> None:
        """What a click on task ``name``'s run button does: it runs until it ends, blocks
        or breaks the property."""
        before = len(self.session.schedule)
        reason = self.session.run_until_blocked(name)
        taken = len(self.session.schedule) - before
        if not reason:
            t = self.session.sched.tasks[name]
            why = (
                "the property broke" if self.session.violation is not None
                else "it finished" if t.done
                else f"it blocked at {t.event.label}"
            )
            reason = f"{name} ran {_steps(taken)}, until {why}."
        self.message.value = text_html(reason)
        self.refresh()

    def next_step(self) -> None:
        """Take the next step of ``plan`` (the explorer's schedule)."""
        i = len(self.session.schedule)
        if self.plan is None or tuple(self.session.schedule) != tuple(self.plan[:i]):
            raise ValueError("the steps taken have left the explorer's schedule: reset first")
        if i >= len(self.plan):
            raise ValueError("every step of the explorer's schedule has been taken")
        self.click(self.plan[i])

    def undo(self) -> None:
        self.message.value = text_html(self.session.undo())
        self.refresh()

    def reset(self) -> None:
        self.session.reset()
        self.message.value = ""
        self._offer(None)
        self.refresh()

    def replay(self, schedule) -> str:
        """Click through ``schedule`` from a fresh start, as far as it goes; returns
        any refusal."""
        steps = Schedule.parse(schedule) if isinstance(schedule, str) else schedule
        self.session.reset()
        reason = self.session.run(steps)
        done = len(self.session.schedule)
        if reason:
            text = f"Replayed {done} of {_steps(len(steps))}: {reason}."
        else:
            text = f"Replayed all {_steps(len(steps))}."
        self.message.value = text_html(text)
        self._offer(None)
        self.refresh()
        return reason

    def replay_offered(self) -> str:
        """What the replay button does: the schedule from before the fixes changed,
        under the new fixes."""
        if self._offered is None:
            raise ValueError("no schedule to replay: the fixes have not changed since")
        return self.replay(self._offered)

    def set_fixes(self, fixes) -> None:
        """Switch fixes (the toggles follow) and restart the scenario."""
        self._restart(fixes)
        self._sync_fix_boxes()

    def _fixes_changed(self, _change) -> None:
        if self._syncing:
            return
        self._restart(Fixes(**{n: b.value for n, b in self.fix_boxes.items()}))

    def _restart(self, fixes) -> None:
        old = self.session.schedule
        self.session.reset(fixes)
        text = f"Fixes now {fixes_text(fixes)}: the scenario restarted."
        if old:
            text += " The replay button takes the same steps again under these fixes."
        self.message.value = text_html(text)
        self._offer(old or None)
        self.refresh()

    def _offer(self, schedule) -> None:
        self._offered = schedule
        b = self.replay_button
        if schedule is None:
            b.layout.display = "none"
        else:
            b.description = f"Replay the same {_steps(len(schedule))} under these fixes"
            b.tooltip = f"schedule: {schedule}"
            b.layout.display = None

    def show_fix_toggles(self) -> None:
        """Show the fix toggles that ``fix_toggles=False`` hid."""
        self.fix_row.layout.display = None

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
        self.goal.value = (
            f"<div class='ksmlab-goal'><b>{html.escape(s.scenario.title)}</b>"
            f"<p>{html.escape(s.goal())}</p></div>"
        )
        notes = []
        for name, state, status, can_run in s.tasks():
            for b in (self.buttons[name], self.run_buttons[name]):
                b.tooltip = status
                b.disabled = not can_run
            self.statuses[name].value = (
                f"<div class='ksmlab-status-{state}'>{_breakable(f'{name}: {status}')}</div>"
            )
            note = s.retry_note(name)
            if note:
                notes.append(note)
        self.notes.value = "".join(text_html(n) for n in notes)
        self.undo_button.disabled = not s.schedule
        if self.plan is not None:
            i = len(s.schedule)
            on_plan = tuple(s.schedule) == tuple(self.plan[:i])
            self.next_button.disabled = not (on_plan and i < len(self.plan)
                                             and not s.why_not(self.plan[i]))
            self.next_button.description = (
                f"Next: {self.plan[i]} (step {i + 1} of {len(self.plan)})"
                if on_plan and i < len(self.plan) else "Next: none left"
            )
        self.schedule_html.value = text_html(f"schedule: {s.schedule or '(no step yet)'}")
        self.banner.value = banner_html(*s.banner())
        w = s.world
        text = picture(w)
        self.text_picture.value = pre(text)
        self.trace_html.value = pre(format_trace(s.sched.trace, s.violation))
        if self.figures:
            pictures, self._before = stepper_pictures(s, self._before)
            # one image for assistive technology: the text picture says what it shows
            self.image.value = (
                f"<div role='img' aria-label='{html.escape(text, quote=True)}'>{pictures}</div>"
            )


def _steps(n) -> str:
    return "1 step" if n == 1 else f"{n} steps"


def _breakable(text) -> str:
    """Escaped text that may break after ':' and '_' inside long kernel labels, so that
    ``unmerge_and_remove_all_rmap_items:up_read`` wraps at a part, never mid-part."""
    out = html.escape(text)
    return out.replace(":", ":<wbr>").replace("_", "_<wbr>")


def _disclosure(title, content):
    """A button that shows or hides ``content`` (reachable with Tab, unlike the
    accordion's headers)."""
    toggle = W.ToggleButton(value=False, description=f"Show {title}",
                            layout=W.Layout(width="max-content"))
    toggle.add_class("ksmlab-disclosure")
    box = W.Box([content], layout=W.Layout(display="none"))

    def flip(change):
        box.layout.display = None if change["new"] else "none"
        toggle.description = f"{'Hide' if change['new'] else 'Show'} {title}"

    toggle.observe(flip, names="value")
    return W.VBox([toggle, box])
