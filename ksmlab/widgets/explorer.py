"""The explorer panel: pick a scenario and fixes, a preemption bound and a strategy,
search with a progress bar, read the statistics and the counterexample as a table, and
replay it in a stepper."""

import ipywidgets as W

from .. import scenarios
from ..check.explore import explore
from ..fixes import Fixes
from .common import banner_html, guarded, pre, table_html

__all__ = ["ExplorerPanel"]


class ExplorerPanel(W.VBox):
    """``ExplorerPanel()``; ``explore_button.click()`` searches, ``replay_button.click()``
    opens the counterexample in ``self.stepper`` (shown under the panel)."""

    def __init__(self, scenario="fork_behind_unmerge_cursor", figures=True):
        self.figures = figures
        self.result = None
        self.stepper = None
        self.error = W.HTML()
        self.scenario = W.Dropdown(
            options=scenarios.names(),
            value=scenarios.get(scenario).name,
            description="scenario",
            layout=W.Layout(width="420px"),
        )
        self.fix_boxes = {
            n: W.Checkbox(description=n, indent=False, layout=W.Layout(width="auto"))
            for n in Fixes.names()
        }
        self.bound = W.BoundedIntText(value=2, min=0, max=4, description="preemptions")
        self.strategy = W.Dropdown(
            options=["dfs", "random", "pct"], value="dfs", description="strategy"
        )
        self.seed = W.IntText(value=0, description="seed")
        self.max_schedules = W.BoundedIntText(
            value=0, min=0, max=10**6, description="max runs", tooltip="0: no limit"
        )
        self.explore_button = W.Button(description="Explore", button_style="primary", icon="search")
        self.replay_button = W.Button(
            description="Replay in the stepper",
            disabled=True,
            icon="play",
            layout=W.Layout(width="auto"),
        )
        self.progress = W.IntProgress(value=0, min=0, max=100, description="schedules")
        self.progress_text = W.HTML()
        self.stats = W.HTML()
        self.verdict = W.HTML()
        self.table = W.HTML()
        self.stepper_box = W.VBox()
        self.explore_button.on_click(guarded(self.error, lambda _b: self.run()))
        self.replay_button.on_click(guarded(self.error, lambda _b: self.open_stepper()))
        self.scenario.observe(guarded(self.error, self._scenario_changed), names="value")
        self._preset_fixes()
        super().__init__(
            [
                W.HBox([self.scenario, self.strategy]),
                W.HBox(list(self.fix_boxes.values())),
                W.HBox([self.bound, self.seed, self.max_schedules]),
                W.HBox([self.explore_button, self.progress, self.progress_text]),
                self.verdict,
                self.error,
                self.stats,
                self.table,
                self.replay_button,
                self.stepper_box,
            ]
        )
        self.add_class("ksmlab-explorer")

    @property
    def fixes(self) -> Fixes:
        return Fixes(**{n: b.value for n, b in self.fix_boxes.items()})

    def _preset_fixes(self) -> None:
        """Every fix but the scenario's own (none for the capstone): the race is on."""
        fix = scenarios.get(self.scenario.value).fix
        preset = Fixes.all().without(fix) if fix else Fixes.none()
        for n, b in self.fix_boxes.items():
            b.value = getattr(preset, n)

    def _scenario_changed(self, _change) -> None:
        self._preset_fixes()
        self.result = None
        self.replay_button.disabled = True
        self.verdict.value = self.stats.value = self.table.value = ""

    def _progress(self, schedules, bound) -> None:
        if schedules > self.progress.max:
            self.progress.max = max(self.progress.max * 2, schedules)
        self.progress.value = schedules
        self.progress_text.value = pre(f"{schedules} schedules, bound {bound}")

    def run(self) -> None:
        """Search with the chosen settings and show what was found."""
        self.result = None
        self.replay_button.disabled = True
        self.progress.max = self.max_schedules.value or 100
        self.progress.value = 0
        self.verdict.value = banner_html("running", "searching...")
        r = explore(
            self.scenario.value,
            fixes=self.fixes,
            max_preemptions=self.bound.value,
            strategy=self.strategy.value,
            seed=self.seed.value,
            max_schedules=self.max_schedules.value or None,
            progress=self._progress,
        )
        self.result = r
        self.progress.max = max(self.progress.max, r.schedules, 1)
        self.progress.value = r.schedules
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
                pre(f"schedule ({ce.preemptions} preemptions, {ce.steps} steps): {ce.schedule}")
                + table_html(("step", "task", "preempts", "at", "what"), rows)
                + pre(f"replay: {ce.replay_call()}")
            )
            self.replay_button.disabled = False
        else:
            self.table.value = ""

    def open_stepper(self) -> None:
        """Replay the counterexample in a stepper under the same fixes."""
        from .stepper import Stepper

        if self.result is None or not self.result.found:
            raise ValueError("nothing to replay: explore first, and find a violation")
        ce = self.result.counterexample
        if self.stepper is not None:
            self.stepper.session.close()
        self.stepper = Stepper(ce.scenario.name, ce.fixes, figures=self.figures)
        self.stepper.replay(ce.schedule)
        self.stepper_box.children = [self.stepper]
