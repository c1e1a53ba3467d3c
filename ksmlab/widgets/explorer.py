"""The explorer panel: pick a scenario and fixes, a preemption bound and a strategy,
search with a progress bar and a Stop button, read the statistics and the
counterexample as a table, and replay it in a stepper from its first step.

In a kernel the search runs in slices from the event loop (the explorer's own
generator, ``explore_steps``, taken a few schedules at a time), so Stop is handled while
it runs; elsewhere Explore searches to the end at once."""

import time

import ipywidgets as W

from .. import scenarios
from ..check.explore import explore_steps
from ..fixes import Fixes
from .common import (
    STYLE,
    Described,
    banner_html,
    guarded,
    kernel_loop,
    pre,
    table_html,
    text_html,
)

__all__ = ["ExplorerPanel"]

# a slice runs the search for about this long before the event loop gets a turn
SLICE_SECONDS = 0.05
# ... and then the event loop has this long to handle what came in
YIELD_SECONDS = 0.005
# without a limit the bar approaches 100 % as n / (n + _HALF): it never runs backwards
_HALF = 200
# descriptions as wide as their text: never cut
_LABEL = {"description_width": "initial"}


class ExplorerPanel(Described, W.VBox):
    """``ExplorerPanel()``; ``explore_button.click()`` searches (``stop_button.click()``
    stops it), ``replay_button.click()`` opens the counterexample in ``self.stepper``
    (shown under the panel). ``show_call=False`` hides the Python call that replays it.
    ``defer(fn)`` schedules the next slice of a search (default: on the running event
    loop, YIELD_SECONDS later; without a running loop the search runs to its end at
    once)."""

    description_text = (
        "An explorer panel appears here when the cell runs: it searches the schedules of "
        "a scenario for one that breaks its property, and replays it in a stepper."
    )

    def __init__(self, scenario="fork_behind_unmerge_cursor", figures=True, show_call=True,
                 defer=None):
        self.figures = figures
        self.show_call = show_call
        self._defer = defer
        self.result = None
        self.stepper = None
        self._search = None  # the Sliced search while one runs
        self._stop = False
        self._limit = None  # max_schedules of the running search
        self._last = 0  # schedules done by it so far
        self.error = W.HTML()
        self.scenario = W.Dropdown(
            options=scenarios.names(),
            value=scenarios.get(scenario).name,
            description="scenario",
            layout=W.Layout(width="auto"),
            style=_LABEL,
        )
        self.fix_boxes = {
            n: W.Checkbox(description=n, indent=False, layout=W.Layout(width="auto"))
            for n in Fixes.names()
        }
        self.bound = W.BoundedIntText(
            value=2, min=0, max=4, description="preemptions", style=_LABEL
        )
        self.strategy = W.Dropdown(
            options=["dfs", "random", "pct"], value="dfs", description="strategy", style=_LABEL
        )
        self.seed = W.IntText(value=0, description="seed", style=_LABEL)
        self.max_schedules = W.BoundedIntText(
            value=0, min=0, max=10**6, description="max runs", tooltip="0: no limit",
            style=_LABEL,
        )
        self.explore_button = W.Button(
            description="Explore", button_style="primary", layout=W.Layout(width="auto")
        )
        self.stop_button = W.Button(
            description="Stop", disabled=True, layout=W.Layout(width="auto")
        )
        self.replay_button = W.Button(
            description="Replay in the stepper", disabled=True, layout=W.Layout(width="auto")
        )
        self.progress = W.IntProgress(
            value=0, min=0, max=100, description="schedules", style=_LABEL
        )
        self.progress_text = W.HTML()
        self.progress_text.add_class("ksmlab-progress-text")  # level with the bar
        self.stats = W.HTML()
        self.verdict = W.HTML()
        self.table = W.HTML()
        self.stepper_box = W.VBox()
        self.explore_button.on_click(guarded(self.error, lambda _b: self.run()))
        self.stop_button.on_click(guarded(self.error, lambda _b: self.stop()))
        self.replay_button.on_click(guarded(self.error, lambda _b: self.open_stepper()))
        self.scenario.observe(guarded(self.error, self._scenario_changed), names="value")
        self._preset_fixes()
        super().__init__(
            [
                W.HTML(STYLE),
                W.HBox([self.scenario, self.strategy]),
                W.HBox(list(self.fix_boxes.values())),
                W.HBox([self.bound, self.seed, self.max_schedules]),
                W.HBox([self.explore_button, self.stop_button, self.progress,
                        self.progress_text]),
                self.verdict,
                self.error,
                self.stats,
                self.table,
                self.replay_button,
                self.stepper_box,
            ]
        )
        self.add_class("ksmlab-explorer")
        self.add_class("ksmlab-widget")
        self.verdict.add_class("ksmlab-banner")

    @property
    def fixes(self) -> Fixes:
        return Fixes(**{n: b.value for n, b in self.fix_boxes.items()})

    @property
    def searching(self) -> bool:
        return self._search is not None

    def _preset_fixes(self) -> None:
        """Every fix but the scenario's own (none for the capstone): the race is on."""
        fix = scenarios.get(self.scenario.value).fix
        preset = Fixes.all().without(fix) if fix else Fixes.none()
        for n, b in self.fix_boxes.items():
            b.value = getattr(preset, n)

    def _scenario_changed(self, _change) -> None:
        self._preset_fixes()
        self._clear()

    def _clear(self) -> None:
        """Forget the last result and close its stepper."""
        self.result = None
        self.replay_button.disabled = True
        self.verdict.value = self.stats.value = self.table.value = ""
        if self.stepper is not None:
            self.stepper.session.close()
            self.stepper = None
        self.stepper_box.children = []

    def _controls(self, searching) -> None:
        self.explore_button.disabled = searching
        self.stop_button.disabled = not searching
        for w in (self.scenario, self.strategy, self.bound, self.seed, self.max_schedules,
                  *self.fix_boxes.values()):
            w.disabled = searching

    # -- the search ---------------------------------------------------------------------
    def run(self) -> None:
        """What Explore does: start a search with the chosen settings (refused while one
        runs)."""
        if self._search is not None:
            raise ValueError("a search is already running: stop it first")
        self._clear()
        self._stop = False
        self._last = 0
        limit = self.max_schedules.value or None
        settings = dict(
            fixes=self.fixes,
            max_preemptions=self.bound.value,
            strategy=self.strategy.value,
            seed=self.seed.value,
            max_schedules=limit,
        )
        name = self.scenario.value
        self._search = _Sliced(explore_steps(name, **settings))
        self._limit = limit
        self.progress.value = 0
        self.progress.bar_style = ""
        self.progress_text.value = text_html("starting")
        self.verdict.value = banner_html("running", "Searching...")
        self._controls(True)
        defer = self._defer or _loop_soon()
        if defer is None:
            while self._search is not None:
                self._slice()
        else:
            defer(self._next_slice)

    def _next_slice(self) -> None:
        guarded(self.error, self._slice)()
        if self._search is not None:
            (self._defer or _loop_soon())(self._next_slice)

    def _slice(self) -> None:
        """Run the search for about SLICE_SECONDS (to its next pause at least)."""
        end = time.perf_counter() + SLICE_SECONDS
        try:
            while True:
                kind, value = self._search.resume(stop=self._stop)
                if kind != "pause":
                    break
                self._show_progress(*value)
                if time.perf_counter() >= end:
                    return
        except BaseException:
            self._search = None
            self._controls(False)
            raise
        self._search = None
        self._controls(False)
        if kind == "error":
            self.verdict.value = banner_html("error", "The search failed.")
            raise value
        if kind == "stopped":
            self.progress.bar_style = "warning"
            self.progress_text.value = text_html(f"stopped after {_schedules(self._last)}")
            self.verdict.value = banner_html(
                "running", f"Stopped after {_schedules(self._last)}: nothing found so far."
            )
            return
        self._show(value)

    def _show_progress(self, schedules, bound) -> None:
        self._last = schedules
        if self._limit:
            pct = 100 * schedules // self._limit
        else:
            pct = 100 * schedules // (schedules + _HALF)
        self.progress.value = max(self.progress.value, min(pct, 99))
        self.progress_text.value = text_html(f"{_schedules(schedules)}, bound {bound}")

    def stop(self) -> None:
        """What Stop does: the search stops at its next schedule."""
        if self._search is None:
            raise ValueError("no search is running")
        self._stop = True
        self.stop_button.disabled = True
        self.progress_text.value = text_html("stopping")

    def _show(self, r) -> None:
        self.result = r
        self.progress.value = 100
        self.progress.bar_style = "success"
        self.progress_text.value = text_html(f"done: {_schedules(r.schedules)}")
        self.verdict.value = banner_html("violation" if r.found else "clean", r.verdict())
        self.stats.value = table_html(
            ("schedules", "steps", "pruned", "exhaustive", "bound", "window reached"),
            [(r.schedules, r.steps, r.pruned, r.exhaustive, r.bound, r.window_reached)],
        )
        if r.found:
            ce = r.counterexample
            rows = [
                (ev.index, ev.task, "*" if ev.preemption else "", ev.label, ev.detail)
                for ev in ce.trace
            ]
            self.table.value = (
                text_html(
                    f"schedule ({ce.preemptions} preemptions, {ce.steps} steps): {ce.schedule}"
                )
                + table_html(("step", "task", "preempts", "at", "what"), rows)
                + (pre(f"replay: {ce.replay_call()}") if self.show_call else "")
            )
            self.replay_button.disabled = False
        else:
            self.table.value = ""

    def open_stepper(self) -> None:
        """A stepper at the start of the counterexample, under the same fixes, with
        pictures, its Next button ready to take the schedule's steps."""
        from .stepper import Stepper

        if self.result is None or not self.result.found:
            raise ValueError("nothing to replay: explore first, and find a violation")
        ce = self.result.counterexample
        if self.stepper is not None:
            self.stepper.session.close()
        self.stepper = Stepper(ce.scenario.name, ce.fixes, figures=self.figures,
                               plan=ce.schedule)
        self.stepper_box.children = [self.stepper]


class _Sliced:
    """The search as a generator, taken to its next schedule at a time: ``resume()``
    returns ("pause", (schedules, bound)), ("done", result), ("stopped", None) or
    ("error", exception). Nothing runs between two calls: no thread, no second path."""

    def __init__(self, steps):
        self._steps = steps

    def resume(self, stop=False) -> tuple:
        if stop:
            self._steps.close()
            return "stopped", None
        try:
            while True:
                report = next(self._steps)
                if report is not None:
                    return "pause", report
        except StopIteration as done:
            return "done", done.value
        except Exception as exc:  # noqa: BLE001 - shown by the panel
            return "error", exc


def _schedules(n) -> str:
    return "1 schedule" if n == 1 else f"{n} schedules"


def _loop_soon():
    """Run ``fn`` on the running event loop after a short pause, or None outside a loop.
    The pause (not call_soon) lets the loop first finish handling the messages that came
    in: a Stop click takes a few hops (tasks) from its socket to its handler, and with
    call_soon each hop would wait for another slice."""
    loop = kernel_loop()
    if loop is None:
        return None
    return lambda fn: loop.call_later(YIELD_SECONDS, fn)
