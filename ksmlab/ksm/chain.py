"""Stable node chains and dups (4.13, 2c653d0ee2ae "ksm: introduce ksm_max_page_sharing
per page deduplication limit"), only with ``Changes.stable_node_chains``.

A KSM page takes at most ``max_page_sharing`` rmap_items. When one content needs more,
the tree node of that content becomes a *chain* holding several *dups*, one per KSM page
of the same content (see ``StableNode``). A search picks a dup that can take one more
sharer; an insert that meets an equal node adds a new dup to (or makes) the chain.

Simplification: ``chain_prune_time`` and the ``stable_node_chains_prune_millisecs``
interval run on the model's logical clock (``KsmState.jiffies``, in milliseconds, moved
on by ``sleep_millisecs`` at each wake-up of ksmd, see ``ksmd_batch``), not on the wall
clock; with an interval of 0 every search prunes, as on the kernel.
"""

from ..mm.page import put_page
from ..sched.plain import kernel_path
from ..sched.points import Point
from .state import StableNode

__all__ = [
    "is_page_sharing_candidate",
    "stable_node_chain_add_dup",
    "stable_node_dup_del",
    "alloc_stable_node_chain",
    "free_stable_node_chain",
    "stable_node_dup",
    "stable_node_dup_any",
    "stable_node_chain",
]

_DUP_NEXT = Point("stable_node_dup:cond_resched", "walking a chain's dups")


def is_page_sharing_candidate(w, node, offset: int = 0) -> bool:
    """__is_page_sharing_candidate(): ``node`` still has rmap_items (else its page is
    about to go, so merging into it is pointless) and room for ``offset`` + 1 more."""
    n = len(node.hlist)
    return n > 0 and n + offset < w.ksm.max_page_sharing


def stable_node_chain_add_dup(w, dup, chain) -> None:
    """stable_node_chain_add_dup(): hang ``dup`` first on ``chain``."""
    dup.chain = chain
    chain.dups.insert(0, dup)
    w.ksm.stable_node_dups += 1


def stable_node_dup_del(w, dup) -> None:
    """__stable_node_dup_del(): take ``dup`` off its chain (the chain may be left empty;
    stable_node_dup_any frees it when a descent next meets it)."""
    dup.chain.dups.remove(dup)
    dup.chain = None
    w.ksm.stable_node_dups -= 1


def alloc_stable_node_chain(w, dup, tree):
    """alloc_stable_node_chain(): a chain takes ``dup``'s place in ``tree`` and ``dup``
    becomes its first dup. (The allocation never fails in the model.)"""
    chain = StableNode(w.next_serial(), None, dup.nid)
    chain.dups = []
    chain.prune_time = w.ksm.jiffies
    w.ksm.stable_node_chains += 1
    tree.replace(dup, chain)
    stable_node_chain_add_dup(w, dup, chain)
    return chain


def free_stable_node_chain(w, chain, tree) -> None:
    """free_stable_node_chain(): an empty chain leaves the tree."""
    tree.erase(chain)
    w.ksm.stable_node_chains -= 1


def _better(w, dup, found, found_len) -> bool:
    """Is ``dup`` a better pick than ``found``? 4.13: only a sharing candidate counts,
    the one with most rmap_items; 6.11 (``chain_best_dup``): any live dup is better than
    none, and a candidate (the one with most rmap_items) better than a non-candidate."""
    if not w.changes.chain_best_dup:
        return is_page_sharing_candidate(w, dup) and (found is None or len(dup.hlist) > found_len)
    return found is None or (
        is_page_sharing_candidate(w, dup)
        and (not is_page_sharing_candidate(w, found) or len(dup.hlist) > found_len)
    )


def _collapse(w, chain, found, tree):
    """The chain gives its place in the tree to its one dup."""
    tree.replace(chain, found)
    found.chain = None
    chain.dups.clear()
    w.ksm.stable_node_chains -= 1
    w.ksm.stable_node_dups -= 1


@kernel_path
def stable_node_dup(w, chain, tree, prune: bool):
    """stable_node_dup(): the best dup of ``chain`` (its page referenced) as ``(dup, page,
    node)``: a sharing candidate, the one with most rmap_items. Stale dups met are
    removed (get_ksm_page). Pruning is due when ``prune`` and the interval since the
    chain's last prune has passed: then every dup is visited, else the walk stops at the
    first candidate. A dup found that is not at the chain's head moves there if it can
    take yet another sharer.

    4.13: ``dup`` is None if no dup can take another sharer; when pruning leaves one
    live dup the chain collapses into it (it takes the chain's place in the tree and is
    returned as ``node`` too). ``chain_best_dup`` (6.11, a0b856b617c5): ``dup`` is the
    best live dup even if it is full (the caller checks), None only when no dup is left,
    and then the chain is freed; a chain whose found dup is its only one collapses
    whether pruning or not."""
    from .stable import get_ksm_page

    ksm = w.ksm
    best = w.changes.chain_best_dup
    if not prune or ksm.jiffies < chain.prune_time + ksm.stable_node_chains_prune_millisecs:
        prune = False
    else:
        chain.prune_time = ksm.jiffies
    found, found_page, found_len, nr = None, None, 0, 0
    for dup in list(chain.dups):
        if w.interleaved:
            yield _DUP_NEXT
        page = yield from get_ksm_page(w, dup, False)
        if page is None:
            continue
        nr += 1
        if _better(w, dup, found, found_len):
            if found is not None:
                put_page(w.mem, found_page)
            found, found_page, found_len = dup, page, len(dup.hlist)
            if not prune and (not best or is_page_sharing_candidate(w, found)):
                break
            continue
        put_page(w.mem, page)
    node = chain
    if found is not None:
        if (chain.dups == [found]) if best else (prune and nr == 1):
            _collapse(w, chain, found, tree)
            node = found
        elif chain.dups[0] is not found and is_page_sharing_candidate(w, found, 1):
            chain.dups.remove(found)
            chain.dups.insert(0, found)
    elif best:
        free_stable_node_chain(w, chain, tree)
    return found, found_page, node


def stable_node_dup_any(w, node, tree):
    """stable_node_dup_any(): ``node`` itself if it is no chain, else its first dup; an
    empty chain is freed (None: the tree changed, the descent must start again)."""
    if node.dups is None:
        return node
    if not node.dups:
        free_stable_node_chain(w, node, tree)
        return None
    return node.dups[0]


@kernel_path
def stable_node_chain(w, node, tree, prune: bool):
    """__stable_node_chain() (chain_prune() with ``prune``, chain() without): for a plain
    node, itself and its page if it is a sharing candidate (with ``chain_best_dup``,
    6.11, whether or not it is), else ``(None, None, node)``; for a chain,
    stable_node_dup()."""
    from .stable import get_ksm_page

    if node.dups is None:
        if w.changes.chain_best_dup or is_page_sharing_candidate(w, node):
            page = yield from get_ksm_page(w, node, False)
            return node, page, node
        return None, None, node
    return (yield from stable_node_dup(w, node, tree, prune))
