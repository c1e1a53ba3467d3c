"""KSM's hooks into swap-in and migration."""

from ..mm.mm_types import anon_vma_prepare
from ..mm.page import AnonMapping, KsmMapping, PageKsm, page_stable_node
from ..sched.plain import kernel_path
from ..sched.points import Point
from .state import KSM_RUN_UNMERGE

__all__ = ["ksm_might_need_to_copy", "ksm_migrate_page"]

_ALLOC = Point("ksm_might_need_to_copy:alloc_page", "allocating the copy may sleep")


def _needs_copy(w, page, vma, addr) -> bool:
    if PageKsm(page):
        if not w.fixes.swapcache_copy_on_fault:
            return False  # 3.8: a KSM page has no anon_vma, so it was never copied
        # cbf86cfe04a6: copy while unmerging, or when the page lost its stable node
        return page_stable_node(page) is None or bool(w.ksm.run & KSM_RUN_UNMERGE)
    if page.mapping is None:
        return False
    av = page.mapping.anon_vma
    return av.root is not vma.anon_vma.root or page.index != addr


@kernel_path
def ksm_might_need_to_copy(w, page, vma, addr):
    """ksm_might_need_to_copy(): the page do_swap_page should map: ``page`` itself, or a
    fresh private copy (referenced, not in the swap cache).

    Simplification: the "page not up to date" branch (return the page and let
    do_swap_page report the read error) has no counterpart: no I/O errors are modelled."""
    if not _needs_copy(w, page, vma, addr):
        return page
    yield _ALLOC
    new = w.mem.alloc_page(vma.node, page.content)
    new.mapping = AnonMapping(anon_vma_prepare(w, vma))
    new.index = addr
    new.dirty = True
    return new


def ksm_migrate_page(w, new, old):
    """ksm_migrate_page(): the stable node follows its page to the new frame; the old
    frame then stops naming the node (3.9 order: kpfn first, so get_ksm_page retries)."""
    node = page_stable_node(new)
    if node is not None:
        node.kpfn = new.pfn
        old.mapping = KsmMapping(None)
