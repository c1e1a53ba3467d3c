"""The stable and unstable trees (one of each per NUMA node when merge_across_nodes=0,
only tree 0 in use otherwise), content-ordered, and the ``migrate_nodes`` list.

Each tree is drawn as the red-black tree it is: the root is ``root->rb_node``, edges
follow ``rb_left``/``rb_right``, and every tree node carries ``rb`` ("red" or "black").
In-order left to right is content order while the contents hold still. Node ids:
``stable:SERIAL``, ``rmap:OWNER:ADDR``, ``root:TREE NAME``.
"""

import networkx as nx

from ..mm.page import page_stable_node
from .draw import draw_graph, finish_axes
from .style import COLORS, content_text, short

__all__ = ["trees_graph", "trees_layout", "draw_trees", "MIGRATE_NODES"]

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
        data = "(freed)" if page is None else content_text(page.content)
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
            label=f"#{item.serial} kpfn {item.kpfn:#x}\n{data!r}\nnid {item.nid}: {items}"
            + ("\nSTALE" if stale else ""),
        )
        return nid
    pte = item.mm.ptes.get(item.address)
    page = getattr(pte, "page", None)
    data = content_text(page.content) if page is not None else "?"
    nid = f"rmap:{item.mm.owner}:{item.address:#x}"
    g.add_node(
        nid,
        kind="unstable",
        tree=tree,
        order=order,
        depth=depth,
        color=COLORS["unstable"],
        label=f"{item.mm.owner}@{short(item.address)}\n{data!r}\nseqnr {item.seqnr}",
    )
    return nid


def trees_layout(g) -> dict:
    """Each tree in its own band of columns, left to right; in-order index across,
    depth down. Deterministic."""
    pos = {}
    x0 = 0.0
    for name in g.graph["trees"]:
        members = [n for n in g if g.nodes[n]["tree"] == name]
        width = max((g.nodes[n]["order"] for n in members), default=0) + 1
        width = max(width, 1)
        for n in members:
            d = g.nodes[n]
            if d["kind"] == "root":
                pos[n] = (x0 + (width - 1) / 2 * 1.4, 0.0)
            elif name == "migrate_nodes":
                pos[n] = (x0, -1.0 * (d["order"] + 1))
            else:
                pos[n] = (x0 + d["order"] * 1.4, -1.0 * d["depth"])
        x0 += (width if name != "migrate_nodes" else 1) * 1.4 + 0.6
    return pos


def draw_trees(ax, w, all_trees=False, title=None):
    """Draw every tree in use and migrate_nodes; returns the artists."""
    g = trees_graph(w, all_trees)
    pos = trees_layout(g)
    artists = draw_graph(ax, g, pos, fontsize=7)
    mode = f"merge_across_nodes={w.ksm.merge_across_nodes}"
    finish_axes(ax, pos, title or f"stable (orange) and unstable (green) trees, {mode}")
    return artists
