"""The stable tree: get_ksm_page's keyhole, search, insert, append, and node removal."""

from ..mm.page import KsmMapping, page_stable_node, put_page
from ..sched.locks import lock_page, unlock_page
from ..sched.points import Point
from .state import StableNode

__all__ = [
    "get_ksm_page",
    "remove_node_from_stable_tree",
    "remove_stable_node",
    "remove_all_stable_nodes",
    "stable_tree_search",
    "stable_tree_insert",
    "stable_tree_append",
    "memcmp_pages",
]

_DETACH_NEXT = Point(
    "remove_node_from_stable_tree:cond_resched",
    "detaching rmap_items one by one; counters may be seen half-updated",
)
_SEARCH_NEXT = Point("stable_tree_search:cond_resched", "the descent yields between nodes")
_INSERT_NEXT = Point("stable_tree_insert:cond_resched", "the descent yields between nodes")
_REMOVE_ALL_NEXT = Point("remove_all_stable_nodes:cond_resched", "one stable node removed")
_ALLOC_NODE = Point("stable_tree_insert:alloc_stable_node", "allocating the node may sleep")


def memcmp_pages(a, b) -> int:
    """memcmp_pages(): compare page contents as the kernel does (see Page.content)."""
    x, y = a.content, b.content
    return -1 if x < y else (1 if x > y else 0)


def _keyhole(page, node) -> bool:
    m = page.mapping if page is not None else None
    return m.__class__ is KsmMapping and m.stable_node is node


def get_ksm_page(w, node, lock_it):
    """get_ksm_page(): the node's KSM page (referenced, locked if ``lock_it``), or None.

    The node does not pin its page: trust frame ``kpfn`` only while its mapping still
    names this node. If not, and ``kpfn`` did not move meanwhile (migration, 3.9), the
    node is stale and is removed here.
    """
    while True:
        kpfn = node.kpfn
        page = w.mem.pfn_to_page(kpfn)
        if _keyhole(page, node):
            page.refcount += 1
            if lock_it:
                yield from lock_page(w, page, "get_ksm_page:lock_page")
                if not _keyhole(page, node):
                    unlock_page(w, page)
                    put_page(w.mem, page)
                    if node.kpfn != kpfn:
                        continue
                    yield from remove_node_from_stable_tree(w, node)
                    return None
            return page
        if node.kpfn != kpfn:
            continue
        yield from remove_node_from_stable_tree(w, node)
        return None


def remove_node_from_stable_tree(w, node):
    """remove_node_from_stable_tree(): uncount its rmap_items (they become volatile) and
    unlink the node from where it is."""
    ksm = w.ksm
    items = node.hlist
    for i, item in enumerate(items):
        if i < len(items) - 1:
            ksm.pages_sharing -= 1
        else:
            ksm.pages_shared -= 1
        item.mm.ksm_merging_pages -= 1
        item.anon_vma = None
        item.stable = False  # 3.9 keeps item.head: see remove_rmap_item_from_tree
        yield _DETACH_NEXT
    node.hlist = []
    if node.exiled:
        ksm.migrate_nodes.remove(node)
        node.exiled = False
    elif w.fixes.stable_node_removal:
        ksm.root_stable_tree[node.nid].erase(node)  # 4146d2d673e8: the recorded tree
    else:
        # 3.8+NUMA: the tree is recomputed from the knob as it is *now*
        ksm.root_stable_tree[ksm.get_kpfn_nid(w, node.kpfn)].erase(node)


def remove_stable_node(w, node):
    """remove_stable_node() (3.9, cbf86cfe04a6): drop a node whose page is unmapped;
    refuse (EBUSY, with a one-time warning) when the page is still mapped."""
    page = yield from get_ksm_page(w, node, True)
    if page is None:
        return 0
    if page.mapcount:
        w.warn_once(
            "remove_stable_node()",
            f"KSM page pfn {page.pfn:#x} still mapped ({page.mapcount}) after unmerge",
        )
        err = -16  # -EBUSY
    else:
        page.mapping = KsmMapping(None)  # orphaned: a later swap-in must copy it
        yield from remove_node_from_stable_tree(w, node)
        err = 0
    unlock_page(w, page)
    put_page(w.mem, page)
    return err


def remove_all_stable_nodes(w):
    """remove_all_stable_nodes(): empty every tree of the layout in force, then
    ``migrate_nodes``. A busy root gives up on that tree (``break``), as merged.

    ``ksm.best_effort_removal`` is a what-if, not kernel behaviour: Mel Gorman's review
    suggestion (February 2013) to carry on past a busy node, walking each tree in order
    and skipping the nodes that cannot go. It was discussed and not adopted.
    """
    ksm = w.ksm
    err = 0
    for nid in range(ksm.ksm_nr_node_ids):
        tree = ksm.root_stable_tree[nid]
        if ksm.best_effort_removal:
            for node in tree.nodes:  # rb_first()/rb_next(), taken before any removal
                if node.tree is tree and (yield from remove_stable_node(w, node)):
                    err = -16
                yield _REMOVE_ALL_NEXT
            continue
        while tree:
            if (yield from remove_stable_node(w, tree.root())):
                err = -16
                break
            yield _REMOVE_ALL_NEXT
    for node in list(ksm.migrate_nodes):
        if (yield from remove_stable_node(w, node)):
            err = -16
        yield _REMOVE_ALL_NEXT
    return err


def stable_tree_search(w, page):
    """stable_tree_search(): the KSM page equal to ``page`` (referenced), or None.

    3.9 also re-places an exiled node of ``page`` (migrate_nodes) and exiles a matching
    node that migration left in the wrong tree; without the stable_node_removal fix there
    are no exiles (4146d2d673e8 brought them).
    """
    ksm = w.ksm
    numa_fix = w.fixes.stable_node_removal
    page_node = page_stable_node(page)
    if page_node is not None and not page_node.exiled:
        page.refcount += 1  # a forked KSM page: it is its own match
        return page
    nid = ksm.get_kpfn_nid(w, page.pfn)
    tree = ksm.root_stable_tree[nid]
    while True:  # "again:"
        node = tree.rb_node  # *new
        parent, left = None, False
        restart = False
        while node is not None:
            if w.interleaved:
                yield _SEARCH_NEXT
            tree_page = yield from get_ksm_page(w, node, False)
            if tree_page is None:
                return None
            ret = memcmp_pages(page, tree_page)
            put_page(w.mem, tree_page)
            parent = node
            if ret < 0:
                node, left = parent.rb_left, True
            elif ret > 0:
                node, left = parent.rb_right, False
            else:
                # lock and unlock, so that a racing migration notices the raised count
                tree_page = yield from get_ksm_page(w, node, True)
                if tree_page is not None:
                    unlock_page(w, tree_page)
                    if numa_fix and ksm.get_kpfn_nid(w, node.kpfn) != node.nid:
                        put_page(w.mem, tree_page)
                        return _replace(w, tree, node, page_node, page, nid)
                    return tree_page
                if page_node is not None:
                    restart = True
                    break
                return None
        if restart:
            continue
        if page_node is None:
            return None
        ksm.migrate_nodes.remove(page_node)  # the exile is re-placed at the leaf
        page_node.exiled = False
        page_node.nid = nid
        tree.link(page_node, parent, left)
        page.refcount += 1
        return page


def _replace(w, tree, node, page_node, page, nid):
    """stable_tree_search's ``replace:``: the match migrated off-node; exile it."""
    ksm = w.ksm
    if page_node is not None:
        ksm.migrate_nodes.remove(page_node)
        page_node.exiled = False
        page_node.nid = nid
        tree.replace(node, page_node)
        page.refcount += 1
        result = page
    else:
        tree.erase(node)
        result = None
    node.exiled = True
    ksm.migrate_nodes.insert(0, node)
    return result


def stable_tree_insert(w, kpage):
    """stable_tree_insert(): a new stable node for ``kpage`` (caller holds its lock), or
    None if an equal or stale node is met on the way (the content may have changed)."""
    ksm = w.ksm
    nid = ksm.get_kpfn_nid(w, kpage.pfn)
    tree = ksm.root_stable_tree[nid]
    node = tree.rb_node
    parent, left = None, False
    while node is not None:
        if w.interleaved:
            yield _INSERT_NEXT
        tree_page = yield from get_ksm_page(w, node, False)
        if tree_page is None:
            return None
        ret = memcmp_pages(kpage, tree_page)
        put_page(w.mem, tree_page)
        parent = node
        if ret < 0:
            node, left = parent.rb_left, True
        elif ret > 0:
            node, left = parent.rb_right, False
        else:
            return None
    yield _ALLOC_NODE
    node = StableNode(w.next_serial(), kpage.pfn, nid)
    kpage.mapping = KsmMapping(node)
    tree.link(node, parent, left)
    return node


def stable_tree_append(w, item, node):
    """stable_tree_append(): hang ``item`` on ``node`` and count it (caller holds the lock)."""
    ksm = w.ksm
    item.head = node
    item.stable = True
    if node.hlist:
        ksm.pages_sharing += 1
    else:
        ksm.pages_shared += 1
    node.hlist.insert(0, item)
    item.mm.ksm_merging_pages += 1
