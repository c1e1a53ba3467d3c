"""The sysfs panel: the knobs and counters of a Kernel's /sys/kernel/mm/ksm, writes
with the kernel's error shown as text (EBUSY, EINVAL, ...), and a button that runs one
ksmd pass and plots the counters over the passes."""

import errno

import ipywidgets as W

from ..errors import KernelError
from ..ksm.sysfs import COUNTERS, KNOBS
from .common import guarded, pre, table_html

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


class SysfsPanel(W.VBox):
    """``SysfsPanel(kernel)`` (a demo kernel by default). ``write(name, value)`` is what
    the Write button does with the knob and value fields."""

    def __init__(self, kernel=None, figures=True):
        self.kernel = kernel if kernel is not None else demo_kernel()
        self.figures = figures
        self.history = [self.kernel.sysfs.snapshot()]
        self.error = W.HTML()
        self.knob = W.Dropdown(options=list(KNOBS), value="run", description="knob")
        self.value = W.Text(value="1", description="value", continuous_update=False)
        self.write_button = W.Button(description="Write", icon="pencil")
        self.pass_button = W.Button(description="Run one ksmd pass", icon="play")
        self.status = W.HTML()
        self.knobs_html = W.HTML()
        self.counters_html = W.HTML()
        # drawn at twice its shown size (sharp on any screen), shown 600 px wide at most
        # and never stretched: the height follows the width
        self.plot = W.Image(
            format="png", width="600", layout=W.Layout(max_width="100%", height="auto")
        )
        self.write_button.on_click(guarded(self.error, lambda _b: self.write()))
        self.pass_button.on_click(guarded(self.error, lambda _b: self.run_pass()))
        super().__init__(
            [
                W.HBox([self.knob, self.value, self.write_button, self.pass_button]),
                self.status,
                self.error,
                W.HBox([self.knobs_html, self.counters_html]),
                self.plot,
            ]
        )
        self.refresh()

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
        self.status.value = pre(text)
        self.refresh()
        return text

    def run_pass(self) -> str:
        """One full ksmd pass (run must be 1); counters recorded and plotted."""
        try:
            scanned = self.kernel.ksmd.full_scan()
        except RuntimeError as err:
            text = f"ksmd did not run: {err}"
        else:
            self.history.append(self.kernel.sysfs.snapshot())
            text = f"ksmd pass {len(self.history) - 1}: scanned {scanned} pages"
        self.status.value = pre(text)
        self.refresh()
        return text

    def refresh(self) -> None:
        snap = self.kernel.sysfs.snapshot()
        self.knobs_html.value = table_html(("knob", "value"), [(k, snap[k]) for k in KNOBS])
        self.counters_html.value = table_html(
            ("counter", "value"), [(c, snap[c]) for c in COUNTERS]
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
