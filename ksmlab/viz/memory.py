"""The memory map: processes -> VMAs -> PTEs -> frames on their NUMA node, with KSM
pages and their stable nodes marked and the swap cache shown.

Node ids are strings (``mm:P``, ``vma:P:0x7f..``, ``pte:P:0x7f..``, ``swap:1``,
``page:0x2``, ``stable:6``); every node has ``kind``, ``label``, ``color`` and ``col``
(its column in the picture); pages also ``nid`` and ``ksm``.
"""

import networkx as nx
from matplotlib.patches import Rectangle

from ..mm.page import PageKsm, page_stable_node
from ..mm.pte import MigrationEntry, Present, SwapEntry
from .draw import draw_graph, finish_axes
from .style import COLORS, content_text, short

__all__ = ["memory_graph", "memory_layout", "draw_memory", "COLUMNS"]

COLUMNS = ("process", "VMA", "PTE", "swap", "frame", "stable node")


def _page_node(g, w, page):
    pid = f"page:{page.pfn:#x}"
    if pid in g:
        return pid
    ksm = PageKsm(page)
    node = page_stable_node(page) if ksm else None
    if ksm:
        kind = "ksm_page"
        tag = f"KSM #{node.serial}" if node is not None else "KSM orphan"
    elif page.swapcache:
        kind, tag = "swapcache_page", "swap cache"
    else:
        kind, tag = "page", "anon"
    if page.swapcache and ksm:
        tag += " +swapcache"
    lock = f"\nlocked by {page.lock_owner}" if page.lock_owner is not None else ""
    g.add_node(
        pid,
        kind=kind,
        col=4,
        nid=page.nid,
        ksm=ksm,
        color=COLORS[kind],
        label=f"pfn {page.pfn:#x} n{page.nid}\n{tag}\n{content_text(page.content)!r}{lock}",
        edgecolor="#000000" if ksm else "#525252",
        linewidth=1.6 if ksm else 0.8,
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
        where = "migrate_nodes" if node.exiled else f"tree {node.nid}"
        g.add_node(
            sid,
            kind="stable",
            col=5,
            stale=stale,
            color=COLORS["stable_stale" if stale else "stable"],
            label=f"stable #{node.serial}\nkpfn {node.kpfn:#x}\n{where}"
            + (" STALE" if stale else ""),
        )
    return sid


def memory_graph(w) -> nx.DiGraph:
    """The memory map of world ``w`` as a directed graph."""
    g = nx.DiGraph(title="memory map")
    for mm in w.mms:
        mid = f"mm:{mm.owner}"
        g.add_node(
            mid,
            kind="mm",
            col=0,
            color=COLORS["mm"],
            label=f"{mm.owner}"
            + ("" if mm.users else "\n(exited)")
            + ("\nksm" if mm.vm_mergeable else ""),
        )
        for v in mm.vmas:
            vid = f"vma:{mm.owner}:{v.start:#x}"
            g.add_node(
                vid,
                kind="vma",
                col=1,
                color=COLORS["vma"],
                label=f"{short(v.start)}\n{(v.end - v.start) // 4096}p n{v.node}"
                + (" merg" if v.mergeable else ""),
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
        g.add_node(
            xid, kind="swap", col=3, color=COLORS["swap"], label=f"swap {e}\ncount {s.count}"
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
    elif cls is SwapEntry:
        kind, text = "pte_swap", f"swap {pte.entry}"
    elif cls is MigrationEntry:
        kind, text = "pte_migration", "migration"
    else:
        kind, text = "pte_present", "?"
    g.add_node(tid, kind=kind, col=2, color=COLORS[kind], label=f"{short(addr)}\n{text}")
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
    """Columns left to right (process, VMA, PTE, swap, frame, stable node); frames are
    ordered by NUMA node then pfn, the rest in insertion order. Deterministic."""
    cols = {}
    for n in g.nodes:  # insertion order: processes in creation order, addresses sorted
        cols.setdefault(g.nodes[n]["col"], []).append(n)
    if 4 in cols:
        cols[4].sort(key=lambda n: (g.nodes[n]["nid"], int(n.split(":")[1], 16)))
    height = max((len(v) for v in cols.values()), default=1)
    pos = {}
    for c, members in cols.items():
        step = height / len(members)
        for i, n in enumerate(members):
            pos[n] = (c * 1.6, -(i + 0.5) * step)
    return pos


def draw_memory(ax, w, title=None):
    """Draw the memory map of ``w``; returns the artists."""
    g = memory_graph(w)
    pos = memory_layout(g)
    artists = _node_bands(ax, g, pos)
    artists += draw_graph(ax, g, pos, fontsize=6)
    top = max((p[1] for p in pos.values()), default=0.0) + 0.55
    for c, name in enumerate(COLUMNS):
        if any(g.nodes[n]["col"] == c for n in g):
            artists.append(ax.text(c * 1.6, top, name, ha="center", fontsize=7, weight="bold"))
    finish_axes(ax, pos, title or "memory map (orange: KSM pages)", margin=0.8)
    return artists


def _node_bands(ax, g, pos):
    """A shaded band behind each NUMA node's frames."""
    out = []
    by_nid = {}
    for n in g:
        if g.nodes[n]["col"] == 4:
            by_nid.setdefault(g.nodes[n]["nid"], []).append(pos[n][1])
    for nid, ys in sorted(by_nid.items()):
        lo, hi = min(ys) - 0.45, max(ys) + 0.45
        x = 4 * 1.6
        band = Rectangle((x - 0.75, lo), 1.5, hi - lo, color=f"C{nid}", alpha=0.12, zorder=0)
        ax.add_patch(band)
        out.append(band)
        out.append(
            ax.text(
                x - 0.7,
                hi - 0.05,
                f"node {nid}",
                fontsize=7,
                va="top",
                color=f"C{nid}",
                weight="bold",
            )
        )
    return out
