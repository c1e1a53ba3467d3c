"""Colours and short labels shared by every drawer (one place, so the pictures agree)."""

__all__ = ["COLORS", "short", "content_text", "page_kind", "where"]

#: node kind -> face colour (matplotlib names); tests assert on these.
COLORS = {
    "mm": "#c6dbef",
    "vma": "#deebf7",
    "pte_present": "#e5f5e0",
    "pte_swap": "#fdd0a2",
    "pte_migration": "#fcbba1",
    "page": "#9ecae1",
    "ksm_page": "#e6550d",
    "swapcache_page": "#fdae6b",
    "swap": "#fee6ce",
    "stable": "#fd8d3c",
    "stable_stale": "#bdbdbd",
    "unstable": "#a1d99b",
    "migrate_node": "#fdd0a2",
    "head": "#d9d9d9",
    "slot": "#c6dbef",
    "slot_cursor": "#fd8d3c",
    "slot_new": "#74c476",
    "path": "#e6550d",
    "explored": "#9ecae1",
    "pruned": "#d9d9d9",
    "violation": "#de2d26",
    "clean": "#74c476",
}


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
