"""The ``mm_slot`` ring with the ``ksm_scan`` cursor, and where a new slot would be
inserted now: just behind the cursor (3.8+NUMA, and 3.9 outside run=2) or at the tail
while run=2 unmerges (3.9, cbf86cfe04a6). The picture of bug 1: during run=2 the slots
from the head up to the cursor have already been walked, and a slot put behind the
cursor lands among them, so the walk never visits it.
"""

import math
import textwrap

import networkx as nx

from ..ksm.state import KSM_RUN_UNMERGE
from .draw import draw_graph, finish_axes
from .style import COLORS, short

__all__ = ["ring_graph", "ring_layout", "draw_ring", "insertion_point", "HEAD", "NEW"]

HEAD = "ksm_mm_head"
NEW = "new mm_slot"


def _name(ksm, slot):
    return HEAD if slot is ksm.head else f"slot:{slot.mm.owner}"


def insertion_point(w) -> tuple:
    """(slot id the new slot would go just before, the rule in words), as __ksm_enter
    decides under the world's fixes."""
    ksm = w.ksm
    if w.fixes.cursor_insertion and ksm.run & KSM_RUN_UNMERGE:
        return HEAD, "run=2 with the fix: at the tail, so the unmerge walk still reaches it"
    where = _name(ksm, ksm.ksm_scan.mm_slot)
    if ksm.run & KSM_RUN_UNMERGE and where != HEAD:
        return where, "behind the cursor, among the slots run=2 has already walked"
    return where, "behind the cursor, so ksmd lets the new mm settle for a pass"


def ring_graph(w) -> nx.DiGraph:
    """Head and slots in list order with ``next`` edges around the ring; ``cursor``
    marks the slot under ksm_scan, ``walked`` the slots run=2 has already passed; the
    node ``new mm_slot`` points at where a registration would insert now."""
    ksm = w.ksm
    cur = ksm.ksm_scan.mm_slot
    order = [ksm.head] + ksm.mm_list
    unmerging = bool(ksm.run & KSM_RUN_UNMERGE) and cur is not ksm.head
    walked = set()
    if unmerging:
        for slot in ksm.mm_list:
            if slot is cur:
                break
            walked.add(slot)
    g = nx.DiGraph(title="mm_slot ring")
    for slot in order:
        nid = _name(ksm, slot)
        is_cur = slot is cur
        if slot is ksm.head:
            color, label = COLORS["head"], "ksm_mm_head"
        else:
            color = COLORS["slot_cursor"] if is_cur else COLORS["slot"]
            label = f"{slot.mm.owner}\n{len(slot.rmap_list)} rmap_items"
        if is_cur:
            addr = ksm.ksm_scan.address
            label += f"\n<- cursor{f' @{short(addr)}' if slot is not ksm.head else ''}"
        if slot in walked:
            label += "\n(walked)"
        g.add_node(
            nid,
            kind="head" if slot is ksm.head else "slot",
            cursor=is_cur,
            walked=slot in walked,
            color=color,
            label=label,
            edgecolor="#000000" if is_cur else "#525252",
            linewidth=1.8 if is_cur else 0.8,
        )
    for a, b in zip(order, order[1:] + order[:1], strict=True):
        if a is not b:
            g.add_edge(
                _name(ksm, a), _name(ksm, b), kind="next", style="solid", connection="arc3,rad=0.15"
            )
    where, rule = insertion_point(w)
    g.graph["insert_before"] = where
    g.graph["rule"] = rule
    g.add_node(
        NEW,
        kind="new",
        cursor=False,
        walked=False,
        color=COLORS["slot_new"],
        label="a new mm_slot\ngoes here",
    )
    g.add_edge(NEW, where, kind="insert", style="dashed", color="#31a354", label="inserted before")
    return g


def ring_layout(g) -> dict:
    """The ring on a circle, the head at the top, clockwise in list order; the new slot
    outside the ring, next to where it would go."""
    ring = [n for n in g if n != NEW]
    pos = {}
    k = len(ring)
    for i, n in enumerate(ring):
        a = math.pi / 2 - 2 * math.pi * i / k
        pos[n] = (1.6 * math.cos(a), 1.2 * math.sin(a))
    target = g.graph["insert_before"]
    tx, ty = pos[target]
    norm = math.hypot(tx, ty) or 1.0
    pos[NEW] = (tx * 2.0 / norm * 1.3 - 0.9, ty * 1.9 / norm * 1.0 + 0.1)
    return pos


def draw_ring(ax, w, title=None):
    """Draw the mm_slot ring, the cursor and the insertion point; returns the artists."""
    g = ring_graph(w)
    pos = ring_layout(g)
    artists = draw_graph(ax, g, pos, fontsize=7)
    artists.append(
        ax.text(
            0,
            0,
            f"run={w.ksm.run}\n" + textwrap.fill(g.graph["rule"], 28),
            ha="center",
            va="center",
            fontsize=7,
            style="italic",
        )
    )
    finish_axes(ax, pos, title or "mm_slot list (clockwise from ksm_mm_head)", margin=0.7)
    return artists
