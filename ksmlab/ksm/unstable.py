"""The unstable tree: candidates that did not change between two visits, compared by
their *live* content, rebuilt every pass."""

from ..mm.memory import follow_page_get
from ..mm.page import put_page
from ..sched.plain import kernel_path
from ..sched.points import Point
from .stable import memcmp_pages

__all__ = ["unstable_tree_search_insert", "get_mergeable_page", "find_mergeable_vma"]

_NEXT = Point("unstable_tree_search_insert:cond_resched", "the descent yields between nodes")


def find_mergeable_vma(mm, addr):
    """find_mergeable_vma(): the VM_MERGEABLE VMA with an anon_vma at ``addr``, if any."""
    if not mm.users:  # ksm_test_exit()
        return None
    vma = mm.find_vma(addr)
    if vma is None or not vma.mergeable or vma.anon_vma is None:
        return None
    return vma


@kernel_path
def get_mergeable_page(w, item):
    """get_mergeable_page(): the page now at the item's address (referenced), or None."""
    mm = item.mm
    yield from mm.mmap_sem.down_read(w, "get_mergeable_page:down_read")
    page = None
    vma = find_mergeable_vma(mm, item.address)
    if vma is not None:
        page = follow_page_get(vma, item.address)
    mm.mmap_sem.up_read(w)
    return page


@kernel_path
def unstable_tree_search_insert(w, item, page):
    """unstable_tree_search_insert(): a (tree_item, tree_page) equal to ``page``, or insert
    ``item`` at the leaf the descent reached and return (None, None).

    Every early exit (vanished candidate, the very same page, a match on the wrong node)
    leaves the item volatile for the rest of this pass.
    """
    ksm = w.ksm
    nid = ksm.get_kpfn_nid(w, page.pfn)
    tree = ksm.root_unstable_tree[nid]
    tree_item = tree.rb_node  # *new
    parent, left = None, False
    while tree_item is not None:
        if w.interleaved:
            yield _NEXT
        tree_page = yield from get_mergeable_page(w, tree_item)
        if tree_page is None:
            return None, None
        if tree_page is page:  # don't substitute a KSM page for a forked page
            put_page(w.mem, tree_page)
            return None, None
        ret = memcmp_pages(page, tree_page)
        parent = tree_item
        if ret < 0:
            put_page(w.mem, tree_page)
            tree_item, left = parent.rb_left, True
        elif ret > 0:
            put_page(w.mem, tree_page)
            tree_item, left = parent.rb_right, False
        elif not ksm.merge_across_nodes and tree_page.nid != nid:
            put_page(w.mem, tree_page)  # it migrated away: next pass puts it right
            return None, None
        else:
            return tree_item, tree_page
    item.unstable = True
    item.seqnr = ksm.ksm_scan.seqnr & 0xFF
    item.nid = nid
    tree.link(item, parent, left)
    ksm.pages_unshared += 1
    return None, None
