"""Helpers shared by the widgets: guarded callbacks and small HTML snippets."""

import html
import traceback

__all__ = ["guarded", "pre", "banner_html", "table_html", "png_of_axes", "stepper_pictures"]

_BANNER = {
    "violation": ("#fee0d2", "#a50f15"),
    "clean": ("#e5f5e0", "#006d2c"),
    "running": ("#f0f0f0", "#252525"),
    "error": ("#fee0d2", "#a50f15"),
}


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
    if not text:
        return ""
    return f"<pre style='margin:0;line-height:1.25'>{html.escape(str(text))}</pre>"


def banner_html(kind, text) -> str:
    bg, fg = _BANNER.get(kind, _BANNER["running"])
    return (
        f"<div style='background:{bg};color:{fg};padding:4px 8px;border-radius:4px;"
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
    for i, (draw, args) in enumerate(draws, start=1):
        ax = fig.add_subplot(1, len(draws), i)
        draw(ax, *args)
    fig.subplots_adjust(**(margins or _FRAMELESS))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


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
