"""The stable and unstable trees (one of each per NUMA node when merge_across_nodes=0,
only tree 0 in use otherwise), content-ordered, and the ``migrate_nodes`` list.

Each tree is drawn as the red-black tree it is: the root is ``root->rb_node``, edges
follow ``rb_left``/``rb_right``, and every tree node carries ``rb`` ("red" or "black").
In-order left to right is content order while the contents hold still. Node ids:
``stable:SERIAL``, ``rmap:OWNER:ADDR``, ``root:TREE NAME``.
"""

import networkx as nx

from ..mm.page import page_stable_node
from .style import COLORS, content_text, where
from .svg import FONT, INK2, Box, Diagram

__all__ = ["trees_graph", "trees_layout", "draw_trees", "draw_trees_graph", "MIGRATE_NODES"]

MIGRATE_NODES = "root:migrate_nodes"


def _roots(w, all_trees):
    ksm = w.ksm
    n = len(ksm.root_stable_tree) if all_trees else ksm.ksm_nr_node_ids
    out = []
    for i in range(len(ksm.root_stable_tree)):
        # an unused tree still matters when it holds nodes (bug 4's stale nodes)
        if i < n or ksm.root_stable_tree[i].nodes or ksm.root_unstable_tree[i].nodes:
            out.append(("stable", ksm.root_stable_tree[i]))
    for i in range(len(ksm.root_unstable_tree)):
        if i < n or ksm.root_stable_tree[i].nodes or ksm.root_unstable_tree[i].nodes:
            out.append(("unstable", ksm.root_unstable_tree[i]))
    return out


def trees_graph(w, all_trees=False) -> nx.DiGraph:
    """Every tree in use (all of them with ``all_trees``) and migrate_nodes, as one
    forest; edges carry ``side`` ("L"/"R"), tree nodes ``tree``, ``order`` (in-order
    index), ``depth`` and ``rb`` ("red"/"black"; the migrate_nodes list has no colour)."""
    g = nx.DiGraph(title="KSM trees", trees=[])
    for kind, tree in _roots(w, all_trees):
        rid = f"root:{tree.name}"
        g.graph["trees"].append(tree.name)
        g.add_node(
            rid,
            kind="root",
            tree=tree.name,
            order=-1,
            depth=0,
            color="white",
            label=f"{tree.name}" + ("" if tree.nodes else "\n(empty)"),
            fontsize=7,
        )
        top = _subtree(g, w, kind, tree.name, tree.rb_node, [0], 1)
        if top is not None:
            g.add_edge(rid, top, side="")
    ksm = w.ksm
    g.graph["trees"].append("migrate_nodes")
    g.add_node(
        MIGRATE_NODES,
        kind="root",
        tree="migrate_nodes",
        order=-1,
        depth=0,
        color="white",
        label="migrate_nodes" + ("" if ksm.migrate_nodes else "\n(empty)"),
    )
    prev = MIGRATE_NODES
    for i, node in enumerate(ksm.migrate_nodes):
        nid = _add(g, w, "stable", "migrate_nodes", node, i, i + 1)
        g.add_edge(prev, nid, side="next")
        prev = nid
    return g


def _subtree(g, w, kind, tree, node, order, depth):
    """Add the rb subtree under ``node`` (in-order numbering from ``order[0]``); return
    its root's id."""
    if node is None:
        return None
    left = _subtree(g, w, kind, tree, node.rb_left, order, depth + 1)
    me = _add(g, w, kind, tree, node, order[0], depth)
    g.nodes[me]["rb"] = "red" if node.rb_red else "black"
    order[0] += 1
    right = _subtree(g, w, kind, tree, node.rb_right, order, depth + 1)
    if left is not None:
        g.add_edge(me, left, side="L")
    if right is not None:
        g.add_edge(me, right, side="R")
    return me


def _add(g, w, kind, tree, item, order, depth):
    if kind == "stable" and item.dups is not None:  # a stable node chain (4.13)
        nid = f"stable:{item.serial}"
        dups = " ".join(f"#{d.serial}:{len(d.hlist)}" for d in item.dups) or "empty"
        g.add_node(nid, kind="stable", tree=tree, order=order, depth=depth, stale=False,
                   color=COLORS["stable"], label=f"#{item.serial} chain\ndups {dups}")
        return nid
    if kind == "stable":
        page = w.mem.pfn_to_page(item.kpfn)
        stale = page is None or page_stable_node(page) is not item
        data = "(freed)" if page is None else content_text(page.content, 40)
        brief = "(freed)" if page is None else repr(content_text(page.content, 11))
        items = ",".join(f"{i.mm.owner}" for i in item.hlist) or "no items"
        nid = f"stable:{item.serial}"
        g.add_node(
            nid,
            kind="stable",
            tree=tree,
            order=order,
            depth=depth,
            stale=stale,
            color=COLORS["stable_stale" if stale else "stable"],
            label=f"#{item.serial} {item.kpfn:#x}\n{brief}" + ("\nSTALE" if stale else ""),
            title=f"stable node #{item.serial} in {tree}: kpfn {item.kpfn:#x}, nid {item.nid}, "
            f"data {data!r}, rmap_items {items}"
            + (" - STALE: its kpfn no longer holds the KSM page that points back" if stale else ""),
        )
        return nid
    pte = item.mm.ptes.get(item.address)
    page = getattr(pte, "page", None)
    data = content_text(page.content, 40) if page is not None else "?"
    brief = repr(content_text(page.content, 11)) if page is not None else "?"
    nid = f"rmap:{item.mm.owner}:{item.address:#x}"
    g.add_node(
        nid,
        kind="unstable",
        tree=tree,
        order=order,
        depth=depth,
        color=COLORS["unstable"],
        label=f"{item.mm.owner}@{where(item.mm, item.address)}\n{brief}",
        title=f"rmap_item of {item.mm.owner} at {where(item.mm, item.address)} in {tree}: "
        f"data {data!r}, inserted in the pass with seqnr {item.seqnr}",
    )
    return nid


def trees_layout(g) -> dict:
    """In pixels: the stable trees side by side in a first row of bands, the unstable
    trees and migrate_nodes in a second, each row wrapped where it would grow wider
    than WRAP px; within a band in-order index across, depth down. Returns node -> Box;
    deterministic."""
    boxes = {n: Box(n, 0, 0, g.nodes[n]["label"].split("\n")) for n in g}
    colw = max((b.w for b in boxes.values()), default=0) + H_GAP
    rowh = max((b.h for b in boxes.values()), default=0) + V_GAP
    bands = [[], []]
    for name in g.graph["trees"]:
        bands[0 if name.startswith("stable") else 1].append(name)
    top = TOP
    for row in bands:
        x0, depth = MARGIN, 0
        for name in row:
            members = [n for n in g if g.nodes[n]["tree"] == name]
            if name == "migrate_nodes":
                width = 1
            else:
                width = max(max((g.nodes[n]["order"] for n in members), default=0) + 1, 1)
            if x0 > MARGIN and x0 + width * colw > MARGIN + WRAP:
                # too wide for a narrow output (JupyterLab at 1024 px): the next line
                top += (depth + 1) * rowh + BAND_GAP
                x0, depth = MARGIN, 0
            for n in members:
                d = g.nodes[n]
                if d["kind"] == "root":
                    x, k = x0 + (width - 1) / 2 * colw, 0
                elif name == "migrate_nodes":
                    x, k = x0, d["order"] + 1
                else:
                    x, k = x0 + d["order"] * colw, d["depth"]
                boxes[n].x = x + colw / 2
                boxes[n].y = top + k * rowh + rowh / 2
                depth = max(depth, k)
            x0 += width * colw + BAND_GAP
        top += (depth + 1) * rowh + BAND_GAP
    return boxes


TOP = 34
MARGIN = 8
H_GAP = 14
#: a row of trees wraps beyond this width, so the picture shrinks into a 572 px output
#: with its labels at 11 px or more
WRAP = 640
V_GAP = 22
BAND_GAP = 18


def draw_trees(w, all_trees=False, title=None, changed=(), culprit=()) -> Diagram:
    """Every tree in use and migrate_nodes, as an SVG diagram. A node's outline is red
    or black when the tree records its red-black colour (``rb``)."""
    g = trees_graph(w, all_trees)
    mode = f"merge_across_nodes={w.ksm.merge_across_nodes}"
    title = title or f"stable (orange) and unstable (green) trees, {mode}"
    return draw_trees_graph(g, title, mode, changed, culprit)


def draw_trees_graph(g, title, mode="", changed=(), culprit=()) -> Diagram:
    """A trees graph (from ``trees_graph``) as an SVG diagram."""
    boxes = trees_layout(g)
    kinds = [g.nodes[n]["kind"] for n in g]
    d = Diagram(
        "trees",
        title,
        f"{mode + '; ' if mode else ''}{kinds.count('stable')} stable nodes, "
        f"{kinds.count('unstable')} unstable items; each tree in content order, left to "
        "right. Hover over a box for its details.",
    )
    d.text(MARGIN, 14, title, size=FONT + 2, weight="bold")
    for u, v in sorted(g.edges, key=lambda e: (str(e[0]), str(e[1]))):
        a, b = boxes[u], boxes[v]
        side = g.edges[u, v].get("side")
        if side in ("L", "R"):
            d.line([(a.x, a.rect[3]), (b.x, b.rect[1])], arrow=False, title=f"{side} child")
        else:
            d.line(
                [(a.x, a.rect[3]), (b.x, b.rect[1])], dash="4 3", arrow=True, title=side or "root"
            )
    for n, b in boxes.items():
        nd = g.nodes[n]
        kind = nd["kind"]
        if nd.get("stale"):
            kind = "stable_stale"
        rb = nd.get("rb")
        outline = RB_OUTLINE.get(rb)
        title_ = nd.get("title", nd["label"].replace("\n", " "))
        if rb:
            title_ += f"; {rb} node of the red-black tree"
        emph = "culprit" if n in culprit else "changed" if n in changed else None
        d.box(b, kind, title_, emph, outline=outline)
    if any(g.nodes[n].get("rb") for n in g):
        bottom = max(b.rect[3] for b in boxes.values()) + 18
        d.text(MARGIN, bottom, "outline: red-black colour of the node", size=FONT, color=INK2)
    d.fit()
    return d


RB_OUTLINE = {"red": "var(--jp-error-color1, #d32f2f)", "black": "#212121"}
