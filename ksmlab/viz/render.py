"""Render a drawer to PNG bytes without pyplot (no global figure state): what the
widgets show and what the tests check."""

import io

__all__ = ["render_png", "new_figure"]


def new_figure(figsize=(8, 4), dpi=80):
    """A Figure on its own Agg canvas, never registered with pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def render_png(draw, *args, figsize=(8, 4), dpi=80, **kwargs) -> bytes:
    """``draw(ax, *args, **kwargs)`` on a fresh figure, returned as PNG bytes."""
    fig = new_figure(figsize, dpi)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.93)  # before drawing:
    ax = fig.add_subplot(1, 1, 1)  # a drawer may measure its axes (draw_counters does)
    draw(ax, *args, **kwargs)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
