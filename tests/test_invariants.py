"""first_violation() and violations() decide "every invariant holds" in one walk of each
structure (``_all_hold``) before they ask the invariants one by one: that walk must say
True exactly when each of INVARIANTS returns None, on every world the explorer checks and
on worlds broken on purpose, one damage at a time."""

import random

import pytest
from ksmtest import build_world

import ksmlab.check.explore as explore_module
from ksmlab import MADV_MERGEABLE, Fixes, Kernel, scenarios
from ksmlab.check import invariants
from ksmlab.check.invariants import INVARIANTS, first_violation, violations
from ksmlab.ksm.state import MmSlot, StableNode
from ksmlab.mm.page import KsmMapping
from ksmlab.mm.pte import MigrationEntry, Present
from ksmlab.sched.scheduler import Scheduler


def one_by_one(w, quiescent):
    """(name, message, culprits) of every broken invariant, each asked in turn."""
    out = []
    for inv in INVARIANTS:
        v = inv(w, quiescent)
        if v is not None:
            out.append((inv.__name__, str(v), v.culprits))
    return out


def agree(w, quiescent) -> list:
    """Assert the one walk and the reports agree with the invariants asked one by one;
    returns what they found."""
    want = one_by_one(w, quiescent)
    assert invariants._all_hold(w, quiescent) is (not want)
    got = [(name, str(v), v.culprits) for name, v in violations(w, quiescent)]
    assert got == want
    first = first_violation(w, quiescent)
    assert (None if first is None else (first[0], str(first[1]), first[1].culprits)) == (
        want[0] if want else None)
    return want


def test_the_one_walk_agrees_at_every_step_the_explorer_checks(monkeypatch):
    seen = {True: 0, False: 0}  # worlds where everything held / something broke

    def checked(w, quiescent=True):
        for q in (False, True):
            seen[not agree(w, q)] += 1
        return first_violation(w, quiescent)

    monkeypatch.setattr(explore_module, "first_violation", checked)
    for name in scenarios.names():
        bound = 0 if name == "merge_across_nodes_switch" else 1
        for fixes in (Fixes.all(), Fixes.none()):
            explore_module.explore(name, fixes, max_preemptions=bound)
    # (quiescent=True breaks often half-way through a path, so both answers are covered)
    assert seen[True] > 1000 and seen[False] > 1000


def chains_world():
    """A 6.18 kernel with max_page_sharing 2: five mms share one content, another five a
    second one, so each content's KSM pages hang as dups on a stable node chain."""
    k = Kernel(nodes=1, version="6.18")
    k.sysfs.write("max_page_sharing", 2)
    for name in "abcde":
        p = k.spawn(name)
        base = p.mmap(2)
        p.write(base, b"same")
        p.write(base + 4096, b"other")
        p.madvise(base, 2, MADV_MERGEABLE)
    k.sysfs.write("run", 1)
    k.ksmd.passes(3)
    assert len(k.ksm.stable_chains()) == 2
    return k.world


def _items(w):
    return [i for s in w.ksm.mm_list for i in s.rmap_list]


def _present(w):
    return [(mm, a, p) for mm in w.mms for a, p in mm.ptes.items() if p.__class__ is Present]


def _ksm_present(w):
    return [t for t in _present(w) if t[2].page.mapping.__class__ is KsmMapping]


def _bump(obj, attr):
    setattr(obj, attr, getattr(obj, attr) + 1)
    return True


def _last(seq, act) -> bool:
    """Whether ``act`` could be done to the last of ``seq`` (and was)."""
    if not seq:
        return False
    return act(seq[-1]) is not False


#: (damage, the invariant that must notice it in a world at rest, the damage itself)
DAMAGE = [
    ("pages_shared + 1", "counters_match_trees", lambda w: _bump(w.ksm, "pages_shared")),
    ("pages_sharing + 1", "counters_match_trees", lambda w: _bump(w.ksm, "pages_sharing")),
    ("pages_unshared + 1", "counters_match_trees", lambda w: _bump(w.ksm, "pages_unshared")),
    ("ksm_rmap_items + 1", "counters_match_trees", lambda w: _bump(w.ksm, "rmap_items")),
    ("an mm's ksm_rmap_items + 1", "counters_match_trees",
     lambda w: _last(w.ksm.mm_list, lambda s: _bump(s.mm, "ksm_rmap_items"))),
    ("an mm's ksm_merging_pages + 1", "counters_match_trees",
     lambda w: _last(w.ksm.mm_list, lambda s: _bump(s.mm, "ksm_merging_pages"))),
    ("stable_node_chains + 1", "stable_node_chains_consistent",
     lambda w: _bump(w.ksm, "stable_node_chains")),
    ("stable_node_dups + 1", "stable_node_chains_consistent",
     lambda w: _bump(w.ksm, "stable_node_dups")),
    ("a stable item loses its flag", "stable_items_consistent",
     lambda w: _last([i for i in _items(w) if i.stable], lambda i: setattr(i, "stable", False))),
    ("a stable item is also unstable", "stable_items_consistent",
     lambda w: _last([i for i in _items(w) if i.stable], lambda i: setattr(i, "unstable", True))),
    ("a node's rmap_item is dropped", "stable_items_consistent",
     lambda w: _last([n for n in w.ksm.stable_nodes() if n.hlist], lambda n: n.hlist.pop())),
    ("an item hangs on a node it is not flagged for", "stable_items_consistent",
     lambda w: _last(w.ksm.stable_nodes(), lambda n: _last(
         [i for i in _items(w) if not i.stable], n.hlist.append))),
    ("a tree node believes it is exiled", "stable_nodes_in_one_place",
     lambda w: _last([n for t in w.ksm.root_stable_tree for n in t],
                     lambda n: setattr(n, "exiled", True))),
    ("a tree node believes it is in no tree", "stable_nodes_in_one_place",
     lambda w: _last([n for t in w.ksm.root_stable_tree for n in t],
                     lambda n: setattr(n, "tree", None))),
    ("a tree node records another nid", "stable_nodes_in_one_place",
     lambda w: _last([n for t in w.ksm.root_stable_tree for n in t],
                     lambda n: setattr(n, "nid", n.nid + 1))),
    ("a tree node is on migrate_nodes too", "stable_nodes_in_one_place",
     lambda w: _last([n for t in w.ksm.root_stable_tree for n in t], w.ksm.migrate_nodes.append)),
    ("a dup names no chain", "stable_node_chains_consistent",
     lambda w: _last([d for c in w.ksm.stable_chains() for d in c.dups],
                     lambda d: setattr(d, "chain", None))),
    ("two rmap_items swap places", "rmap_lists_sorted",
     lambda w: _last([s for s in w.ksm.mm_list if len(s.rmap_list) > 1],
                     lambda s: s.rmap_list.reverse())),
    ("two rmap_items share an address", "rmap_lists_sorted",
     lambda w: _last([s for s in w.ksm.mm_list if len(s.rmap_list) > 1],
                     lambda s: setattr(s.rmap_list[1], "address", s.rmap_list[0].address))),
    ("an mm_slot is not in the hash", "rmap_lists_sorted",
     lambda w: _last(w.ksm.mm_list, lambda s: w.ksm.mm_slots_hash.pop(s.mm))),
    ("an mm on the list is not mergeable", "rmap_lists_sorted",
     lambda w: _last(w.ksm.mm_list, lambda s: setattr(s.mm, "vm_mergeable", False))),
    ("the cursor points at a freed mm_slot", "rmap_lists_sorted",
     lambda w: _last(w.ksm.mm_list, lambda s: setattr(w.ksm.ksm_scan, "mm_slot", MmSlot(s.mm)))),
    ("a KSM page mapped writable", "ksm_pages_read_only",
     lambda w: _last(_ksm_present(w), lambda t: setattr(t[2], "writable", True))),
    ("a page names a freed stable node", "keyhole_nodes_alive",
     lambda w: _last(list(w.mem.frames.values()),
                     lambda p: setattr(p, "mapping", KsmMapping(StableNode(999, p.pfn, 0))))),
    ("a mapcount + 1", "page_references",
     lambda w: _last(list(w.mem.frames.values()), lambda p: _bump(p, "mapcount"))),
    ("a refcount + 1", "page_references",
     lambda w: _last(list(w.mem.frames.values()), lambda p: _bump(p, "refcount"))),
    ("a page left locked", "page_references",
     lambda w: _last(list(w.mem.frames.values()), lambda p: setattr(p, "lock_owner", "X"))),
    ("a mapped frame freed", "page_references",
     lambda w: _last(_present(w), lambda t: w.mem.frames.pop(t[2].page.pfn))),
    ("a migration entry at rest", "page_references",
     lambda w: _last(_present(w), lambda t: t[0].ptes.__setitem__(
         t[1], MigrationEntry(t[2].page, False)))),
    ("a swap count + 1", "page_references",
     lambda w: _last(list(w.swap.slots.values()), lambda s: _bump(s, "count"))),
]


@pytest.mark.parametrize("damage", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_the_one_walk_notices_each_damage(damage):
    _, caught_by, hurt = damage
    rng = random.Random(damage[0])
    applied = caught = 0
    at_rest = [build_world().k.world, chains_world()]
    for w in at_rest:  # each world at rest, then a fresh one per scenario, half-way
        assert agree(w, True) == []
        if hurt(w):
            applied += 1
            found = agree(w, True)
            caught += caught_by in [name for name, _, _ in found]
            agree(w, False)
    assert caught == applied > 0  # wherever it applied, at rest its invariant noticed it
    for name in scenarios.names():
        for fixes in (Fixes.all(), Fixes.none()):
            s = Scheduler(scenarios.get(name), fixes)
            for _ in range(rng.randrange(60)):
                if s.finished or not s.runnable():
                    break
                s.step(rng.choice(s.runnable()))
            if hurt(s.world):
                agree(s.world, False)
                agree(s.world, True)
            s.close()
