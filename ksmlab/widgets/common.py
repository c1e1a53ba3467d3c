"""Helpers shared by the widgets: guarded callbacks, small HTML snippets, the style
sheet and a one-sentence text/plain repr."""

import html
import traceback

__all__ = [
    "guarded",
    "pre",
    "text_html",
    "banner_html",
    "table_html",
    "png_of_axes",
    "fixes_text",
    "STYLE",
    "Described",
    "stepper_pictures",
]

# Banner kinds -> the JupyterLab theme colour of the banner's edge. The text and the
# background are the theme's own font and layout colours, so the contrast is the theme's
# (far above 4.5:1 in the light and the dark theme); the fallbacks serve pages without it.
_BANNER = {
    "violation": "var(--jp-error-color1, #d32f2f)",
    "clean": "var(--jp-success-color1, #388e3c)",
    "running": "var(--jp-border-color1, #757575)",
    "error": "var(--jp-error-color1, #d32f2f)",
}

# One style sheet for the stepper, the explorer and the sysfs panel (classes ksmlab-*):
# text wraps between words, buttons keep their width, disabled buttons and the focus
# ring keep a 4.5:1 contrast in either theme; the app's tabs keep their whole titles and
# wrap onto a second row where the output is too narrow for one (JupyterLab at 1024 px);
# drop-downs are as wide as their longest option; on a page wider than 1440 px (a
# projector) the app's text grows with the width, as its diagrams do, up to 17 px.
STYLE = """<style>
.ksmlab-widget .widget-html-content, .ksmlab-widget .widget-html-content pre {
  white-space: normal; overflow-wrap: break-word; word-break: normal; }
.ksmlab-widget .widget-html-content > div { line-height: 1.4; }
.ksmlab-widget .ksmlab-pre pre { white-space: pre-wrap; }
.ksmlab-widget .widget-hbox { flex-wrap: wrap; row-gap: 2px; }
.ksmlab-widget .widget-checkbox { width: auto; margin-right: 1.5em; }
.ksmlab-widget .widget-checkbox label { overflow: visible; text-overflow: clip; }
.ksmlab-widget button.jupyter-button { flex: 0 0 auto; overflow: visible;
  text-overflow: clip; }
.ksmlab-widget button.jupyter-button:disabled { opacity: 1;
  color: var(--jp-ui-font-color1, #212121); background: var(--jp-layout-color2, #eeeeee);
  border: 1px dashed var(--jp-ui-font-color2, #616161); cursor: not-allowed; }
.ksmlab-widget button:focus-visible, .ksmlab-widget input:focus-visible,
.ksmlab-widget select:focus-visible, .ksmlab-widget .widget-toggle-button:focus-visible {
  outline: 3px solid var(--jp-ui-font-color0, #000000); outline-offset: 2px; }
.ksmlab-widget .ksmlab-status-finished { border-left: 4px solid
  var(--jp-success-color1, #388e3c); padding-left: 6px; }
.ksmlab-widget .ksmlab-status-blocked { border-left: 4px dotted
  var(--jp-warn-color1, #f57c00); padding-left: 6px; font-style: italic; }
.ksmlab-widget .ksmlab-status-failed { border-left: 4px solid
  var(--jp-error-color1, #d32f2f); padding-left: 6px; }
.ksmlab-widget .ksmlab-status-ready, .ksmlab-widget .ksmlab-status-waiting {
  border-left: 4px solid transparent; padding-left: 6px; }
.ksmlab-widget .ksmlab-goal p { margin: 2px 0; }
.jupyter-widgets.widget-tab.ksmlab-app > .lm-TabBar .lm-TabBar-tab {
  flex: 0 0 auto; max-width: none; }
.jupyter-widgets.widget-tab.ksmlab-app > .lm-TabBar {
  height: auto; max-height: none; overflow: visible; }
.jupyter-widgets.widget-tab.ksmlab-app > .lm-TabBar > .lm-TabBar-content {
  flex-wrap: wrap; row-gap: 2px; }
.ksmlab-widget .widget-dropdown { width: auto; }
.ksmlab-widget .widget-dropdown > select { flex: 0 0 auto; width: auto; min-width: 6em;
  padding-right: 28px; }
.ksmlab-widget .ksmlab-progress-text .widget-html-content > div {
  line-height: var(--jp-widgets-inline-height, 28px); white-space: nowrap; }
@media (min-width: 1441px) {
  .jupyter-widgets.widget-tab.ksmlab-app {
    --jp-widgets-font-size: clamp(13px, 0.9vw, 17px);
    --jp-ui-font-size1: clamp(13px, 0.9vw, 17px);
    --jp-content-font-size1: clamp(14px, 0.95vw, 18px);
    --jp-code-font-size: clamp(13px, 0.9vw, 17px);
    --jp-widgets-inline-height: clamp(28px, 1.95vw, 36px);
    --jp-widgets-inline-label-width: clamp(80px, 5.5vw, 104px);
    font-size: var(--jp-widgets-font-size); }
}
</style>"""


def fixes_text(fixes) -> str:
    """The fixes in words: "all four fixes on", "no fix on", or which are on and off."""
    names = fixes.names()
    on = [n for n in names if getattr(fixes, n)]
    off = [n for n in names if n not in on]
    if not off:
        return "all fixes on"
    if not on:
        return "no fix on"
    return f"on: {', '.join(on)}; off: {', '.join(off)}"


class Described:
    """Mixin for widgets: the text/plain repr is one sentence saying what the widget
    shows once its cell runs (a notebook read without running it shows this instead of
    the widget, where ``Stepper(children=(HTML(value=...`` would be unreadable)."""

    description_text = "An interactive widget appears here when the cell runs."

    def __repr__(self) -> str:
        return self.description_text

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = self.description_text
        return data


def guarded(error_widget, fn):
    """``fn`` as a callback that never raises: an exception becomes text in
    ``error_widget`` (an HTML widget), which is cleared on success."""

    def callback(*args, **kwargs):
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a widget callback must not raise
            last = traceback.extract_tb(exc.__traceback__)[-1]
            error_widget.value = pre(
                f"error: {type(exc).__name__}: {exc}\n  (at {last.name}, line {last.lineno})"
            )
            return None
        error_widget.value = ""
        return result

    return callback


def pre(text) -> str:
    """Preformatted text (pictures, traces, tables of text); lines wrap at the edge."""
    if not text:
        return ""
    return (
        "<div class='ksmlab-pre'><pre style='margin:0;line-height:1.25'>"
        f"{html.escape(str(text))}</pre></div>"
    )


def text_html(text) -> str:
    """A line of ordinary text that wraps between words ("" for no text)."""
    if not text:
        return ""
    return f"<div>{html.escape(str(text))}</div>"


def banner_html(kind, text) -> str:
    """The banner: a live region (role="status"), coloured by the theme."""
    edge = _BANNER.get(kind, _BANNER["running"])
    return (
        f"<div role='status' aria-live='polite' class='ksmlab-banner-{kind}' "
        "style='background:var(--jp-layout-color2, #eeeeee);"
        "color:var(--jp-ui-font-color0, #000000);"
        f"border-left:6px solid {edge};padding:4px 8px;border-radius:2px;"
        f"font-weight:bold'>{html.escape(text)}</div>"
    )


def table_html(header, rows) -> str:
    head = "".join(
        f"<th style='text-align:left;padding:0 6px'>{html.escape(h)}</th>" for h in header
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td style='padding:0 6px'>{html.escape(str(c))}</td>" for c in r)
        + "</tr>"
        for r in rows
    )
    return f"<table style='font-family:monospace;font-size:90%'><tr>{head}</tr>{body}</table>"


_FRAMELESS = {"left": 0.01, "right": 0.99, "bottom": 0.01, "top": 0.92, "wspace": 0.05}


def png_of_axes(draws, figsize, dpi=72, margins=None) -> bytes:
    """Render ``draws`` (a list of (draw, args)) side by side in one figure, as PNG."""
    import io

    from ..viz.render import new_figure

    fig = new_figure(figsize, dpi)
    fig.subplots_adjust(**(margins or _FRAMELESS))  # before drawing: a drawer may measure
    for i, (draw, args) in enumerate(draws, start=1):  # its axes (draw_counters does)
        ax = fig.add_subplot(1, len(draws), i)
        draw(ax, *args)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def kernel_loop():
    """The event loop of the IPython kernel running this code, or None: in a script, a
    test or any other program, even one that runs an asyncio loop of its own (a browser
    driver's), nothing is deferred, since nothing would ever run it."""
    import asyncio

    try:
        from IPython import get_ipython
    except ImportError:
        return None
    if getattr(get_ipython(), "kernel", None) is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _kernel_loop_defer():
    """``defer(fn)`` on the kernel's event loop, or None outside a kernel."""
    loop = kernel_loop()
    if loop is None:
        return None
    return lambda fn: loop.call_later(ClickQueue.SETTLE, fn)


def _browser_stamp():
    """When the browser sent the comm message (a click) being handled: its header's
    date; None outside a comm message's handler (a script, a test, or a cell that calls
    ``click()`` itself, whose click is then applied at once)."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        header = kernel.get_parent("shell").get("header", {}) if kernel is not None else {}
    except Exception:  # noqa: BLE001 - no kernel, or one without parent headers
        return None
    return header.get("date") if header.get("msg_type") == "comm_msg" else None


class ClickQueue:
    """Clicks applied one at a time, in the order the browser sent them, none lost.

    ipykernel 7 may dispatch a comm message as an asyncio task of its own (in
    ``Kernel.shell_main``, while another shell message holds the kernel's lock), so the
    order in which click handlers run is the event loop's, not necessarily the browser's.
    In a kernel, a click is therefore queued with the date its browser message carries and
    applied ``SETTLE`` seconds later, oldest first; a click that comes in while another is
    being applied waits its turn. A click that comes from code (a script, a test, a cell)
    is applied at once. ``defer(fn)`` overrides how the drain is scheduled.
    """

    SETTLE = 0.03

    def __init__(self, defer=None):
        self._defer = defer
        self._pending = []  # (key, seq, action): a heap, oldest click first
        self._seq = 0
        self._scheduled = False
        self._busy = False

    def submit(self, action, stamp=None) -> None:
        """Queue ``action``; ``stamp`` orders it (default: its browser message's date).
        A click without a stamp is applied at once, after those already queued."""
        import heapq

        self._seq += 1
        stamp = _browser_stamp() if stamp is None else stamp
        key = (0, stamp) if stamp is not None else (1, self._seq)
        heapq.heappush(self._pending, (key, self._seq, action))
        defer = (self._defer or _kernel_loop_defer()) if stamp is not None else None
        if defer is None:
            self.drain()
        elif not self._scheduled:
            self._scheduled = True
            defer(self.drain)

    def drain(self) -> None:
        """Apply every queued click, oldest first."""
        import heapq

        self._scheduled = False
        if self._busy:
            return  # the drain in progress takes it
        self._busy = True
        try:
            while self._pending:
                heapq.heappop(self._pending)[2]()
        finally:
            self._busy = False

    @property
    def pending(self) -> int:
        return len(self._pending)


def stepper_pictures(session, before=None):
    """The stepper's diagrams as HTML (inline SVG): the memory map and, beside it, the
    ring for the cursor bug or the trees otherwise. What the latest step changed is
    highlighted (when ``before``, the state returned by the previous call, was one step
    earlier); at a violation the boxes it names are marked. Returns (html, state)."""
    from ..viz.changes import changed_nodes, culprit_nodes
    from ..viz.memory import draw_graph, memory_graph
    from ..viz.ring import draw_ring, ring_graph
    from ..viz.svg import html_of
    from ..viz.trees import draw_trees, trees_graph

    w = session.world
    ring = session.scenario.fix == "cursor_insertion"
    graphs = (memory_graph(w), ring_graph(w) if ring else trees_graph(w))
    schedule = tuple(session.schedule)
    one_step = bool(schedule) and before is not None and before[0] == schedule[:-1]
    old = before[1] if one_step else (None, None)
    changed = [changed_nodes(b, g) for b, g in zip(old, graphs, strict=True)]
    culprit = culprit_nodes(session.violation)
    step = f"after step {len(schedule)}" if schedule else "at the start"
    pictures = [
        draw_graph(graphs[0], f"memory map {step}", changed[0], culprit),
        (draw_ring if ring else draw_trees)(w, changed=changed[1], culprit=culprit),
    ]
    return html_of(pictures, copy=False), (schedule, graphs)
