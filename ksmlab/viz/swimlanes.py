"""A trace as swimlanes: one lane per task, one mark per yield point (a star where the
step preempted another task), lock holds as bars under the marks, the violation
flagged at the step where it appeared. Every mark's hover title says where the task
stopped and what it did; the lanes carry the task titles and the lock names. A lock
bar's colour is its kind's (``lock_color``: from the lock's name alone, so a lock has
the same colour in every swimlane), and a legend under the axis says which."""

import html
import math
import textwrap

from .svg import FONT, INK2, Diagram, text_width

__all__ = ["draw_swimlanes", "lane_of", "lock_kind", "lock_color"]

STEP = 22  # pixels per step; 16 for long traces, so that 40 steps fit in 900 px
#: the widest lane area at STEP px a step: beyond it steps are 16 px, so that a figure
#: shrunk to 11 px labels still fits a 572 px output (JupyterLab at 1024 px with its file
#: browser open)
FIT = 640
ROW = 20  # height of a lock bar's row
LEFT_MAX = 30  # characters of a lock name shown (the hover has it all; titles get 64)
MARK = "var(--jp-brand-color1, #1976d2)"
BAD = "var(--jp-error-color1, #d32f2f)"


#: lock kinds as held_locks names them (by the name's start), each with its colour;
#: the lanes' rows name the lock itself, the colour says what kind of lock it is
LOCK_KINDS = (
    ("ksm_thread_mutex", "ksm_thread_mutex", "var(--jp-info-color1, #0097a7)"),
    ("mmap_sem", "mmap_sem", "var(--jp-warn-color1, #f57c00)"),
    ("anon_vma lock", "anon_vma lock", "var(--jp-success-color1, #388e3c)"),
    ("page lock", "page lock", "var(--ksmlab-purple, #8e24aa)"),
)
OTHER_LOCK = ("lock", "var(--ksmlab-grey-dark, #616161)")


def lock_kind(lock) -> tuple:
    """(kind, colour) of a lock, from its name alone."""
    for prefix, kind, color in LOCK_KINDS:
        if lock == prefix or lock.startswith(prefix + " "):
            return kind, color
    return OTHER_LOCK


def lock_color(lock) -> str:
    """The colour of ``lock``'s bars, the same in every swimlane."""
    return lock_kind(lock)[1]


def lane_of(tl) -> dict:
    """Task name -> lane index (the first task at the top)."""
    return {t: i for i, t in enumerate(tl.tasks)}


def _cut(s, n=LEFT_MAX):
    return s if len(s) <= n else s[: n - 1] + "~"


def draw_swimlanes(tl, title=None) -> Diagram:
    """A Timeline as an SVG diagram."""
    title = title or "trace"
    steps = len(tl.events)
    spans = [s for s in tl.intervals() if s[0] in tl.tasks]
    rows = {t: [] for t in tl.tasks}  # each task's locks get their own row in its lane
    for task, lock, _, _ in spans:
        if lock not in rows[task]:
            rows[task].append(lock)
    kinds = {lock_kind(lock) for _, lock, _, _ in spans}
    heads = [_cut(f"{t}: {tl.titles.get(t, '')}".rstrip(": "), 64) for t in tl.tasks]
    names = [_cut(lock) for t in tl.tasks for lock in rows[t]]
    # the lane titles have a row of their own above each lane: only the lock names and
    # the axis name need the left column
    left = 12 + max(text_width(s, FONT) for s in names + ["step"]) + 12
    step = STEP if left + steps * STEP <= FIT else 16
    d = Diagram(
        "swimlanes",
        title,
        f"{steps} steps of tasks {', '.join(tl.tasks)}"
        + (f"; violation at step {tl.violation_step}: {tl.violation}" if tl.violation else ""),
    )
    d.text(8, 14, title, size=FONT + 2, weight="bold")
    y = 40
    lane_y = {}
    for t, head in zip(tl.tasks, heads, strict=True):
        d.text(8, y, head, weight="bold", title=f"{t}: {tl.titles.get(t, '')}")
        lane_y[t] = y + ROW
        d.line(
            [(left - 4, y + ROW), (left + steps * step, y + ROW)],
            color=INK2,
            width=0.6,
            arrow=False,
            cls="lane",
        )
        ly = y + ROW
        for lock in rows[t]:
            ly += ROW
            d.text(left - 8, ly, _cut(lock), anchor="end", color=INK2, size=FONT, title=lock)
        y = ly + ROW + 6
    bottom = y - 6
    for task, lock, a, b in spans:
        ly = lane_y[task] + ROW * (1 + rows[task].index(lock))
        x0, x1 = left + (a - 1) * step + 3, left + b * step - 3
        d.rect(
            x0,
            ly - 5,
            x1,
            ly + 5,
            lock_color(lock),
            opacity=0.7,
            cls="ksmlab-lock",
            title=f"{task} holds {lock}" + (f" in step {a}" if a == b else f" in steps {a}-{b}"),
        )
    for ev in tl.events:
        cx, cy = left + (ev.index - 0.5) * step, lane_y[ev.task]
        bad = tl.violation_step == ev.index or ev.label == "OOPS"
        color = BAD if bad else MARK
        what = (
            f"step {ev.index}: {ev.task} ran to {ev.label}"
            + (f" ({ev.detail})" if ev.detail else "")
            + (", preempting another task" if ev.preemption else "")
        )
        r = 7 if ev.preemption else 5
        shape = _star(cx, cy, r) if ev.preemption else None
        d.raw(f'<g class="ksmlab-step" data-step="{ev.index}"><title>{_esc(what)}</title>')
        if shape:
            d.raw(f'<polygon points="{shape}" style="fill:{color}"/>')
        else:
            d.raw(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r}" style="fill:{color}"/>')
        d.raw("</g>")
    # the step axis: integer ticks, labelled every 1, 5 or 10 steps
    every = 1 if steps <= 12 else 5 if steps <= 60 else 10
    ay = bottom + 8
    d.line([(left, ay), (left + steps * step, ay)], color=INK2, width=1, arrow=False, cls="axis")
    for i in range(1, steps + 1):
        x = left + (i - 0.5) * step
        major = i % every == 0 or i == 1
        d.line(
            [(x, ay), (x, ay + (6 if major else 3))], color=INK2, width=1, arrow=False, cls="tick"
        )
        if major:
            d.text(x, ay + 16, str(i), anchor="middle", color=INK2, size=FONT)
    d.text(left - 8, ay + 16, "step", anchor="end", color=INK2, size=FONT)
    legend = "circle: a step; star: a preemption; bars: locks held" + (":" if kinds else "")
    d.text(left, ay + 36, legend, color=INK2, size=FONT)
    end = _lock_legend(d, sorted(kinds, key=_kind_order), left, ay + 36 + 20,
                       max(left + steps * step, left + text_width(legend, FONT)))
    if tl.violation_step is not None:
        x = left + (tl.violation_step - 0.5) * step
        d.line([(x, 28), (x, ay)], color=BAD, width=1.5, dash="5 3", arrow=False, cls="violation")
        width = max(60, int((left + steps * step) / (FONT * 0.6)))
        for i, line in enumerate(
            textwrap.wrap(f"VIOLATION at step {tl.violation_step}: {tl.violation}", width)
        ):
            d.text(8, end + 22 + i * FONT * 1.3, line, color=BAD, weight="bold")
    d.fit()
    return d


def _kind_order(kind):
    names = [k for _, k, _ in LOCK_KINDS]
    return names.index(kind[0]) if kind[0] in names else len(names)


def _lock_legend(d, kinds, x0, y, right) -> float:
    """A swatch and the name of each lock kind, wrapped at ``right``; returns the y of
    the last line."""
    if not kinds:
        return y - 20
    x = x0
    for kind, color in kinds:
        w = 14 + 4 + text_width(kind, FONT)
        if x > x0 and x + w > right:
            x, y = x0, y + 18
        d.rect(x, y - 5, x + 14, y + 5, color, opacity=0.7, cls="ksmlab-lock-key",
               title=f"bars in this colour: a {kind} held")
        d.text(x + 18, y, kind, color=INK2, size=FONT)
        x += w + 16
    return y


def _star(cx, cy, r):
    pts = []
    for i in range(10):
        a = -math.pi / 2 + i * math.pi / 5
        rr = r if i % 2 == 0 else r * 0.45
        pts.append(f"{cx + rr * math.cos(a):.1f},{cy + rr * math.sin(a):.1f}")
    return " ".join(pts)


def _esc(s):
    return html.escape(s)
