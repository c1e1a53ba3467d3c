"""What a broken invariant or property names: each Violation's culprits are the objects
that break it, read here off the world that was broken on purpose."""

import pytest

from ksmlab import MADV_MERGEABLE, Fixes, Kernel, KernelOops, scenarios
from ksmlab.check.invariants import first_violation, violations
from ksmlab.check.violation import Violation, culprit, pte


def merged():
    """Two processes sharing one KSM page at their first address, run=1."""
    k = Kernel(nodes=1)
    procs = []
    for name in ("a", "b"):
        p = k.spawn(name)
        base = p.mmap(1)
        p.write(base, b"same")
        p.madvise(base, 1, MADV_MERGEABLE)
        procs.append((p, base))
    k.sysfs.write("run", 1)
    k.ksmd.passes(2)
    assert first_violation(k.world) is None
    return k, procs


def test_a_writable_ksm_mapping_names_the_pte_and_the_page():
    k, [(a, base), _] = merged()
    page = k.page_at(a, base)
    a.mm.ptes[base].writable = True
    name, v = first_violation(k.world)
    assert name == "ksm_pages_read_only"
    assert v.culprits == (("page", page.pfn), ("pte", "a", base))
    with pytest.raises(KernelOops) as e:
        k.check()
    assert e.value.culprits == v.culprits  # Kernel.check() passes them on


def test_a_miscounted_page_names_the_page():
    k, [(a, base), _] = merged()
    page = k.page_at(a, base)
    page.mapcount += 1
    assert violations(k.world, quiescent=False) == [
        ("page_references", f"page {page.pfn:#x} mapcount 3 but 2 PTEs map it")]
    assert violations(k.world, quiescent=False)[0][1].culprits == (("page", page.pfn),)


def test_a_misplaced_stable_node_names_the_node_and_a_stray_item_names_the_item():
    k, [(a, base), _] = merged()
    [node] = k.ksm.stable_nodes()
    node.exiled = True  # linked in its tree, but believes it is on migrate_nodes
    name, v = first_violation(k.world)
    assert (name, v.culprits) == ("stable_nodes_in_one_place", (("stable", node.serial),))
    node.exiled = False
    item = node.hlist[0]
    item.unstable = True  # flagged both stable and unstable (and pages_unshared is off)
    found = dict(violations(k.world))
    assert set(found) == {"counters_match_trees", "stable_items_consistent"}
    assert found["counters_match_trees"].culprits == ()  # a count names nothing
    assert found["stable_items_consistent"].culprits == (("rmap", item.mm.owner, base),)


def test_lost_data_names_the_mapping_that_reads_wrong():
    scn = scenarios.get("fork_behind_unmerge_cursor")
    k = scn.build(Fixes.all())
    p = k.process("P")
    owner_addr = sorted(a for (o, a) in scn._written if o == "P")[0]
    p.write(owner_addr, b"not what was written")
    v = scn.lost_data(k.world)
    assert v.culprits == (pte("P", owner_addr),)
    assert str(v).startswith(f"P@{owner_addr:#x} reads b'not what was wri'")


def test_culprit_names_model_objects_and_refuses_anything_else():
    k, [(a, base), _] = merged()
    page = k.page_at(a, base)
    [node] = k.ksm.stable_nodes()
    assert culprit(page) == ("page", page.pfn)
    assert culprit(node) == ("stable", node.serial)
    assert culprit(a.mm) == ("mm", "a")
    assert culprit(a.mm.vmas[0]) == ("vma", "a", base)
    assert culprit(k.ksm.root_stable_tree[0]) == ("tree", "stable tree 0")
    with pytest.raises(TypeError, match="cannot name str objects"):
        Violation("x", ["page 0x2"])
    with pytest.raises(TypeError, match="message is a str"):
        Violation(None)
