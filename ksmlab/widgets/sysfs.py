"""The sysfs panel: the knobs and counters a Kernel's /sys/kernel/mm/ksm has (those of
3.9 first; on a profile with later ones, those apart, each marked with the release that
added it), writes with the kernel's error shown as text (EBUSY, EINVAL, ...), and a button
that runs one ksmd pass and plots the counters over the passes."""

import errno

import ipywidgets as W

from ..changes import release_added
from ..errors import KernelError
from ..ksm.sysfs import counters, knobs, not_modelled
from .common import STYLE, Described, guarded, table_html, text_html

__all__ = ["SysfsPanel", "demo_kernel"]


def demo_kernel():
    """Two processes with 8 mergeable pages each, 4 distinct contents, KSM stopped."""
    from .. import MADV_MERGEABLE, PAGE_SIZE, Kernel

    k = Kernel(nodes=2)
    for name in ("a", "b"):
        p = k.spawn(name)
        base = p.mmap(8)
        for i in range(8):
            p.write(base + i * PAGE_SIZE, b"content %d" % (i % 4))
        p.madvise(base, 8, MADV_MERGEABLE)
    return k


class SysfsPanel(Described, W.VBox):
    """``SysfsPanel(kernel)`` (a demo kernel by default). ``write(name, value)`` and
    ``run_pass()`` act on the kernel and return the result as text; the Write and Run
    buttons also show it in the panel (a call from a later cell does not, so the panel
    never shows what another cell did as if it were its own)."""

    description_text = (
        "A sysfs panel appears here when the cell runs: the knobs and counters of "
        "/sys/kernel/mm/ksm, a field to write a knob, and a button that runs one ksmd pass."
    )

    def __init__(self, kernel=None, figures=True):
        from ..kernel import Kernel

        if kernel is not None and not isinstance(kernel, Kernel):
            raise TypeError(f"kernel must be a Kernel or None, not {type(kernel).__name__}")
        self.kernel = kernel if kernel is not None else demo_kernel()
        self.figures = figures
        self.history = [self.kernel.sysfs.snapshot()]
        self.error = W.HTML()
        w = self.kernel.world
        self.knob = W.Dropdown(
            options=[
                (f"{k} (added in {release_added(k)})" if release_added(k) else k, k)
                for k in sorted(knobs(w), key=lambda k: release_added(k) is not None)
            ],
            value="run",
            description="knob",
            style={"description_width": "initial"},
        )
        self.value = W.Text(
            value="1", description="value", continuous_update=False,
            style={"description_width": "initial"},
        )
        self.write_button = W.Button(description="Write", layout=W.Layout(width="auto"))
        self.pass_button = W.Button(
            description="Run one ksmd pass", layout=W.Layout(width="auto")
        )
        self.status = W.HTML()
        self.knobs_html = W.HTML()
        self.counters_html = W.HTML()
        self.later_html = W.HTML()
        # drawn at twice its shown size (sharp on any screen), shown 600 px wide at most
        # and never stretched: the height follows the width; no side margins, which would
        # push a 100% wide image past the panel's edge
        self.plot = W.Image(
            format="png", width="600",
            layout=W.Layout(max_width="100%", height="auto", margin="2px 0"),
        )
        self.write_button.on_click(guarded(self.error, lambda _b: self._show(self.write())))
        self.pass_button.on_click(guarded(self.error, lambda _b: self._show(self.run_pass())))
        self.add_class("ksmlab-widget")
        self.add_class("ksmlab-sysfs")
        super().__init__(
            [
                W.HTML(STYLE),
                W.HBox([self.knob, self.value, self.write_button, self.pass_button]),
                self.status,
                self.error,
                W.HBox([self.knobs_html, self.counters_html]),
                self.later_html,
                self.plot,
            ]
        )
        self.refresh()

    def _show(self, text) -> None:
        self.status.value = text_html(text)

    def write(self, name=None, value=None) -> str:
        """echo VALUE > /sys/kernel/mm/ksm/NAME; the result as a line of text."""
        name = self.knob.value if name is None else name
        value = self.value.value if value is None else str(value)
        try:
            self.kernel.sysfs.write(name, value)
        except KernelError as err:
            code = errno.errorcode.get(err.errno, str(err.errno))
            text = f"echo {value} > {name}: write error {code}: {err.reason}"
        else:
            text = f"echo {value} > {name}: ok"
        self.refresh()
        return text

    def run_pass(self) -> str:
        """One full ksmd pass (run must be 1); counters recorded and plotted."""
        try:
            scanned = self.kernel.ksmd.full_scan()
        except ValueError as err:
            text = f"ksmd did not run: {err}"
        else:
            self.history.append(self.kernel.sysfs.snapshot())
            # the kernel's own count: run=2 resets full_scans, the panel's history does not
            full = self.kernel.sysfs.read("full_scans")
            text = f"ksmd ran one pass: scanned {scanned} pages (full_scans now {full})"
        self.refresh()
        return text

    def refresh(self) -> None:
        w = self.kernel.world
        snap = self.kernel.sysfs.snapshot()
        self.knobs_html.value = table_html(
            ("knob (3.9)", "value"), [(k, snap[k]) for k in knobs(w) if not release_added(k)]
        )
        self.counters_html.value = table_html(
            ("counter (3.9)", "value"),
            [(c, snap[c]) for c in counters(w) if not release_added(c)],
        )
        later = [n for n in snap if release_added(n)]
        idle = [n for n in not_modelled(w) if release_added(n)]
        self.later_html.value = (
            text_html(
                f"Added after 3.9, as Linux {self.kernel.version} has them"
                + (f"; the model validates {', '.join(idle)} but they change nothing in it."
                   if idle else ".")
            )
            + table_html(
                ("file", "added in", "value"),
                [(n, f"Linux {release_added(n)}", snap[n]) for n in later],
            )
            if later
            else ""
        )
        if self.figures:
            from ..viz.counters import draw_counters
            from .common import png_of_axes

            self.plot.value = png_of_axes(
                [(draw_counters, (self.history,))],
                figsize=(6, 3),
                dpi=144,
                margins={"left": 0.11, "right": 0.98, "bottom": 0.16, "top": 0.9},
            )
