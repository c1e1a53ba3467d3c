"""Reverse mapping (mm/rmap.c): from a page to the PTEs that map it."""

from .page import PageKsm, page_stable_node

__all__ = ["rmap_walk"]


def rmap_walk(page):
    """rmap_walk(): the (vma, address) pairs that may map ``page``.

    Anonymous page: every VMA chained to its anon_vma, at ``page.index``.
    KSM page (rmap_walk_ksm): for each rmap_item on its stable node, the VMAs chained to
    the item's anon_vma at the item's address; first those of the item's own mm, then the
    others (forked children). A KSM page with no stable node has no reverse map.
    """
    if PageKsm(page):
        node = page_stable_node(page)
        if node is None:
            return []
        found = []
        for search_new_forks in (False, True):
            for item in node.hlist:
                av = item.anon_vma
                if av is None:
                    continue
                for vma in av.vmas:
                    if (vma.mm is not item.mm) != search_new_forks:
                        continue
                    if vma.start <= item.address < vma.end:
                        found.append((vma, item.address))
        return found
    mapping = page.mapping
    if mapping is None:
        return []
    addr = page.index
    return [(vma, addr) for vma in mapping.anon_vma.vmas if vma.start <= addr < vma.end]
