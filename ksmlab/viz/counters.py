"""Counters over ksmd passes: record them from a Kernel, and draw one history or two
side by side (model dashed over kernel solid, as the live lab compares them)."""

import textwrap

from matplotlib.ticker import MaxNLocator

__all__ = ["record_passes", "draw_counters", "DEFAULT_COUNTERS"]

DEFAULT_COUNTERS = ("pages_shared", "pages_sharing", "pages_unshared", "pages_volatile")


def record_passes(kernel, passes, history=None) -> list:
    """Run ``passes`` full ksmd passes on ``kernel`` (run must be 1) and return the
    sysfs snapshots: before the first pass, then after each. Appends to ``history``
    when given. This drives the kernel; the drawers never do."""
    history = [] if history is None else history
    if not history:
        history.append(kernel.sysfs.snapshot())
    for _ in range(passes):
        kernel.ksmd.full_scan()
        history.append(kernel.sysfs.snapshot())
    return history


SHORT = {"full_scans": "scans", "pages_scanned": "scanned", "general_profit": "profit"}
MARKERS = ("o", "s", "^", "D", "v", "P")
LINES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)))


def draw_counters(
    ax,
    history,
    compare=None,
    counters=DEFAULT_COUNTERS,
    labels=("model", "kernel"),
    title=None,
    xlabel=None,
):
    """One line per counter over ``history`` (a list of {name: value}); with
    ``compare`` (the other side's list), that side solid and ``history`` dashed. Every
    counter has its own colour and marker (and, alone, its own line style), so equal
    values and colour pairs stay distinguishable. The legend sits in a band of its own
    above the highest value (``_legend_above_the_data``), so it covers no data. Returns
    the line artists."""
    artists = []
    xs = list(range(len(history)))
    for i, name in enumerate(counters):
        color = f"C{i}"
        marker = MARKERS[i % len(MARKERS)]
        short = SHORT.get(name, name.replace("pages_", ""))
        if compare is not None:
            cx = list(range(len(compare)))
            artists += ax.plot(
                cx,
                [c.get(name) for c in compare],
                color=color,
                lw=2.5,
                alpha=0.5,
                marker=marker,
                ms=8,
                mfc="none",
                label=f"{short} ({labels[1]})",
            )
            artists += ax.plot(
                xs,
                [h.get(name) for h in history],
                color=color,
                ls="--",
                marker=marker,
                ms=4,
                label=f"{short} ({labels[0]})",
            )
        else:
            # later series drawn smaller and every other one hollow, so that equal
            # values still show every marker
            artists += ax.plot(
                xs,
                [h.get(name) for h in history],
                color=color,
                ls=LINES[i % len(LINES)],
                marker=marker,
                ms=10 - 1.5 * i,
                mfc="none" if i % 2 else color,
                mew=1.5,
                label=short,
            )
    values = [
        v
        for h in list(history) + list(compare or ())
        for c in counters
        if isinstance(v := h.get(c), int | float)
    ]
    top = max(values + [1])  # counters are never negative; all zero still spans 0..1
    n = max(len(history), len(compare or ()), 1)
    ax.set_xlim(-0.5, n - 0.5)
    if n <= 12:
        ax.set_xticks(range(n))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel or ("ksmd passes" if compare is None else "step"), fontsize=10)
    ax.set_ylabel("pages", fontsize=10, labelpad=2)
    ax.tick_params(labelsize=9)
    ax.set_title(textwrap.fill(title or "KSM counters", 72), fontsize=11)
    _legend_above_the_data(ax, top, group=1 if compare is None else 2)
    return artists


def _legend_above_the_data(ax, top, group=1):
    """The legend at the top of the axes, in as many columns as fit its width (each
    column holding whole groups of ``group`` entries: a counter's two sides), and the
    y range raised so that the highest value (and its marker) stays below the legend.
    Measured at the axes' current size: lay the figure out before drawing."""
    ax.set_ylim(-0.05 * top, 1.1 * top)
    entries = len(ax.get_legend_handles_labels()[0])
    box = ax.get_window_extent()
    fits = [n for n in range(entries, 0, -1) if -(-entries // n) % group == 0] or [1]
    for ncol in fits:
        legend = ax.legend(loc="upper center", ncol=ncol, fontsize=9, borderaxespad=0.3,
                           columnspacing=1.2, handlelength=2.5)
        if legend.get_window_extent().width <= 0.98 * box.width:
            break
    gap = 12 * ax.figure.dpi / 72  # room for a marker (up to 10 pt) under the legend
    free = 1 - (legend.get_window_extent().height + gap) / box.height
    low = -0.05 * top
    ax.set_ylim(low, low + (top - low) / max(free, 0.35))
