"""SVG diagrams written by hand from the drawers' layouts: boxes, arrows and text.

A ``Diagram`` is built in pixels at its design size and shown inline (``_repr_html_``:
page CSS and hover titles apply, which they do not in an image). There is no
``_repr_svg_``: every front end picks the HTML first, and it carries an image copy for
where inline svg is sanitized away (see ``html_of``). Colours are JupyterLab CSS
variables with fallbacks, so the dark theme works and the image copy still has colours.
Text width is estimated, not measured: a monospace font at ``CHAR`` x its size per
character, so the bounding box of every label is known and the tests check that no
label overlaps another or leaves the figure. Output depends only on
the input: ids are the graph's node ids, numbers are rounded, nothing is random.
"""

import base64
import hashlib
import html
import math

__all__ = ["Diagram", "Box", "Stack", "FONT", "CHAR", "LINE", "PALETTE", "text_width", "fill_of"]

#: design font size (px) of box labels; captions are larger, nothing is smaller
FONT = 13
#: no label is ever shown smaller than this (px), however narrow the page
MIN_LABEL = 11
#: a box label (FONT at design size) is shown at most this large (px), however wide the page
MAX_LABEL = 18
#: the output width (px) from which a diagram grows beyond its design size, in proportion
#: to the width, until its box labels reach MAX_LABEL: a 1920 px Voila page (an output
#: about 1850 px wide) shows them at 18 px, JupyterLab or Voila at 1280 px at design size
GROW_FROM = 1340
#: width of one monospace character as a fraction of the font size
CHAR = 0.6
#: line height as a fraction of the font size
LINE = 1.25
#: from the middle of a line of text down to its baseline, as a fraction of the size
BASELINE = 0.36
FAMILY = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace"

#: fill and outline per node kind: a JupyterLab variable and its fallback. The fills are
#: the light (3) or mid (1, 2) shades, light in both themes, so box text stays dark.
PALETTE = {
    "mm": ("--jp-brand-color3", "#bbdefb", "--jp-brand-color1", "#1976d2"),
    "vma": ("--jp-info-color3", "#b2ebf2", "--jp-info-color1", "#0097a7"),
    "pte_present": ("--jp-success-color3", "#c8e6c9", "--jp-success-color1", "#388e3c"),
    "pte_swap": ("--jp-warn-color3", "#ffe0b2", "--jp-warn-color1", "#f57c00"),
    "pte_migration": ("--jp-error-color3", "#ffcdd2", "--jp-error-color1", "#d32f2f"),
    "page": ("--jp-brand-color3", "#bbdefb", "--jp-brand-color1", "#1976d2"),
    "free_page": ("--jp-layout-color2", "#eeeeee", "--jp-border-color1", "#bdbdbd"),
    "ksm_page": ("--jp-warn-color1", "#f57c00", "--jp-warn-color0", "#e65100"),
    "swapcache_page": ("--jp-warn-color3", "#ffe0b2", "--jp-warn-color1", "#f57c00"),
    "swap": ("--jp-warn-color3", "#ffe0b2", "--jp-warn-color0", "#e65100"),
    "stable": ("--jp-warn-color2", "#ffb74d", "--jp-warn-color0", "#e65100"),
    "stable_stale": ("--ksmlab-grey", "#bdbdbd", "--ksmlab-grey-dark", "#616161"),
    "unstable": ("--jp-success-color3", "#c8e6c9", "--jp-success-color1", "#388e3c"),
    "root": ("--ksmlab-light", "#f5f5f5", "--ksmlab-grey-dark", "#616161"),
    "head": ("--ksmlab-grey", "#e0e0e0", "--ksmlab-grey-dark", "#616161"),
    "slot": ("--jp-brand-color3", "#bbdefb", "--jp-brand-color1", "#1976d2"),
    "slot_cursor": ("--jp-warn-color2", "#ffb74d", "--jp-warn-color0", "#e65100"),
    "slot_new": ("--jp-success-color2", "#81c784", "--jp-success-color0", "#1b5e20"),
    "path": ("--jp-warn-color2", "#ffb74d", "--jp-warn-color0", "#e65100"),
    "pruned": ("--ksmlab-grey", "#e0e0e0", "--ksmlab-grey-dark", "#616161"),
    "cut": ("--ksmlab-grey", "#e0e0e0", "--ksmlab-grey-dark", "#616161"),
    "violation": ("--jp-error-color2", "#e57373", "--jp-error-color0", "#b71c1c"),
    "deadlock": ("--jp-error-color2", "#e57373", "--jp-error-color0", "#b71c1c"),
    "clean": ("--jp-success-color2", "#81c784", "--jp-success-color0", "#1b5e20"),
    "red": ("--jp-error-color3", "#ffcdd2", "--jp-error-color0", "#b71c1c"),
    "black": ("--ksmlab-grey", "#e0e0e0", "--ksmlab-black", "#212121"),
}
#: text and lines outside boxes follow the theme; text inside the (light) boxes is dark
INK = "var(--jp-content-font-color1, #212121)"
INK2 = "var(--jp-content-font-color2, #616161)"
PAPER = "var(--jp-layout-color0, #ffffff)"
BOX_INK = "#1a1a1a"
CHANGED = "var(--jp-brand-color0, #0d47a1)"
CULPRIT = "var(--jp-error-color0, #b71c1c)"
LANE_COLORS = (
    "var(--jp-brand-color1, #1976d2)",
    "var(--jp-warn-color1, #f57c00)",
    "var(--jp-success-color1, #388e3c)",
    "var(--jp-error-color1, #d32f2f)",
    "var(--jp-info-color1, #0097a7)",
    "var(--ksmlab-grey-dark, #616161)",
)


def fill_of(kind) -> str:
    v, fb = PALETTE.get(kind, PALETTE["root"])[:2]
    return f"var({v}, {fb})"


def stroke_of(kind) -> str:
    v, fb = PALETTE.get(kind, PALETTE["root"])[2:]
    return f"var({v}, {fb})"


def text_width(s, size=FONT) -> float:
    """The estimated width of ``s`` in pixels (monospace: every character alike)."""
    return len(s) * CHAR * size


def _n(x) -> str:
    """A coordinate as short, stable text."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


class Box:
    """A node's rectangle: centre, size, and the lines written in it."""

    PAD_X = 5
    PAD_Y = 3

    def __init__(self, node, x, y, lines, size=FONT, min_width=0):
        self.node = node
        self.lines = list(lines)
        self.size = size
        self.w = max(min_width, max((text_width(s, size) for s in self.lines), default=0))
        self.w += 2 * self.PAD_X
        self.h = len(self.lines) * size * LINE + 2 * self.PAD_Y
        self.x, self.y = x, y

    @classmethod
    def measure(cls, lines, size=FONT):
        b = cls(None, 0, 0, lines, size)
        return b.w, b.h

    @property
    def rect(self):
        return (self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2)

    def border_point(self, tx, ty):
        """Where the line from the centre towards (tx, ty) leaves the box."""
        dx, dy = tx - self.x, ty - self.y
        if dx == 0 and dy == 0:
            return self.x, self.y
        sx = (self.w / 2) / abs(dx) if dx else math.inf
        sy = (self.h / 2) / abs(dy) if dy else math.inf
        s = min(sx, sy)
        return self.x + dx * s, self.y + dy * s


class Diagram:
    """An SVG picture of ``width`` x ``height`` pixels with a title and a description.

    ``texts`` lists every text's bounding box as (x0, y0, x1, y1, text, size) and
    ``boxes`` every node box, ``segments`` every line as (class, polyline), edges
    between boxes having class "edge"; the tests read them.
    """

    def __init__(self, kind, title, desc=""):
        self.kind = kind
        self.title = title
        self.desc = desc
        self.width = 0.0
        self.height = 0.0
        self.texts = []
        self.boxes = {}
        self.segments = []
        self._body = []

    # -- elements ---------------------------------------------------------------------
    def text(
        self,
        x,
        y,
        s,
        size=FONT,
        anchor="start",
        color=INK,
        weight="normal",
        italic=False,
        title=None,
    ):
        """One line of text; (x, y) is the anchor point on the baseline's vertical middle;
        ``title`` is its hover text (for a label cut short)."""
        w = text_width(s, size)
        x0 = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
        self.texts.append((x0, y - size * 0.6, x0 + w, y + size * 0.6, s, size))
        style = f"fill:{color}"
        extra = (' font-weight="bold"' if weight == "bold" else "") + (
            ' font-style="italic"' if italic else ""
        )
        hover = f"<title>{html.escape(title)}</title>" if title else ""
        # the svg element sets the defaults (size FONT, anchored in the middle); a text
        # says only where it differs. y is the middle of the text: the baseline sits
        # BASELINE x size below it (no dominant-baseline, which browsers inherit unevenly)
        if size != FONT:
            extra += f' font-size="{size}"'
        if anchor != "middle":
            extra += f' text-anchor="{anchor}"'
        self._body.append(
            f'<text x="{_n(x)}" y="{_n(y + BASELINE * size)}" style="{style}"{extra}>'
            f"{hover}{html.escape(s)}</text>"
        )

    def rect(
        self,
        x0,
        y0,
        x1,
        y1,
        fill,
        stroke="none",
        width=1.0,
        dash=None,
        radius=0,
        cls="",
        opacity=1,
        title=None,
    ):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        d += f' fill-opacity="{opacity}"' if opacity != 1 else ""
        c = f' class="{cls}"' if cls else ""
        self._body.append(
            f'<rect{c} x="{_n(x0)}" y="{_n(y0)}" width="{_n(x1 - x0)}" height="{_n(y1 - y0)}" '
            f'rx="{radius}" style="fill:{fill};stroke:{stroke};stroke-width:{width}"{d}'
            + (f"><title>{html.escape(title)}</title></rect>" if title else "/>")
        )

    def box(self, box, kind, title, emphasis=None, outline=None):
        """A node: rounded rectangle, its lines, and a hover title with the whole story.
        ``emphasis`` is None, "changed" (what the last step touched) or "culprit"."""
        self.boxes[box.node] = box
        x0, y0, x1, y1 = box.rect
        stroke, width = (outline or stroke_of(kind)), 1.2
        extra = ""
        if emphasis == "changed":
            stroke, width, extra = CHANGED, 3.0, ' stroke-dasharray="6 3"'
        elif emphasis == "culprit":
            stroke, width = CULPRIT, 4.0
        cls = f"ksmlab-node {kind}" + (f" {emphasis}" if emphasis else "")
        size = f' font-size="{box.size}"' if box.size != FONT else ""
        self._body.append(
            f'<g class="{cls}" data-node="{html.escape(str(box.node))}" '
            f'style="fill:{BOX_INK}"{size}>'
        )
        self._body.append(f"<title>{html.escape(title)}</title>")
        self._body.append(
            f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(box.w)}" height="{_n(box.h)}" rx="4" '
            f'style="fill:{fill_of(kind)};stroke:{stroke};stroke-width:{width}"{extra}/>'
        )
        lh = box.size * LINE
        top = box.y - (len(box.lines) - 1) * lh / 2
        for i, line in enumerate(box.lines):
            y = top + i * lh
            w = text_width(line, box.size)
            self.texts.append(
                (
                    box.x - w / 2,
                    y - box.size * 0.6,
                    box.x + w / 2,
                    y + box.size * 0.6,
                    line,
                    box.size,
                )
            )
            base = y + BASELINE * box.size
            self._body.append(f'<text x="{_n(box.x)}" y="{_n(base)}">{html.escape(line)}</text>')
        self._body.append("</g>")

    def line(self, points, color=INK2, width=1.3, dash=None, arrow=True, title=None, cls="edge"):
        """A polyline through ``points``, with an arrowhead at the end (a polygon, so no
        marker ids are shared between diagrams on one page)."""
        self.segments.append((cls, list(points)))
        d = f' stroke-dasharray="{dash}"' if dash else ""
        pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
        self._body.append(f'<g class="ksmlab-{cls}">')
        if title:
            self._body.append(f"<title>{html.escape(title)}</title>")
        self._body.append(
            f'<polyline points="{pts}" style="fill:none;stroke:{color};stroke-width:{width}"{d}/>'
        )
        if arrow:
            (ax, ay), (bx, by) = points[-2], points[-1]
            ang = math.atan2(by - ay, bx - ax)
            size = 7 + width
            left = (bx - size * math.cos(ang - 0.4), by - size * math.sin(ang - 0.4))
            right = (bx - size * math.cos(ang + 0.4), by - size * math.sin(ang + 0.4))
            tri = " ".join(f"{_n(x)},{_n(y)}" for x, y in ((bx, by), left, right))
            self._body.append(f'<polygon points="{tri}" style="fill:{color}"/>')
        self._body.append("</g>")

    def edge(self, a, b, color=INK2, width=1.3, dash=None, arrow=True, title=None, bend=None):
        """An arrow from box ``a`` to box ``b``, border to border; ``bend`` routes it
        through one extra point (for ring chords and back edges)."""
        if bend is None:
            p0 = a.border_point(b.x, b.y)
            p1 = b.border_point(a.x, a.y)
            pts = [p0, p1]
        else:
            p0 = a.border_point(*bend)
            p1 = b.border_point(*bend)
            pts = [p0, bend, p1]
        self.line(pts, color, width, dash, arrow, title)
        return pts

    def label(self, x, y, s, size=FONT, color=INK, anchor="middle"):
        """A caption on a background patch, for edge labels that sit on a line."""
        w = text_width(s, size)
        x0 = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
        self.rect(x0 - 2, y - size * 0.65, x0 + w + 2, y + size * 0.65, PAPER)
        self.text(x, y, s, size, anchor, color)

    def raw(self, fragment):
        self._body.append(fragment)

    # -- output -----------------------------------------------------------------------
    def fit(self, margin=8):
        """Grow the canvas so that every box, text and line fits, with a margin."""
        xs, ys = [0.0], [0.0]
        for _x0, _y0, x1, y1, *_ in self.texts:
            xs += [x1]
            ys += [y1]
        for b in self.boxes.values():
            xs.append(b.rect[2])
            ys.append(b.rect[3])
        for _, seg in self.segments:
            xs += [p[0] for p in seg]
            ys += [p[1] for p in seg]
        self.width = max(self.width, max(xs) + margin)
        self.height = max(self.height, max(ys) + margin)

    def min_scale(self) -> float:
        """How far the diagram may shrink to fit its output (JupyterLab's at 1024 px, with
        the file browser open, is about 570 px): until its smallest label is MIN_LABEL px.
        Narrower than that, the page scrolls instead."""
        smallest = min((t[5] for t in self.texts), default=FONT)
        return min(1.0, MIN_LABEL / smallest)

    @staticmethod
    def max_scale() -> float:
        """How far the diagram may grow on a wide output (a projector): until its box
        labels are MAX_LABEL px."""
        return MAX_LABEL / FONT

    def size_style(self) -> str:
        """The svg's CSS size: its design width, growing with its container's width
        (``cqw``, the ``ksmlab-diagrams`` box of ``html_of``) beyond GROW_FROM px up to
        ``max_scale``; shrinking to the container's width down to ``min_scale``, then
        scrolling. Without container queries the design width stays."""
        w = math.ceil(self.width)
        least = _n(math.ceil(self.width * self.min_scale()))
        most = _n(math.ceil(self.width * self.max_scale()))
        grow = f"{100 * w / GROW_FROM:.2f}cqw"
        return (
            f"width:{w}px;width:clamp({w}px,{grow},{most}px);max-width:100%;height:auto;"
            f"min-width:{least}px"
        )

    def svg(self) -> str:
        w, h = _n(math.ceil(self.width)), _n(math.ceil(self.height))
        tag = hashlib.sha1("\n".join(self._body).encode()).hexdigest()[:8]
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" '
            f'class="ksmlab-diagram ksmlab-{self.kind} jp-mod-unconfined" '
            f'style="{self.size_style()}" '
            f'id="ksmlab-{self.kind}-{tag}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            f'role="img" aria-labelledby="ksmlab-{self.kind}-{tag}-t ksmlab-{self.kind}-{tag}-d" '
            f'font-family="{FAMILY}" font-size="{FONT}" text-anchor="middle">'
        )
        return "\n".join(
            [
                head,
                f'<title id="ksmlab-{self.kind}-{tag}-t">{html.escape(self.title)}</title>',
                f'<desc id="ksmlab-{self.kind}-{tag}-d">{html.escape(self.desc)}</desc>',
                *self._body,
                "</svg>",
            ]
        )

    def _repr_html_(self) -> str:
        return html_of([self])

    def __repr__(self):
        return f"<{self.kind} diagram {_n(self.width)}x{_n(self.height)}: {self.title}>"


#: shown only where the inline svg survived: trusted output hides the image copy
_HIDE_COPY = "<style>.ksmlab-figure > svg.ksmlab-diagram ~ img.ksmlab-copy {display: none}</style>"


def html_of(diagrams, copy=True) -> str:
    """Diagrams inline, side by side where the width allows and wrapped below each other
    where not; all of them scaled alike from the width of the box that holds them (a
    CSS size container): shrunk to a narrow output only until their smallest label is
    MIN_LABEL px (then the figure scrolls), grown on a wide one until their box labels
    are MAX_LABEL px (``Diagram.size_style``). JupyterLab fits an inline svg to the
    output's width unless it has the class ``jp-mod-unconfined``; it has.

    With ``copy``, each diagram also comes as an image, for an untrusted notebook (a
    fresh clone opened without running): JupyterLab's sanitizer then drops the svg
    element and the style that hides the copy, and the copy shows instead (in the
    fallback colours, on white). The figure's font size is 0 so that the svg's text,
    which the sanitizer keeps as bare text, stays invisible; the svg sets its own."""
    parts = []
    for d in diagrams:
        image = ""
        if copy:
            data = base64.b64encode(d.svg().encode()).decode()
            alt = html.escape(f"{d.title}. {d.desc}", quote=True)
            width = _n(math.ceil(d.width))
            image = (
                f'<img class="ksmlab-copy" alt="{alt}" title="{alt}" width="{width}" '
                'style="background:#ffffff;max-width:none" '
                f'src="data:image/svg+xml;base64,{data}">'
            )
        parts.append(
            '<div class="ksmlab-figure" style="flex:0 0 auto;max-width:100%;overflow-x:auto;'
            f'font-size:0px">{d.svg()}{image}</div>'
        )
    return (
        (_HIDE_COPY if copy else "")
        + '<div class="ksmlab-diagrams" style="display:flex;flex-wrap:wrap;gap:12px;'
        'align-items:flex-start;container-type:inline-size">' + "".join(parts) + "</div>"
    )


class Stack:
    """Several diagrams shown together (side by side where the page is wide enough)."""

    def __init__(self, *diagrams):
        self.diagrams = list(diagrams)

    def _repr_html_(self) -> str:
        return html_of(self.diagrams)

    def __repr__(self):
        return "<" + ", ".join(repr(d)[1:-1] for d in self.diagrams) + ">"
