"""rmap_item bookkeeping: find or create the item for an address, take it out of its tree,
free the ones whose pages are gone."""

from ..errors import KernelOops
from ..mm.page import put_page
from ..sched.locks import unlock_page
from ..sched.plain import kernel_path
from ..sched.points import Point
from .stable import get_ksm_page
from .state import SEQNR_MASK, RmapItem

__all__ = [
    "get_next_rmap_item",
    "remove_rmap_item_from_tree",
    "remove_trailing_rmap_items",
    "free_rmap_item",
]

_REMOVED = Point("remove_rmap_item_from_tree:cond_resched", "called from long loops")
_ALLOC_ITEM = Point("get_next_rmap_item:alloc_rmap_item", "allocating an rmap_item may sleep")


@kernel_path
def remove_rmap_item_from_tree(w, item):
    """remove_rmap_item_from_tree(): make the item volatile, uncounting it.

    Stable: under its KSM page's lock (may sleep: migration holds it). 3.9 clears only the
    flag, leaving ``item.head`` set (mainline cleared it in 2021, c89a384e2551).
    Unstable: unlink it only if it went in during this pass (age 0); age 1 means its tree
    was already discarded; any other age is a kernel BUG.
    """
    ksm = w.ksm
    if item.stable:
        node = item.head
        page = yield from get_ksm_page(w, node, True)
        if page is not None:
            node.hlist.remove(item)
            unlock_page(w, page)
            put_page(w.mem, page)
            if node.hlist:
                ksm.pages_sharing -= 1
            else:
                ksm.pages_shared -= 1
            item.mm.ksm_merging_pages -= 1
            item.anon_vma = None
            item.stable = False
    elif item.unstable:
        age = (ksm.ksm_scan.seqnr - item.seqnr) & SEQNR_MASK
        if age > 1:
            raise KernelOops(
                f"kernel BUG at mm/ksm.c: remove_rmap_item_from_tree: "
                f"unstable {item!r} is {age} passes old",
                [item],
            )
        if age == 0:
            ksm.root_unstable_tree[item.nid].erase(item)
        ksm.pages_unshared -= 1
        item.unstable = False
    if w.interleaved:
        yield _REMOVED


def free_rmap_item(w, item):
    w.ksm.rmap_items -= 1
    item.mm.ksm_rmap_items -= 1


@kernel_path
def get_next_rmap_item(w, slot, addr):
    """get_next_rmap_item(): the item for ``addr`` at the cursor, freeing stale ones before
    it (their pages are gone), or a new zeroed one linked in order."""
    ksm = w.ksm
    scan = ksm.ksm_scan
    lst = slot.rmap_list
    while scan.rmap_list < len(lst):
        item = lst[scan.rmap_list]
        if item.address == addr:
            return item
        if item.address > addr:
            break
        del lst[scan.rmap_list]
        yield from remove_rmap_item_from_tree(w, item)
        free_rmap_item(w, item)
    if w.interleaved:
        yield _ALLOC_ITEM
    item = RmapItem(slot.mm, addr)
    lst.insert(scan.rmap_list, item)
    ksm.rmap_items += 1
    slot.mm.ksm_rmap_items += 1
    return item


@kernel_path
def remove_trailing_rmap_items(w, slot, index):
    """remove_trailing_rmap_items(): free every item from ``index`` on."""
    lst = slot.rmap_list
    while len(lst) > index:
        item = lst.pop(index)
        yield from remove_rmap_item_from_tree(w, item)
        free_rmap_item(w, item)
