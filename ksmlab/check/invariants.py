"""Invariants: pure predicates over a World, each returning None or what is wrong (a
:class:`~ksmlab.check.violation.Violation`: the message and the objects it names).

Shared by ``Kernel.check()``, the property-based tests and the interleaving explorer.
``quiescent=True`` adds the checks that only hold when no kernel path is half-way
(every reference accounted for by a mapping or the swap cache).

The explorer checks after every step, and nearly always everything holds: so
:func:`first_violation` and :func:`violations` first decide that in one walk of each
structure (``_all_hold``), and ask the invariants one by one only when it fails.
"""

from ..mm.page import KsmMapping, PageKsm, page_stable_node
from ..mm.pte import MigrationEntry, Present, SwapEntry
from .violation import Violation, swap_slot
from .violation import pte as pte_of

__all__ = ["INVARIANTS", "violations", "first_violation"]


def counters_match_trees(w, quiescent):
    """pages_shared/sharing/unshared and rmap_items count what the structures hold (at
    rest only: a path may have unlinked an item it has yet to free)."""
    if not quiescent:
        return None
    ksm = w.ksm
    nodes = ksm.stable_nodes()
    shared = sum(1 for n in nodes if n.hlist)
    stable_items = sum(len(n.hlist) for n in nodes)
    items = list(ksm.rmap_items_of())
    unshared = sum(1 for i in items if i.unstable)
    if ksm.pages_shared != shared:
        return Violation(
            f"pages_shared is {ksm.pages_shared} but {shared} stable nodes have rmap_items"
        )
    if ksm.pages_sharing != stable_items - shared:
        want = stable_items - shared
        return Violation(f"pages_sharing is {ksm.pages_sharing} but stable items - shared = {want}")
    if ksm.pages_unshared != unshared:
        return Violation(
            f"pages_unshared is {ksm.pages_unshared} but {unshared} items are unstable"
        )
    if ksm.rmap_items != len(items):
        return Violation(
            f"ksm_rmap_items is {ksm.rmap_items} but {len(items)} rmap_items are on slots"
        )
    for slot in ksm.mm_list:
        n = len(slot.rmap_list)
        if slot.mm.ksm_rmap_items != n:
            return Violation(
                f"{slot.mm.owner}: ksm_rmap_items {slot.mm.ksm_rmap_items} != {n}", [slot.mm]
            )
        merging = sum(1 for i in slot.rmap_list if i.stable)
        if slot.mm.ksm_merging_pages != merging:
            return Violation(
                f"{slot.mm.owner}: ksm_merging_pages {slot.mm.ksm_merging_pages} != {merging}",
                [slot.mm],
            )
    return None


def stable_nodes_in_one_place(w, quiescent):
    """Every stable node is linked in the tree at its ``nid`` or is on migrate_nodes."""
    ksm = w.ksm
    seen = set()
    for i, tree in enumerate(ksm.root_stable_tree):
        for n in tree:
            if id(n) in seen:
                return Violation(f"{n!r} is linked twice", [n])
            seen.add(id(n))
            if n.tree is not tree or n.exiled:
                return Violation(f"{n!r} is in {tree.name} but believes otherwise", [n])
            if w.fixes.stable_node_removal and n.nid != i:
                return Violation(f"{n!r} is in {tree.name} but records nid {n.nid}", [n])
    for n in ksm.migrate_nodes:
        if id(n) in seen or not n.exiled:
            return Violation(f"{n!r} is on migrate_nodes and elsewhere", [n])
        seen.add(id(n))
    return None


def stable_items_consistent(w, quiescent):
    """An item flagged stable hangs on a live node's list and, at rest, only such items
    do (remove_node_from_stable_tree clears the flags one by one before unlinking)."""
    ksm = w.ksm
    on_nodes = {id(i) for n in ksm.stable_nodes() for i in n.hlist}
    for item in ksm.rmap_items_of():
        on = id(item) in on_nodes
        if item.stable and not on or quiescent and on and not item.stable:
            return Violation(f"{item!r} stable flag disagrees with the stable nodes' lists", [item])
        if item.stable and item.unstable:
            return Violation(f"{item!r} is both stable and unstable", [item])
    return None


def unstable_tree_consistent(w, quiescent):
    """During a ksmd pass, each unstable tree ksmd may descend (those of the layout in
    force) holds only unstable items inserted in this pass and linked there. (Between
    passes, and during run=2, the roots may still point at an older tree, which nothing
    reads: the next pass starts by discarding it; with merge_across_nodes=1 the roots
    of nodes 1.. are not read, nor discarded, at all.)"""
    ksm = w.ksm
    if ksm.ksm_scan.mm_slot is ksm.head or ksm.run != 1:
        return None
    seqnr = ksm.ksm_scan.seqnr & 0xFF
    for tree in ksm.root_unstable_tree[: ksm.ksm_nr_node_ids]:
        for item in tree:
            if not item.unstable or item.seqnr != seqnr or item.tree is not tree:
                return Violation(
                    f"{item!r} is in {tree.name} but is not an unstable item of this pass", [item]
                )
    return None


def rmap_lists_sorted(w, quiescent):
    """Each mm_slot's rmap_list is in address order; the hash and the list agree."""
    ksm = w.ksm
    for slot in ksm.mm_list:
        addrs = [i.address for i in slot.rmap_list]
        if addrs != sorted(set(addrs)):
            return Violation(f"rmap_list of {slot.mm.owner} is out of order", [slot])
        if ksm.mm_slots_hash.get(slot.mm) is not slot or not slot.mm.vm_mergeable:
            return Violation(f"{slot!r} is on the list but not registered", [slot])
    if len(ksm.mm_slots_hash) != len(ksm.mm_list):
        return Violation("mm_slots_hash and the mm_slot list disagree")
    cur = ksm.ksm_scan.mm_slot
    if cur is not ksm.head and cur not in ksm.mm_list:
        return Violation("the ksm_scan cursor points at a freed mm_slot", [cur])
    return None


def ksm_pages_read_only(w, quiescent):
    """A KSM page is never mapped writable."""
    for mm in w.mms:
        for addr, pte in mm.ptes.items():
            if pte.__class__ is Present and pte.writable and PageKsm(pte.page):
                return Violation(
                    f"{mm.owner}@{addr:#x} maps KSM page {pte.page.pfn:#x} writable",
                    [pte_of(mm, addr), pte.page],
                )
    return None


def keyhole_nodes_alive(w, quiescent):
    """A KSM page naming a stable node names one that still exists (no use-after-free)."""
    live = {id(n) for n in w.ksm.stable_nodes()}
    for page in w.mem.frames.values():
        node = page_stable_node(page)
        if node is not None and id(node) not in live:
            return Violation(f"page {page.pfn:#x} points at freed {node!r}", [page, node])
    return None


def page_references(w, quiescent):
    """mapcount counts the PTEs; at rest every reference is a mapping or the swap cache;
    swap counts match the swap entries."""
    maps = {}
    swaps = {}
    for mm in w.mms:
        for addr, pte in mm.ptes.items():
            cls = pte.__class__
            if cls is Present:
                maps[pte.page.pfn] = maps.get(pte.page.pfn, 0) + 1
                if w.mem.frames.get(pte.page.pfn) is not pte.page:
                    freed = pte.page
                    return Violation(
                        f"{mm.owner} maps freed frame {freed.pfn:#x}", [pte_of(mm, addr), freed]
                    )
            elif cls is SwapEntry:
                swaps[pte.entry] = swaps.get(pte.entry, 0) + 1
            elif cls is MigrationEntry and quiescent:
                return Violation(f"{mm.owner} has a migration entry at rest", [pte_of(mm, addr)])
    for pfn, page in w.mem.frames.items():
        if page.mapcount != maps.get(pfn, 0):
            return Violation(
                f"page {pfn:#x} mapcount {page.mapcount} but {maps.get(pfn, 0)} PTEs map it", [page]
            )
        if quiescent:
            expected = page.mapcount + (1 if page.swapcache else 0)
            if page.refcount != expected:
                return Violation(
                    f"page {pfn:#x} refcount {page.refcount}, expected {expected}", [page]
                )
            if page.lock_owner is not None:
                return Violation(f"page {pfn:#x} left locked by {page.lock_owner}", [page])
    for entry, slot in w.swap.slots.items():
        if slot.count != swaps.get(entry, 0):
            return Violation(
                f"swap slot {entry} count {slot.count} but {swaps.get(entry, 0)} entries",
                [swap_slot(entry)],
            )
        if slot.page is not None and (not slot.page.swapcache or slot.page.swap_entry != entry):
            return Violation(f"swap slot {entry} and its cache page disagree", [swap_slot(entry)])
    return None


def stable_node_chains_consistent(w, quiescent):
    """Chains (4.13) sit in a tree, hold no page and no rmap_items; their dups are in no
    tree, name their chain and record its nid; at rest the chain and dup counters count
    them and the live dups of one chain hold one content. A 3.9 world has none."""
    ksm = w.ksm
    chains = ksm.stable_chains()
    if not w.changes.stable_node_chains:
        if chains or ksm.stable_node_chains or ksm.stable_node_dups:
            return Violation("stable node chains in a kernel without them", chains)
        return None
    ndups = 0
    for chain in chains:
        if chain.kpfn is not None or chain.hlist or chain.chain is not None or chain.exiled:
            return Violation(
                f"{chain!r} is a chain but has a page, rmap_items or a chain of its own", [chain]
            )
        contents = set()
        for dup in chain.dups:
            ndups += 1
            if dup.chain is not chain or dup.tree is not None or dup.dups is not None:
                return Violation(
                    f"{dup!r} is a dup of {chain!r} but believes otherwise", [dup, chain]
                )
            if dup.exiled or (w.fixes.stable_node_removal and dup.nid != chain.nid):
                return Violation(
                    f"{dup!r} is a dup of {chain!r} but is exiled or on another nid", [dup, chain]
                )
            page = w.mem.pfn_to_page(dup.kpfn)
            if page is not None and page_stable_node(page) is dup:
                contents.add(page.content)
        if quiescent and len(contents) > 1:
            return Violation(
                f"the dups of {chain!r} hold {len(contents)} different contents",
                [chain, *chain.dups],
            )
    if quiescent and (ksm.stable_node_chains, ksm.stable_node_dups) != (len(chains), ndups):
        return Violation(
            f"stable_node_chains/dups are {ksm.stable_node_chains}/{ksm.stable_node_dups} "
            f"but there are {len(chains)}/{ndups}"
        )
    return None


INVARIANTS = (
    counters_match_trees,
    stable_nodes_in_one_place,
    stable_node_chains_consistent,
    stable_items_consistent,
    unstable_tree_consistent,
    rmap_lists_sorted,
    ksm_pages_read_only,
    keyhole_nodes_alive,
    page_references,
)


def violations(w, quiescent=True):
    """Every broken invariant as (name, Violation)."""
    if _all_hold(w, quiescent):
        return []
    out = []
    for inv in INVARIANTS:
        msg = inv(w, quiescent)
        if msg is not None:
            out.append((inv.__name__, msg))
    return out


def first_violation(w, quiescent=True):
    """The first broken invariant as (name, Violation), or None."""
    if _all_hold(w, quiescent):
        return None
    for inv in INVARIANTS:
        msg = inv(w, quiescent)
        if msg is not None:
            return inv.__name__, msg
    return None


def _all_hold(w, quiescent) -> bool:
    """Whether every invariant holds, decided in one walk of each structure (the stable
    trees, the rmap_lists, the page tables, the frames, the swap slots) rather than one
    walk per invariant: True only if each of :data:`INVARIANTS` would return None. It
    answers False at the first condition that fails; the invariants themselves then say
    which broke and how, in their order. The explorer asks after every step, and nearly
    always everything holds."""
    ksm = w.ksm
    # the stable trees and migrate_nodes: stable_nodes_in_one_place, and the nodes
    # (``stable_nodes()``, as a set) and their rmap_items the others look up
    by_nid = w.fixes.stable_node_removal
    seen = set()
    nodes = []
    chains = False
    for i, tree in enumerate(ksm.root_stable_tree):
        n = tree.rb_node  # rb_first(), then rb_next() in line
        if n is not None:
            while n.rb_left is not None:
                n = n.rb_left
        while n is not None:
            key = id(n)
            if key in seen or n.tree is not tree or n.exiled or by_nid and n.nid != i:
                return False
            seen.add(key)
            if n.dups is None:
                nodes.append(n)
            else:
                chains = True
                nodes.extend(n.dups)
            child = n.rb_right
            if child is not None:
                while child.rb_left is not None:
                    child = child.rb_left
                n = child
            else:
                parent = n.rb_parent
                while parent is not None and n is parent.rb_right:
                    n, parent = parent, parent.rb_parent
                n = parent
    for n in ksm.migrate_nodes:
        key = id(n)
        if key in seen or not n.exiled:
            return False
        seen.add(key)
        nodes.append(n)
    if w.changes.stable_node_chains:
        if stable_node_chains_consistent(w, quiescent) is not None:
            return False
    elif chains or ksm.stable_node_chains or ksm.stable_node_dups:
        return False
    live = set()
    on_nodes = set()
    shared = stable_items = 0
    for n in nodes:
        live.add(id(n))
        hlist = n.hlist
        if hlist:
            shared += 1
            stable_items += len(hlist)
            on_nodes.update(map(id, hlist))
    # the mm_slot list: stable_items_consistent, rmap_lists_sorted, the counters
    slots_hash = ksm.mm_slots_hash
    items = unshared = 0
    for slot in ksm.mm_list:
        mm = slot.mm
        if slots_hash.get(mm) is not slot or not mm.vm_mergeable:
            return False
        last = None
        merging = 0
        for item in slot.rmap_list:
            addr = item.address
            if last is not None and addr <= last:
                return False
            last = addr
            if item.stable:
                if item.unstable or id(item) not in on_nodes:
                    return False
                merging += 1
            elif quiescent:
                if id(item) in on_nodes:
                    return False
                if item.unstable:
                    unshared += 1
        if quiescent:
            n = len(slot.rmap_list)
            if mm.ksm_rmap_items != n or mm.ksm_merging_pages != merging:
                return False
            items += n
    if len(slots_hash) != len(ksm.mm_list):
        return False
    cur = ksm.ksm_scan.mm_slot
    if cur is not ksm.head and cur not in ksm.mm_list:
        return False
    if quiescent and (
        ksm.pages_shared != shared
        or ksm.pages_sharing != stable_items - shared
        or ksm.pages_unshared != unshared
        or ksm.rmap_items != items
    ):
        return False
    if unstable_tree_consistent(w, quiescent) is not None:
        return False
    # the page tables: ksm_pages_read_only, and what page_references counts
    frames = w.mem.frames
    maps = {}
    swaps = {}
    for mm in w.mms:
        for pte in mm.ptes.values():
            cls = pte.__class__
            if cls is Present:
                page = pte.page
                if pte.writable and page.mapping.__class__ is KsmMapping:
                    return False
                pfn = page.pfn
                if frames.get(pfn) is not page:
                    return False
                maps[pfn] = maps.get(pfn, 0) + 1
            elif cls is SwapEntry:
                entry = pte.entry
                swaps[entry] = swaps.get(entry, 0) + 1
            elif cls is MigrationEntry and quiescent:
                return False
    # the frames: keyhole_nodes_alive and page_references
    for pfn, page in frames.items():
        mapping = page.mapping
        if mapping.__class__ is KsmMapping:
            node = mapping.stable_node
            if node is not None and id(node) not in live:
                return False
        if page.mapcount != maps.get(pfn, 0):
            return False
        if quiescent and (
            page.refcount != page.mapcount + (1 if page.swapcache else 0)
            or page.lock_owner is not None
        ):
            return False
    for entry, slot in w.swap.slots.items():
        if slot.count != swaps.get(entry, 0):
            return False
        page = slot.page
        if page is not None and (not page.swapcache or page.swap_entry != entry):
            return False
    return True
