"""A trace as swimlanes: one lane per task, one mark per yield point (a star where the
step preempted another task), lock holds as bars under the marks, the violation
flagged at the step where it appeared."""

from .style import COLORS

__all__ = ["draw_swimlanes", "lane_of"]


def lane_of(tl) -> dict:
    """Task name -> lane y (the first task at the top)."""
    n = len(tl.tasks)
    return {t: n - 1 - i for i, t in enumerate(tl.tasks)}


def draw_swimlanes(ax, tl, title=None, labels=True):
    """Draw a Timeline; returns the artists."""
    lanes = lane_of(tl)
    artists = []
    steps = len(tl.events)
    for t, y in lanes.items():
        artists.append(ax.axhline(y, color="#d9d9d9", lw=0.8, zorder=0))
        title_ = tl.titles.get(t, "")
        artists.append(
            ax.text(
                -0.5,
                y + 0.28,
                f"{t}: {title_}"[:60],
                fontsize=7,
                va="bottom",
                ha="left",
                color="#252525",
            )
        )
    spans = tl.intervals()
    locks = sorted({lock for _, lock, _, _ in spans})
    rows = {}  # each task's locks get their own row under its lane
    for task, lock, _, _ in spans:
        mine = rows.setdefault(task, [])
        if lock not in mine:
            mine.append(lock)
    for task, lock, a, b in spans:
        if task not in lanes:
            continue  # held by someone outside the scenario (the set-up)
        k = locks.index(lock)
        y = lanes[task] - 0.14 - 0.13 * rows[task].index(lock)
        artists.append(
            ax.plot(
                [a - 0.4, b + 0.4],
                [y, y],
                lw=4,
                solid_capstyle="butt",
                color=f"C{k % 10}",
                alpha=0.55,
            )[0]
        )
        artists.append(ax.text(b + 0.5, y, lock, fontsize=5, va="center", color=f"C{k % 10}"))
    for ev in tl.events:
        y = lanes[ev.task]
        bad = tl.violation_step == ev.index
        marker = "*" if ev.preemption else "o"
        color = COLORS["violation"] if bad or ev.label == "OOPS" else "#3182bd"
        artists.append(
            ax.plot(
                [ev.index],
                [y],
                marker=marker,
                ms=8 if ev.preemption else 5,
                color=color,
                ls="none",
                zorder=3,
            )[0]
        )
        if labels:
            artists.append(
                ax.text(
                    ev.index,
                    y + 0.08,
                    ev.label.split(":")[-1],
                    fontsize=5,
                    rotation=60,
                    ha="left",
                    va="bottom",
                    color="#525252",
                )
            )
    if tl.violation_step is not None:
        x = tl.violation_step
        artists.append(ax.axvline(x, color=COLORS["violation"], lw=1.5, ls="--"))
        artists.append(
            ax.text(
                x + 0.2,
                -0.75,
                f"VIOLATION: {tl.violation}"[:110],
                fontsize=7,
                color=COLORS["violation"],
                ha="right" if x > steps / 2 else "left",
                va="top",
            )
        )
    ax.set_xlim(-0.8, max(steps, 1) + 1)
    ax.set_ylim(-1.0, len(lanes) - 0.3)
    ax.set_yticks([])
    ax.set_xlabel("step (star: preemption; bars: locks held)", fontsize=7)
    ax.tick_params(labelsize=7)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(title or "trace", fontsize=9)
    return artists
