"""The memory map: processes -> VMAs -> PTEs -> frames on their NUMA node, with KSM
pages and their stable nodes marked and the swap cache shown.

Node ids are strings (``mm:P``, ``vma:P:0x7f..``, ``pte:P:0x7f..``, ``swap:1``,
``page:0x2``, ``stable:6``); every node has ``kind``, ``label``, ``color`` and ``col``
(its column in the picture); pages also ``nid`` and ``ksm``.
"""

import textwrap

import networkx as nx

from ..mm.page import PageKsm, page_stable_node
from ..mm.pte import MigrationEntry, Present, SwapEntry
from .style import COLORS, content_text, page_kind, where
from .svg import CULPRIT, FONT, INK2, LANE_COLORS, LINE, Box, Diagram, text_width

__all__ = ["memory_graph", "memory_layout", "draw_memory", "draw_graph", "COLUMNS"]

COLUMNS = ("process", "VMA", "PTE", "swap", "frame", "stable node")


def _page_node(g, w, page):
    pid = f"page:{page.pfn:#x}"
    if pid in g:
        return pid
    ksm = PageKsm(page)
    node = page_stable_node(page) if ksm else None
    word = page_kind(page)
    if ksm:
        kind = "ksm_page"
        tag = f"KSM #{node.serial}" if node is not None else "KSM orphan"
    elif page.swapcache:
        kind, tag = "swapcache_page", f"{word} swap cache"
    else:
        kind, tag = ("page" if word == "anon" else "free_page"), word
    if page.swapcache and ksm:
        tag += "\n+swapcache"
    data = content_text(page.content, 11)
    lock = f", locked by {page.lock_owner}" if page.lock_owner is not None else ""
    g.add_node(
        pid,
        kind=kind,
        col=4,
        nid=page.nid,
        ksm=ksm,
        color=COLORS[kind],
        # one fact a line, so the frame column stays narrow (the map fits 572 px)
        label=f"{page.pfn:#x}\n{tag}\n{data!r}" + ("\nlocked" if lock else ""),
        title=f"frame pfn {page.pfn:#x} on NUMA node {page.nid}: {tag.replace(chr(10), ' ')}, "
        f"data {content_text(page.content, 40)!r}, refcount {page.refcount}, "
        f"mapcount {page.mapcount}{lock}",
    )
    if node is not None:
        sid = _stable_node(g, w, node)
        g.add_edge(pid, sid, kind="mapping", style="solid", color=COLORS["stable"])
    return pid


def _stable_node(g, w, node):
    sid = f"stable:{node.serial}"
    if sid not in g:
        page = w.mem.pfn_to_page(node.kpfn)
        stale = page is None or page_stable_node(page) is not node
        place = "migrate_nodes" if node.exiled else f"tree {node.nid}"
        items = ", ".join(f"{i.mm.owner}@{where(i.mm, i.address)}" for i in node.hlist) or "none"
        g.add_node(
            sid,
            kind="stable",
            col=5,
            stale=stale,
            color=COLORS["stable_stale" if stale else "stable"],
            label=f"stable #{node.serial}\n{place}" + ("\nSTALE" if stale else ""),
            title=f"stable node #{node.serial} in {place}: kpfn {node.kpfn:#x}, nid {node.nid}, "
            f"rmap_items {items}"
            + (" - STALE: its kpfn no longer holds the KSM page that points back" if stale else ""),
        )
    return sid


def memory_graph(w) -> nx.DiGraph:
    """The memory map of world ``w`` as a directed graph."""
    g = nx.DiGraph(title="memory map")
    for mm in w.mms:
        mid = f"mm:{mm.owner}"
        state = "" if mm.users else " (exited)"
        g.add_node(
            mid,
            kind="mm",
            col=0,
            color=COLORS["mm"],
            label=f"{mm.owner}{state}" + ("\nksm" if mm.vm_mergeable else ""),
            title=f"process {mm.owner}{state}: {len(mm.vmas)} VMAs"
            + (", registered with KSM (an mm_slot)" if mm.vm_mergeable else ""),
        )
        for v in mm.vmas:
            vid = f"vma:{mm.owner}:{v.start:#x}"
            pages = (v.end - v.start) // 4096
            g.add_node(
                vid,
                kind="vma",
                col=1,
                color=COLORS["vma"],
                # "area 2 +0x0" on two lines: the map's columns stay narrow
                label="\n".join(where(mm, v.start).rsplit(" ", 1))
                + f"\n{pages}p n{v.node}" + (" M" if v.mergeable else ""),
                title=f"VMA of {mm.owner} at {where(mm, v.start)}: {pages} pages, "
                f"memory on node {v.node}" + (", VM_MERGEABLE (M)" if v.mergeable else ""),
            )
            g.add_edge(mid, vid, kind="vma", style="solid")
            for addr in sorted(a for a in mm.ptes if v.start <= a < v.end):
                _pte(g, w, mm, vid, addr, mm.ptes[addr])
    for pfn in sorted(w.mem.frames):  # frames nobody maps (swap cache, in flight)
        _page_node(g, w, w.mem.frames[pfn])
    for e in sorted(w.swap.slots):
        _swap(g, w, e)
    for node in w.ksm.stable_nodes():
        _stable_node(g, w, node)
    for sid in [n for n in g if n.startswith("stable:")]:
        serial = int(sid.split(":")[1])
        node = next((s for s in w.ksm.stable_nodes() if s.serial == serial), None)
        if node is not None and node.kpfn in w.mem.frames and g.nodes[sid]["stale"]:
            g.add_edge(
                sid,
                _page_node(g, w, w.mem.frames[node.kpfn]),
                kind="kpfn",
                style="dotted",
                color=COLORS["stable_stale"],
                label="kpfn",
            )
    return g


def _swap(g, w, e):
    xid = f"swap:{e}"
    if xid not in g:
        s = w.swap.slots[e]
        data = content_text(s.content, 40) if s.content is not None else "-"
        cache = f", in the swap cache as pfn {s.page.pfn:#x}" if s.page is not None else ""
        g.add_node(
            xid,
            kind="swap",
            col=3,
            color=COLORS["swap"],
            label=f"slot {e}\ncount {s.count}",
            title=f"swap slot {e}: {s.count} swap entries point here, data {data!r}{cache}",
        )
        if s.page is not None:
            g.add_edge(
                xid, _page_node(g, w, s.page), kind="swapcache", style="dashed", label="cache"
            )
    return xid


def _pte(g, w, mm, vid, addr, pte):
    tid = f"pte:{mm.owner}:{addr:#x}"
    cls = pte.__class__
    if cls is Present:
        kind, text = "pte_present", "rw" if pte.writable else "ro"
        what = f"present, {'writable' if pte.writable else 'read-only'}, pfn {pte.page.pfn:#x}"
    elif cls is SwapEntry:
        kind, text = "pte_swap", f"swap {pte.entry}"
        what = f"a swap entry for slot {pte.entry}"
    elif cls is MigrationEntry:
        kind, text = "pte_migration", "migr"
        what = f"a migration entry: pfn {pte.page.pfn:#x} is being migrated"
    else:
        kind, text, what = "pte_present", "?", repr(pte)
    g.add_node(
        tid,
        kind=kind,
        col=2,
        color=COLORS[kind],
        label=f"{where(mm, addr).split()[-1]}{' ' if cls is Present else chr(10)}{text}",
        title=f"PTE of {mm.owner} at {where(mm, addr)}: {what}",
    )
    g.add_edge(vid, tid, kind="pte", style="solid")
    if cls is Present:
        g.add_edge(tid, _page_node(g, w, pte.page), kind="maps", style="solid")
    elif cls is MigrationEntry:
        g.add_edge(
            tid,
            _page_node(g, w, pte.page),
            kind="migrating",
            style="dashed",
            color=COLORS["violation"],
            label="migrating",
        )
    elif cls is SwapEntry and pte.entry in w.swap.slots:
        g.add_edge(tid, _swap(g, w, pte.entry), kind="swapped", style="dashed")


def memory_layout(g) -> dict:
    """Columns left to right (process, VMA, PTE, swap, frame, stable node), in pixels.

    PTEs keep their order (process, address); every other column is ordered by the mean
    row of its neighbours (frames within their NUMA node), then each box is put level
    with its neighbours where there is room, so edges run mostly straight. Returns
    node -> Box; deterministic."""
    cols = {}
    for n in g.nodes:  # insertion order: processes in creation order, addresses sorted
        cols.setdefault(g.nodes[n]["col"], []).append(n)
    boxes = {n: Box(n, 0, 0, g.nodes[n]["label"].split("\n")) for n in g}
    y = {}

    row = max((b.h for b in boxes.values()), default=0)

    def pack(members, target, top=TOP + BAND_HEAD, breaks=(), pitch=0):
        at = top
        for n in members:
            h = max(boxes[n].h, pitch)
            if n in breaks:
                at += BAND_HEAD
            want = target.get(n, at + h / 2)
            y[n] = max(want, at + h / 2)
            at = y[n] + h / 2 + GAP

    def mean(n, around):
        ys = [y[m] for m in around(n) if m in y]
        return sum(ys) / len(ys) if ys else None

    def targets(members, around):
        out = {}
        for n in members:
            m = mean(n, around)
            if m is not None:
                out[n] = m
        return out

    nbrs = lambda n: list(g.predecessors(n)) + list(g.successors(n))  # noqa: E731
    pack(cols.get(2, []), {}, pitch=row)
    pack(cols.get(1, []), targets(cols.get(1, []), g.successors))
    pack(cols.get(0, []), targets(cols.get(0, []), g.successors))
    swaps = cols.get(3, [])
    swaps.sort(key=lambda n: (mean(n, g.predecessors) or 0.0, n))
    pack(swaps, targets(swaps, g.predecessors))
    frames = cols.get(4, [])
    frames.sort(
        key=lambda n: (
            g.nodes[n]["nid"],
            mean(n, g.predecessors) if mean(n, g.predecessors) is not None else 1e9,
            int(n.split(":")[1], 16),
        )
    )
    firsts = {
        frames[i]
        for i in range(len(frames))
        if i == 0 or g.nodes[frames[i]]["nid"] != g.nodes[frames[i - 1]]["nid"]
    }
    pack(frames, targets(frames, g.predecessors), top=TOP, breaks=firsts)
    stable = cols.get(5, [])
    stable.sort(key=lambda n: (mean(n, nbrs) if mean(n, nbrs) is not None else 1e9, n))
    pack(stable, targets(stable, nbrs))
    x = 0.0
    for c in sorted(cols):
        w = max(boxes[n].w for n in cols[c])
        w = max(w, text_width(COLUMNS[c], FONT) + 2 * Box.PAD_X)
        for n in cols[c]:
            boxes[n].w = w  # one width per column: the edges leave and arrive aligned
            boxes[n].x = x + w / 2 + MARGIN
            boxes[n].y = y[n]
        x += w + COL_GAP
    return boxes


TOP = 58  # below the title and the column headings
GAP = 8
COL_GAP = 32
MARGIN = 10
BAND_HEAD = 22  # room above a NUMA node's first frame for its name


def draw_memory(w, title=None, changed=(), culprit=()) -> Diagram:
    """The memory map of ``w`` as an SVG diagram. ``changed``: node ids to highlight
    (what the last step touched); ``culprit``: node ids that break the property."""
    g = memory_graph(w)
    return draw_graph(g, title or "memory map (orange: KSM pages)", changed, culprit)


def draw_graph(g, title, changed=(), culprit=()) -> Diagram:
    """A memory graph (from ``memory_graph``) as an SVG diagram."""
    boxes = memory_layout(g)
    d = Diagram("memory", title, _describe(g))
    d.text(MARGIN, 14, title, size=FONT + 2, weight="bold")
    _node_bands(d, g, boxes)
    seen = set()
    for n, b in boxes.items():
        c = g.nodes[n]["col"]
        if c not in seen:
            seen.add(c)
            d.text(b.x, 38, COLUMNS[c], size=FONT, anchor="middle", weight="bold", color=INK2)
    styles = set()
    cols = {n: g.nodes[n]["col"] for n in g}
    skipped = {}  # column -> its boxes, for edges that pass over a column
    for n, c in cols.items():
        skipped.setdefault(c, []).append(boxes[n])
    between = {
        (u, v): [
            b
            for c in range(min(cols[u], cols[v]) + 1, max(cols[u], cols[v]))
            for b in skipped.get(c, [])
        ]
        for u, v in g.edges
    }
    for u, v in sorted(g.edges, key=lambda e: (str(e[0]), str(e[1]))):
        e = g.edges[u, v]
        kind = e.get("kind")
        dash = {"dashed": "6 4", "dotted": "2 3"}.get(e.get("style"))
        color = CULPRIT if u in culprit and v in culprit else EDGE_COLOR.get(kind, INK2)
        styles.add(kind)
        d.line(
            _route(boxes[u], boxes[v], between.get(abs(cols[u] - cols[v]) > 1 and (u, v), ())),
            color=color,
            dash=dash,
            width=1.6 if kind in EDGE_COLOR else 1.2,
            title=EDGE_TITLE.get(kind, kind),
        )
    for n, b in boxes.items():
        nd = g.nodes[n]
        emph = "culprit" if n in culprit else "changed" if n in changed else None
        d.box(
            b,
            nd["kind"] if not nd.get("stale") else "stable_stale",
            nd.get("title", nd["label"]),
            emph,
        )
    legend = [LEGEND[k] for k in LEGEND if k in styles]
    if legend:
        bottom = max((b.rect[3] for b in boxes.values()), default=TOP) + 22
        right = max(b.rect[2] for b in boxes.values())
        chars = max(40, int((right - MARGIN) / text_width("x", FONT)))
        for i, line in enumerate(textwrap.wrap("lines: " + "; ".join(legend), chars)):
            d.text(MARGIN, bottom + i * FONT * LINE, line, size=FONT, color=INK2)
    d.fit()
    return d


def _route(a, b, over=(), stub=14):
    """An edge between columns: out of the side facing the target, level for a short
    stub, across, and level again into the target's facing side, so that it never
    enters a box of the column it leaves or reaches. Over a column in between (the swap
    slots, between PTEs and frames) it keeps to the free gap nearest its way."""
    if b.x >= a.x:
        x0, x1, s = a.rect[2], b.rect[0], stub
    else:
        x0, x1, s = a.rect[0], b.rect[2], -stub
    start, end = [(x0, a.y), (x0 + s, a.y)], [(x1 - s, b.y), (x1, b.y)]
    if not over:
        return start + end
    lo = min(o.rect[0] for o in over) - 6
    hi = max(o.rect[2] for o in over) + 6
    want = (a.y + b.y) / 2
    edges = sorted((o.rect[1], o.rect[3]) for o in over)
    free = (
        [(-1e9, edges[0][0])]
        + [(edges[i][1], edges[i + 1][0]) for i in range(len(edges) - 1)]
        + [(edges[-1][1], 1e9)]
    )
    best = None
    for top, bottom in free:
        if bottom - top < 6:
            continue
        y = min(max(want, top + 3), bottom - 3)
        if best is None or abs(y - want) < abs(best - want):
            best = y
    if b.x < a.x:
        lo, hi = hi, lo
    return start + [(lo, best), (hi, best)] + end


EDGE_COLOR = {
    "mapping": "var(--jp-warn-color0, #e65100)",
    "migrating": "var(--jp-error-color1, #d32f2f)",
    "kpfn": "var(--ksmlab-grey-dark, #757575)",
}
EDGE_TITLE = {
    "vma": "the process's VMA",
    "pte": "a page table entry in this VMA",
    "maps": "the PTE maps this frame",
    "swapped": "the PTE is a swap entry for this slot",
    "swapcache": "the slot's page is in the swap cache",
    "migrating": "a migration entry: the frame is being migrated",
    "mapping": "page->mapping: the KSM page's stable node",
    "kpfn": "the stale stable node's kpfn: a frame that no longer points back",
}
LEGEND = {
    "maps": "solid: maps",
    "swapped": "dashed: swap entry or swap cache",
    "migrating": "red dashed: migration entry",
    "mapping": "orange: KSM page -> stable node",
    "kpfn": "dotted: stale kpfn",
}


def _describe(g) -> str:
    kinds = [g.nodes[n]["kind"] for n in g]
    return (
        f"{kinds.count('mm')} processes, {kinds.count('pte_present')} present PTEs, "
        f"{sum(k.endswith('page') for k in kinds)} frames of which {kinds.count('ksm_page')} "
        f"are KSM pages, {kinds.count('swap')} swap slots, {kinds.count('stable')} stable nodes. "
        "Hover over a box for its details."
    )


def _node_bands(d, g, boxes):
    """A shaded band behind each NUMA node's frames, its name above the first frame."""
    by_nid = {}
    for n, b in boxes.items():
        if g.nodes[n]["col"] == 4:
            by_nid.setdefault(g.nodes[n]["nid"], []).append(b)
    for nid, bs in sorted(by_nid.items()):
        x0 = min(b.rect[0] for b in bs) - 6
        x1 = max(b.rect[2] for b in bs) + 6
        y0 = min(b.rect[1] for b in bs) - BAND_HEAD + 2
        y1 = max(b.rect[3] for b in bs) + 4
        d.rect(
            x0,
            y0,
            x1,
            y1,
            LANE_COLORS[nid % len(LANE_COLORS)],
            cls="ksmlab-band",
            radius=4,
            opacity=0.15,
        )
        d.text(x0 + 4, y0 + 9, f"node {nid}", size=FONT, weight="bold")
