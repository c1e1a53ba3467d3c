"""Physical page frames on NUMA nodes, and what ``page->mapping`` says about them."""

from ..errors import KernelOops

__all__ = [
    "PAGE_SIZE",
    "Page",
    "AnonMapping",
    "KsmMapping",
    "PageKsm",
    "PageAnon",
    "page_stable_node",
    "PhysMem",
    "get_page",
    "put_page",
    "page_content",
]

PAGE_SIZE = 4096


class AnonMapping:
    """``page->mapping`` of an ordinary anonymous page: its anon_vma."""

    __slots__ = ("anon_vma",)

    def __init__(self, anon_vma):
        self.anon_vma = anon_vma


class KsmMapping:
    """``page->mapping`` of a KSM page: its stable node, or None (orphan or being created).

    The kernel tags the pointer's low bits; the model uses a class instead.
    """

    __slots__ = ("stable_node",)

    def __init__(self, stable_node):
        self.stable_node = stable_node


class Page:
    """``struct page``: one physical frame. ``content`` is stored with trailing zero bytes
    stripped, which keeps memcmp() order (a zero-padded prefix sorts first) and memory low."""

    __slots__ = (
        "pfn",
        "nid",
        "content",
        "refcount",
        "mapcount",
        "mapping",
        "index",
        "swapcache",
        "swap_entry",
        "lock_owner",
        "dirty",
    )

    def __init__(self, pfn: int, nid: int, content: bytes):
        self.pfn = pfn
        self.nid = nid
        self.content = content
        self.refcount = 1
        self.mapcount = 0
        self.mapping = None
        self.index = 0
        self.swapcache = False
        self.swap_entry = None
        self.lock_owner = None
        self.dirty = False

    def __repr__(self) -> str:
        kind = "ksm" if self.mapping.__class__ is KsmMapping else "anon" if self.mapping else "free"
        return (
            f"<Page pfn={self.pfn:#x} node={self.nid} {kind} "
            f"ref={self.refcount} map={self.mapcount}>"
        )


def PageKsm(page) -> bool:
    """PageKsm(): the page's mapping says it is a KSM page."""
    return page is not None and page.mapping.__class__ is KsmMapping


def PageAnon(page) -> bool:
    """PageAnon(): anonymous, which includes KSM pages."""
    return page.mapping is not None


def page_stable_node(page):
    """page_stable_node(): the stable node a KSM page points to, else None."""
    m = page.mapping
    return m.stable_node if m.__class__ is KsmMapping else None


def page_content(data: bytes) -> bytes:
    """The stored form of a page's bytes: trailing zeros stripped (see ``Page``)."""
    return bytes(data).rstrip(b"\0")


def get_page(page) -> None:
    page.refcount += 1


def put_page(mem, page) -> None:
    """put_page(): drop a reference; the last one frees the frame."""
    count = page.refcount - 1
    page.refcount = count
    if count > 0:
        return
    if count == 0:
        mem.free_page(page)
    else:
        raise KernelOops(f"BUG: Bad page state: pfn {page.pfn:#x} refcount below zero", [page])


class PhysMem:
    """Frames on ``nodes`` NUMA nodes. Frame numbers are ``nid * FRAMES_PER_NODE + i``;
    freed frames are reused last-freed-first, deterministically.

    Simplification: memory never runs out (no allocation fails, no OOM), a frame is
    always allocated on the node asked for, and there are no LRU lists (isolation is a
    reference, see ``vmscan.isolate_lru_page``)."""

    FRAMES_PER_NODE = 1 << 24

    def __init__(self, nodes: int):
        self.nodes = nodes
        self.frames = {}
        self._next = [nid * self.FRAMES_PER_NODE for nid in range(nodes)]
        self._free = [[] for _ in range(nodes)]
        self.allocated = 0

    def pfn_to_nid(self, pfn: int) -> int:
        return pfn // self.FRAMES_PER_NODE

    def pfn_to_page(self, pfn: int):
        """The page now in frame ``pfn``, or None if the frame is free."""
        return self.frames.get(pfn)

    def alloc_page(self, nid: int, content: bytes = b"") -> Page:
        free = self._free[nid]
        if free:
            pfn = free.pop()
        else:
            pfn = self._next[nid]
            self._next[nid] += 1
        page = Page(pfn, nid, content)
        self.frames[pfn] = page
        self.allocated += 1
        return page

    def free_page(self, page: Page) -> None:
        if page.mapcount or page.swapcache:
            raise KernelOops(
                f"BUG: Bad page state: freeing pfn {page.pfn:#x} still mapped or in swap cache",
                [page],
            )
        page.mapping = None
        del self.frames[page.pfn]
        self._free[page.nid].append(page.pfn)
        self.allocated -= 1
