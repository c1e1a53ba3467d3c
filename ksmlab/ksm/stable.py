"""The stable tree: get_ksm_page's keyhole, search, insert, append, and node removal."""

from ..mm.page import KsmMapping, page_stable_node, put_page
from ..sched.locks import lock_page, unlock_page
from ..sched.plain import kernel_path
from ..sched.points import Point
from .chain import (
    alloc_stable_node_chain,
    free_stable_node_chain,
    is_page_sharing_candidate,
    stable_node_chain,
    stable_node_chain_add_dup,
    stable_node_dup_any,
    stable_node_dup_del,
)
from .state import StableNode

__all__ = [
    "get_ksm_page",
    "remove_node_from_stable_tree",
    "remove_stable_node",
    "remove_all_stable_nodes",
    "stable_tree_search",
    "stable_tree_insert",
    "stable_tree_append",
    "remove_stable_node_chain",
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


@kernel_path
def get_ksm_page(w, node, lock_it):
    """get_ksm_page(): the node's KSM page (referenced, locked if ``lock_it``), or None.

    The node does not pin its page: trust frame ``kpfn`` only while its mapping still
    names this node. If not, and ``kpfn`` did not move meanwhile (migration, 3.9), the
    node is stale and is removed here.
    """
    while True:
        kpfn = node.kpfn
        page = w.mem.frames.get(kpfn)  # pfn_to_page()
        m = page.mapping if page is not None else None
        if m.__class__ is KsmMapping and m.stable_node is node:  # _keyhole(page, node)
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


@kernel_path
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
    elif node.chain is not None:  # a dup leaves its chain (2c653d0ee2ae)
        stable_node_dup_del(w, node)
    elif w.fixes.stable_node_removal:
        ksm.root_stable_tree[node.nid].erase(node)  # 4146d2d673e8: the recorded tree
    else:
        # 3.8+NUMA: the tree is recomputed from the knob as it is *now*
        ksm.root_stable_tree[ksm.get_kpfn_nid(w, node.kpfn)].erase(node)


@kernel_path
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


@kernel_path
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
                if node.tree is tree and (yield from remove_stable_node_chain(w, node, tree)):
                    err = -16
                yield _REMOVE_ALL_NEXT
            continue
        while tree:
            if (yield from remove_stable_node_chain(w, tree.root(), tree)):
                err = -16
                break
            yield _REMOVE_ALL_NEXT
    for node in list(ksm.migrate_nodes):
        if (yield from remove_stable_node(w, node)):
            err = -16
        yield _REMOVE_ALL_NEXT
    return err


@kernel_path
def remove_stable_node_chain(w, node, tree):
    """remove_stable_node_chain() (4.13): remove_stable_node() of a plain node, or of
    each dup of a chain and then the chain itself; True if something stayed (EBUSY).
    A 3.9 tree holds no chains, so there it is remove_stable_node()."""
    if node.dups is None:
        return bool((yield from remove_stable_node(w, node)))
    for dup in list(node.dups):
        if (yield from remove_stable_node(w, dup)):
            return True
    free_stable_node_chain(w, node, tree)
    return False


@kernel_path
def stable_tree_search(w, page):
    """stable_tree_search(): the KSM page equal to ``page`` (referenced), or None.

    3.9 also re-places an exiled node of ``page`` (migrate_nodes) and exiles a matching
    node that migration left in the wrong tree; without the stable_node_removal fix there
    are no exiles (4146d2d673e8 brought them).

    ``stale_node_restart`` (4.5): a stale node met on the way (get_ksm_page removed it
    and may have rebalanced the tree) starts the descent again instead of answering "no
    match"; so does a match whose page went stale before it could be locked (3.9 only
    restarts there when re-placing an exile). ``stable_node_chains`` (4.13): each node
    is looked at through chain_prune(); a match that is full, or has no rmap_items left
    (is_page_sharing_candidate), is no merge target; an exile that is mapped more than
    once joins the matching chain instead (``chain_append:``).
    """
    ksm = w.ksm
    numa_fix = w.fixes.stable_node_removal
    chains = w.changes.stable_node_chains
    restart_stale = w.changes.stale_node_restart
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
            any_dup = None
            if chains:
                dup, tree_page, node = yield from stable_node_chain(w, node, tree, True)
                if dup is None and not w.changes.chain_best_dup:
                    # 4.13: every dup full, or an empty chain (freed: start again)
                    any_dup = stable_node_dup_any(w, node, tree)
                    if any_dup is None:
                        restart = True
                        break
                    tree_page = yield from get_ksm_page(w, any_dup, False)
            else:
                dup = node
                tree_page = yield from get_ksm_page(w, node, False)
            if tree_page is None:
                if restart_stale:  # "don't fail stable tree lookups ..." (4.5)
                    restart = True
                    break
                return None
            ret = memcmp_pages(page, tree_page)
            put_page(w.mem, tree_page)
            parent = node
            if ret < 0:
                node, left = parent.rb_left, True
            elif ret > 0:
                node, left = parent.rb_right, False
            else:
                if chains and page_node is not None and page.mapcount > 1:
                    return _chain_append(w, tree, node, dup or any_dup, page_node, page, nid)
                if dup is None or (chains and not is_page_sharing_candidate(w, dup)):
                    return None  # full (or no sharer left): wait in the unstable tree
                # lock and unlock, so that a racing migration notices the raised count
                tree_page = yield from get_ksm_page(w, dup, True)
                if tree_page is not None:
                    unlock_page(w, tree_page)
                    if numa_fix and ksm.get_kpfn_nid(w, dup.kpfn) != dup.nid:
                        put_page(w.mem, tree_page)
                        return _replace(w, tree, node, dup, page_node, page, nid)
                    return tree_page
                if restart_stale or page_node is not None:
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
        return _out(w, page_node, page)


def _out(w, page_node, page):
    """stable_tree_search's ``out:``: the re-placed exile's own page is the match,
    unless (4.13) it cannot take another sharer."""
    if w.changes.stable_node_chains and not is_page_sharing_candidate(w, page_node):
        return None
    page.refcount += 1
    return page


def _replace(w, tree, node, dup, page_node, page, nid):
    """stable_tree_search's ``replace:``: the match ``dup`` (``node`` itself, or a dup of
    the chain ``node``) migrated off-node; exile it, and put ``page_node`` (if exiled) in
    its place."""
    ksm = w.ksm
    result = None
    if dup is node:
        if page_node is not None:
            ksm.migrate_nodes.remove(page_node)
            page_node.exiled = False
            page_node.nid = nid
            tree.replace(node, page_node)
            result = _out(w, page_node, page)
        else:
            tree.erase(node)
    else:
        stable_node_dup_del(w, dup)
        if page_node is not None:
            ksm.migrate_nodes.remove(page_node)
            page_node.exiled = False
            page_node.nid = nid
            stable_node_chain_add_dup(w, page_node, node)
            result = _out(w, page_node, page)
    dup.exiled = True
    ksm.migrate_nodes.insert(0, dup)
    return result


def _chain_append(w, tree, node, dup, page_node, page, nid):
    """stable_tree_search's ``chain_append:`` (4.13): an exiled KSM page mapped more than
    once becomes another dup of the matching content (making ``node`` a chain first)."""
    chain = node if node.dups is not None else alloc_stable_node_chain(w, dup, tree)
    w.ksm.migrate_nodes.remove(page_node)
    page_node.exiled = False
    page_node.nid = nid
    stable_node_chain_add_dup(w, page_node, chain)
    return _out(w, page_node, page)


@kernel_path
def stable_tree_insert(w, kpage):
    """stable_tree_insert(): a new stable node for ``kpage`` (caller holds its lock), or
    None if an equal or stale node is met on the way (the content may have changed).

    ``stale_node_restart`` (4.5): a stale node starts the descent again.
    ``stable_node_chains`` (4.13): an equal node is no failure: the new node becomes a
    dup of that content's chain (made from the equal node if it is none yet).
    """
    ksm = w.ksm
    chains = w.changes.stable_node_chains
    nid = ksm.get_kpfn_nid(w, kpage.pfn)
    tree = ksm.root_stable_tree[nid]
    while True:  # "again:"
        node = tree.rb_node
        parent, left = None, False
        need_chain = restart = False
        while node is not None:
            if w.interleaved:
                yield _INSERT_NEXT
            if chains:
                dup, tree_page, node = yield from stable_node_chain(w, node, tree, False)
                if dup is None and not w.changes.chain_best_dup:
                    any_dup = stable_node_dup_any(w, node, tree)
                    if any_dup is None:
                        restart = True
                        break
                    tree_page = yield from get_ksm_page(w, any_dup, False)
            else:
                tree_page = yield from get_ksm_page(w, node, False)
            if tree_page is None:
                if w.changes.stale_node_restart:  # "don't fail stable tree lookups ..." (4.5)
                    restart = True
                    break
                return None
            ret = memcmp_pages(kpage, tree_page)
            put_page(w.mem, tree_page)
            parent = node
            if ret < 0:
                node, left = parent.rb_left, True
            elif ret > 0:
                node, left = parent.rb_right, False
            elif chains:
                need_chain = True
                break
            else:
                return None
        if not restart:
            break
    yield _ALLOC_NODE
    new = StableNode(w.next_serial(), kpage.pfn, nid)
    kpage.mapping = KsmMapping(new)
    if not need_chain:
        tree.link(new, parent, left)
    else:
        chain = node if node.dups is not None else alloc_stable_node_chain(w, node, tree)
        stable_node_chain_add_dup(w, new, chain)
    return new


def stable_tree_append(w, item, node, max_page_sharing_bypass=False):
    """stable_tree_append(): hang ``item`` on ``node`` and count it (caller holds the lock).
    With chains (4.13) going over max_page_sharing warns once, unless bypassed (a forked
    KSM page is appended wherever it is)."""
    ksm = w.ksm
    if (
        w.changes.stable_node_chains
        and not max_page_sharing_bypass
        and len(node.hlist) + 1 > ksm.max_page_sharing
    ):
        w.warn_once("stable_tree_append()", f"{node!r} goes over max_page_sharing")
    item.head = node
    item.stable = True
    if node.hlist:
        ksm.pages_sharing += 1
    else:
        ksm.pages_shared += 1
    node.hlist.insert(0, item)
    item.mm.ksm_merging_pages += 1
