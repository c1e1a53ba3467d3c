"""Colours and short labels shared by every drawer (one place, so the pictures agree)."""

from .svg import PALETTE

__all__ = ["COLORS", "short", "content_text", "page_kind", "where"]

#: node kind -> the fill the diagrams give its box (a JupyterLab variable with its
#: fallback; see ``svg.PALETTE``); the graph builders record it as ``color``.
COLORS = {kind: f"var({v}, {fb})" for kind, (v, fb, _, _) in PALETTE.items()}


def short(addr: int) -> str:
    """An address as its offset from the model's mmap base, when it is one: ``+0x1000``."""
    base = 0x7F0000000000
    if base <= addr < base + (1 << 40):
        return f"+{addr - base:#x}"
    return f"{addr:#x}"


def content_text(data, width=14) -> str:
    """Page content as short printable text."""
    if data is None:
        return "-"
    text = bytes(data).decode("latin-1")
    text = "".join(c if c.isprintable() else "." for c in text)
    return text if len(text) <= width else text[: width - 1] + "~"


def page_kind(page) -> str:
    """What ``page->mapping`` makes of a frame, in the words every picture uses: "KSM",
    "anon", or "new" (allocated, not yet given a mapping: a migration or copy target)."""
    from ..mm.page import PageKsm

    if PageKsm(page):
        return "KSM"
    return "anon" if page.mapping is not None else "new"


def where(mm, addr) -> str:
    """An address as the pictures teach it: the offset in the process's first area
    (``+0x1000``), or in a later one with its number (``area 2 +0x1000``)."""
    for i, v in enumerate(mm.vmas):
        if v.start <= addr < v.end and i > 0:
            return f"area {i + 1} +{addr - v.start:#x}"
    return short(addr)
