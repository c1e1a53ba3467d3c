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
from .style import COLORS, where
from .svg import FONT, Box, Diagram
from .text import ring_text

__all__ = ["ring_graph", "ring_layout", "draw_ring", "insertion_point", "cursor_caption", "HEAD",
           "NEW"]

HEAD = "ksm_mm_head"
NEW = "new mm_slot"


def _name(ksm, slot):
    return HEAD if slot is ksm.head else f"slot:{slot.mm.owner}"


def insertion_point(w) -> tuple:
    """(slot id the new slot would go just before, the rule in words), as __ksm_enter
    decides under the world's fixes."""
    ksm = w.ksm
    if w.fixes.cursor_insertion and ksm.run & KSM_RUN_UNMERGE:
        return HEAD, "at the tail (the fix), so the unmerge walk still reaches it"
    cursor = _name(ksm, ksm.ksm_scan.mm_slot)
    if cursor == HEAD:
        return HEAD, "behind the cursor, which is on the head: at the end of the list"
    if ksm.run & KSM_RUN_UNMERGE:
        return cursor, "behind the cursor, among the slots run=2 has already passed"
    return cursor, "behind the cursor, so ksmd's pass in progress does not visit it"


def ring_graph(w, insertion=True) -> nx.DiGraph:
    """Head and slots in list order with ``next`` edges around the ring; ``cursor``
    marks the slot under ksm_scan, ``passed`` the slots between the head and the cursor
    while run=2 unmerges (its walk does not come back to them, whether it visited them
    or they were inserted there afterwards); the node ``new mm_slot`` points at where a
    registration would insert now (left out with ``insertion=False``)."""
    ksm = w.ksm
    cur = ksm.ksm_scan.mm_slot
    order = [ksm.head] + ksm.mm_list
    unmerging = bool(ksm.run & KSM_RUN_UNMERGE) and cur is not ksm.head
    passed = set()
    if unmerging:
        for slot in ksm.mm_list:
            if slot is cur:
                break
            passed.add(slot)
    g = nx.DiGraph(title="mm_slot ring")
    for slot in order:
        nid = _name(ksm, slot)
        is_cur = slot is cur
        if slot is ksm.head:
            color, label = COLORS["head"], "ksm_mm_head"
            title = "ksm_mm_head: the list head, where every pass starts and ends"
        else:
            color = COLORS["slot_cursor"] if is_cur else COLORS["slot"]
            n = len(slot.rmap_list)
            label = f"{slot.mm.owner}: {n} rmap_item{'s' if n != 1 else ''}"
            title = f"mm_slot of {slot.mm.owner}, {n} rmap_items"
        if is_cur:
            if slot is ksm.head:
                label += "\ncursor"
                title += "; the ksm_scan cursor is here"
            elif unmerging:
                label += "\ncursor (run=2)"
                title += "; the ksm_scan cursor is on it: run=2's walk unmerges this mm next"
            else:
                addr = where(slot.mm, ksm.ksm_scan.address)
                label += f"\ncursor, next {addr}"
                title += (
                    f"; the ksm_scan cursor is on it: the scan goes on at address {addr} "
                    "(the pages below it are done)"
                )
        if slot in passed:
            label += "\nbehind the cursor"
            title += "; run=2's walk has passed this point and will not come back to it"
        g.add_node(
            nid,
            kind="head" if slot is ksm.head else "slot",
            cursor=is_cur,
            passed=slot in passed,
            color=color,
            label=label,
            title=title,
        )
    for a, b in zip(order, order[1:] + order[:1], strict=True):
        if a is not b:
            g.add_edge(_name(ksm, a), _name(ksm, b), kind="next", style="solid")
    where_, rule = insertion_point(w)
    g.graph["insert_before"] = where_
    g.graph["rule"] = rule
    if not insertion:
        return g
    target = "ksm_mm_head" if where_ == HEAD else where_.split(":", 1)[1]
    g.add_node(
        NEW,
        kind="new",
        cursor=False,
        passed=False,
        color=COLORS["slot_new"],
        label=f"new mm_slot\ngoes before {target}",
        title=f"where __ksm_enter would insert a new mm_slot now: just before {target}, {rule}",
    )
    g.add_edge(NEW, where_, kind="insert", style="dashed", color="#31a354")
    return g


def ring_layout(g) -> dict:
    """In pixels: the ring on an ellipse, the head at the top, clockwise in list order;
    the new slot outside the ring beside where it would go. Returns node -> Box."""
    boxes = {n: Box(n, 0, 0, g.nodes[n]["label"].split("\n")) for n in g}
    ring = [n for n in g if n != NEW]
    k = len(ring)
    bw = max(boxes[n].w for n in ring)
    bh = max(boxes[n].h for n in ring)
    rx = max(bw * 0.9, bw * k / 4.5)
    ry = max(bh * 1.6, bh * k / 3.2)
    new = boxes.get(NEW)
    cx = MARGIN + (new.w + 30 if new else 0) + bw / 2 + rx
    cy = TOP + (new.h + 20 if new else 0) + bh / 2 + ry
    for i, n in enumerate(ring):
        a = math.pi / 2 - 2 * math.pi * i / k
        boxes[n].x = cx + rx * math.cos(a)
        boxes[n].y = cy - ry * math.sin(a)
    t = boxes[g.graph["insert_before"]]
    if new is None:
        pass
    elif g.graph["insert_before"] == HEAD:
        new.x, new.y = t.x, t.rect[1] - 24 - new.h / 2
    elif t.x >= cx:
        new.x, new.y = t.rect[2] + 30 + new.w / 2, t.y
    else:
        new.x, new.y = t.rect[0] - 30 - new.w / 2, t.y
    # move the whole picture up and left against the margins
    dx = MARGIN - min(b.rect[0] for b in boxes.values())
    dy = TOP - min(b.rect[1] for b in boxes.values()) + 10
    for b in boxes.values():
        b.x += dx
        b.y += dy
    g.graph["centre"] = (cx + dx, cy + dy)
    return boxes


TOP = 30
MARGIN = 8


def cursor_caption(w) -> str:
    """Where the ksm_scan cursor is and what it means in this state, in words."""
    ksm = w.ksm
    slot = ksm.ksm_scan.mm_slot
    if slot is ksm.head:
        return "the cursor is on ksm_mm_head, between passes"
    if ksm.run & KSM_RUN_UNMERGE:
        return f"run=2's walk is in {slot.mm.owner}'s mm or goes there next"
    return f"ksmd's next batch starts at {slot.mm.owner}@{where(slot.mm, ksm.ksm_scan.address)}"


def draw_ring(w, title=None, changed=(), culprit=(), insertion=True) -> Diagram:
    """The mm_slot ring, the cursor and (unless ``insertion=False``) where a slot
    registered now would go, as an SVG diagram."""
    g = ring_graph(w, insertion)
    boxes = ring_layout(g)
    title = title or "mm_slot list (clockwise from ksm_mm_head)"
    caption = (f"a new mm_slot goes {g.graph['rule']}" if insertion else cursor_caption(w))
    d = Diagram("ring", title, f"run={w.ksm.run}: {caption}. " + ring_text(w))
    d.text(MARGIN, 14, title, size=FONT + 2, weight="bold")
    cx, cy = g.graph["centre"]
    for u, v in g.edges:
        a, b = boxes[u], boxes[v]
        if g.edges[u, v]["kind"] == "insert":
            d.edge(a, b, color=NEW_COLOR, dash="6 4", width=2, title="inserted before")
            continue
        mx, my = (a.x + b.x) / 2, (a.y + b.y) / 2
        dx, dy = mx - cx, my - cy
        norm = math.hypot(dx, dy) or 1.0
        push = 28 if len(boxes) > 3 else 60
        bend = (mx + dx / norm * push, my + dy / norm * push) if norm > 1 else (mx + push, my)
        d.edge(a, b, bend=bend, title="next in the mm_slot list")
    for n, b in boxes.items():
        nd = g.nodes[n]
        kind = {"head": "head", "new": "slot_new"}.get(nd["kind"], "slot")
        if nd["cursor"]:
            kind = "head" if nd["kind"] == "head" else "slot_cursor"
        emph = "culprit" if n in culprit else "changed" if n in changed else None
        outline = CURSOR if nd["cursor"] else None
        d.box(b, kind, nd["title"], emph, outline=outline)
    bottom = max([b.rect[3] for b in boxes.values()] + [p[1] for _, s in d.segments for p in s])
    lines = textwrap.wrap(f"run={w.ksm.run}: {caption}", 60)
    for i, line in enumerate(lines):
        d.text(MARGIN, bottom + 22 + i * FONT * 1.3, line, italic=True)
    d.fit()
    return d


NEW_COLOR = "var(--jp-success-color0, #1b5e20)"
CURSOR = "var(--jp-warn-color0, #e65100)"
