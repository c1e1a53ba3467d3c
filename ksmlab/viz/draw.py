"""Drawing a laid-out graph on an Axes: labelled boxes for nodes, arrows for edges.

Every drawer goes through ``draw_graph``: node attributes ``label`` and ``color`` (and
optionally ``edgecolor``, ``fontsize``), edge attributes ``style`` ("solid", "dashed",
"dotted"), ``color`` and ``label``. Positions come from the caller's layout, which is
deterministic. Returns the artists it added.
"""

__all__ = ["draw_graph", "finish_axes"]


def draw_graph(ax, g, pos, fontsize=7, edge_labels=True):
    artists = []
    boxes = {}
    for n in sorted(g.nodes, key=str):
        d = g.nodes[n]
        x, y = pos[n]
        t = ax.text(
            x,
            y,
            d.get("label", str(n)),
            ha="center",
            va="center",
            fontsize=d.get("fontsize", fontsize),
            family="monospace",
            zorder=3,
            bbox={
                "boxstyle": "round,pad=0.3",
                "facecolor": d.get("color", "white"),
                "edgecolor": d.get("edgecolor", "#525252"),
                "linewidth": d.get("linewidth", 0.8),
            },
        )
        t.set_gid(str(n))
        boxes[n] = t
        artists.append(t)
    for u, v in sorted(g.edges, key=lambda e: (str(e[0]), str(e[1]))):
        d = g.edges[u, v]
        style = d.get("style", "solid")
        color = d.get("color", "#525252")
        (x0, y0), (x1, y1) = pos[u], pos[v]
        src, dst = _anchors(x1 - x0, y1 - y0)
        arrow = ax.annotate(
            "",
            xy=dst,
            xycoords=boxes[v],
            xytext=src,
            textcoords=boxes[u],
            zorder=2,
            arrowprops={
                "arrowstyle": "-|>" if d.get("arrow", True) else "-",
                "color": color,
                "linestyle": style,
                "linewidth": d.get("width", 0.9),
                "shrinkA": 3,
                "shrinkB": 4,
                "connectionstyle": d.get("connection", "arc3"),
                "mutation_scale": 8,
            },
        )
        artists.append(arrow)
        if edge_labels and d.get("label"):
            artists.append(
                ax.text(
                    (x0 + x1) / 2,
                    (y0 + y1) / 2,
                    d["label"],
                    fontsize=fontsize - 1,
                    color=color,
                    ha="center",
                    va="center",
                    zorder=4,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "lw": 0},
                )
            )
    return artists


def _anchors(dx, dy):
    """Where an edge leaves its source box and enters its target box (fractions of the
    boxes): the facing sides, left/right for mostly horizontal edges, else top/bottom.
    Anchoring to the text artists is cheap; clipping arrows to patches is not."""
    if abs(dx) >= abs(dy):
        return ((1.0, 0.5), (0.0, 0.5)) if dx >= 0 else ((0.0, 0.5), (1.0, 0.5))
    return ((0.5, 0.0), (0.5, 1.0)) if dy < 0 else ((0.5, 1.0), (0.5, 0.0))


def finish_axes(ax, pos, title=None, margin=0.6):
    """Hide the frame, fit the limits to the positions, set the title."""
    if pos:
        xs = [p[0] for p in pos.values()]
        ys = [p[1] for p in pos.values()]
        ax.set_xlim(min(xs) - margin * 1.5, max(xs) + margin * 1.5)
        ax.set_ylim(min(ys) - margin, max(ys) + margin)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9, y=1.0)  # a fixed y skips the costly auto-placement
