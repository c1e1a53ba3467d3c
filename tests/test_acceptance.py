"""Acceptance tests: the observable behaviour of the KSM model, scenario by scenario.

Expected values follow the 3.9 semantics of the modelling reference: merging needs two
passes (§3.8), counter meanings (§4), unmerging (§6), registration, fork and exit (§7),
swap-in copying (§8.2) and NUMA migration (§9.5). ``k.check()`` runs after every step.
"""

from __future__ import annotations

import errno

import pytest
from ksmtest import (
    assert_counters,
    expected_stat,
    is_ksm_at,
    ksm_stat,
    make_mergeable,
    page,
    passes,
    pte_kind,
)

import ksmlab
from ksmlab import MADV_MERGEABLE, MADV_UNMERGEABLE, PAGE_SIZE, Fixes, Kernel, KernelError

PS = PAGE_SIZE
FOUR = ["A", "B", "C", "D"] * 4  # 16 pages, 4 distinct contents, each on 4 pages


def start(k: Kernel) -> None:
    k.sysfs.write("run", 1)
    k.check()


def stable_node_of(k: Kernel, pfn: int):
    nodes = [n for n in k.ksm.stable_nodes() if n.kpfn == pfn]
    assert len(nodes) == 1, f"expected one stable node for pfn {pfn}, got {nodes}"
    return nodes[0]


# --------------------------------------------------------------------------------------
# Merging and counters
# --------------------------------------------------------------------------------------


def test_four_contents_merge_after_two_passes():
    k = Kernel(nodes=2, fixes=Fixes.all())
    a = k.spawn("qemu-a")
    base = make_mergeable(k, a, 16, FOUR)
    k.check()
    start(k)
    assert_counters(k, full_scans=0, scanned=0)
    assert ksm_stat(a) == expected_stat(0, 0)

    passes(k, 1)
    assert_counters(k, volatile=16, full_scans=1, scanned=16)
    assert ksm_stat(a) == expected_stat(16, 0)
    assert not any(is_ksm_at(k, a, base + i * PS) for i in range(16))

    passes(k, 1)
    assert_counters(k, shared=4, sharing=12, full_scans=2, scanned=32)
    assert ksm_stat(a) == expected_stat(16, 16)
    assert a.ksm_counts()["ksm_process_profit"] == 16 * 4096 - 16 * 64

    # Every page is now a KSM page; the four pages of one content share one frame.
    pfns = {}
    for i, c in enumerate(FOUR):
        addr = base + i * PS
        assert is_ksm_at(k, a, addr)
        assert a.read(addr) == page(c)
        assert pte_kind(a, addr) == "Present"
        pfns.setdefault(c, set()).add(k.page_at(a, addr).pfn)
    assert all(len(s) == 1 for s in pfns.values())
    frames = {next(iter(s)) for s in pfns.values()}
    assert len(frames) == 4
    nodes = k.ksm.stable_nodes()
    assert sorted(n.kpfn for n in nodes) == sorted(frames)
    assert all(len(n.hlist) == 4 for n in nodes)
    assert k.ksm.migrate_nodes == []
    k.check()

    # A third pass changes nothing but full_scans / pages_scanned.
    passes(k, 1)
    assert_counters(k, shared=4, sharing=12, full_scans=3, scanned=48)


def test_unique_pages_end_up_unshared():
    k = Kernel()
    a = k.spawn("a")
    make_mergeable(k, a, 4, ["u0", "u1", "u2", "u3"])
    start(k)
    passes(k, 1)
    assert_counters(k, volatile=4, full_scans=1)
    passes(k, 1)
    assert_counters(k, unshared=4, full_scans=2)
    # Each revisit takes the item out of the old tree and re-inserts it in the new one.
    passes(k, 1)
    assert_counters(k, unshared=4, full_scans=3)
    assert ksm_stat(a) == expected_stat(4, 0)


def test_changing_page_stays_volatile():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 3, ["x", "y", "z0"])
    start(k)
    passes(k, 1)
    assert_counters(k, volatile=3)
    for gen in range(1, 4):
        a.write(base + 2 * PS, f"z{gen}".encode())
        k.check()
        passes(k, 1)
        assert_counters(k, unshared=2, volatile=1)
    # Once it stops changing it becomes a candidate one pass later.
    passes(k, 1)
    assert_counters(k, unshared=3)


def test_identical_changing_pages_never_merge():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 2, ["s0", "s0"])
    start(k)
    for gen in range(1, 4):
        passes(k, 1)
        assert_counters(k, volatile=2)
        for i in range(2):
            a.write(base + i * PS, f"s{gen}".encode())
        k.check()
    passes(k, 1)
    assert_counters(k, volatile=2)
    passes(k, 1)
    assert_counters(k, shared=1, sharing=1)


def test_page_matching_existing_ksm_page_merges_on_first_visit():
    """3.9: a new item whose page equals an existing KSM page merges at its first visit."""
    k = Kernel()
    a = k.spawn("a")
    make_mergeable(k, a, 4, ["m"] * 4)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=1, sharing=3)
    b = k.spawn("b")
    b_base = make_mergeable(k, b, 2, ["m", "other"])
    k.check()
    passes(k, 1)
    assert_counters(k, shared=1, sharing=4, volatile=1)
    assert is_ksm_at(k, b, b_base)
    assert not is_ksm_at(k, b, b_base + PS)


def test_batches_do_not_cross_a_pass_boundary():
    k = Kernel()
    a = k.spawn("a")
    make_mergeable(k, a, 16, FOUR)
    start(k)
    k.sysfs.write("pages_to_scan", 5)
    assert k.ksmd.scan() == 5
    assert k.ksmd.scan() == 5
    assert k.ksmd.scan(pages=5) == 5
    assert k.sysfs.read("full_scans") == 0
    k.check()
    assert k.ksmd.scan() == 1  # the 16th item, then the pass ends and so does the batch
    assert k.sysfs.read("full_scans") == 1
    assert_counters(k, volatile=16, full_scans=1, scanned=16)
    # Batches of 8: the pass end is only noticed by the batch after the 16th item.
    assert k.ksmd.scan(pages=8) == 8
    assert k.ksmd.scan(pages=8) == 8
    assert k.sysfs.read("full_scans") == 1
    assert k.ksmd.scan(pages=8) == 0
    assert k.sysfs.read("full_scans") == 2
    assert_counters(k, shared=4, sharing=12, full_scans=2, scanned=32)
    k.check()


def test_full_scan_finishes_the_pass_in_progress():
    k = Kernel()
    a = k.spawn("a")
    make_mergeable(k, a, 16, FOUR)
    start(k)
    assert k.ksmd.scan(pages=3) == 3
    k.ksmd.full_scan()
    k.check()
    assert_counters(k, volatile=16, full_scans=1, scanned=16)
    k.ksmd.full_scan()
    k.check()
    assert_counters(k, shared=4, sharing=12, full_scans=2, scanned=32)


def test_no_rmap_items_without_madvise():
    k = Kernel()
    a = k.spawn("a")
    base = a.mmap(4)
    for i in range(4):
        a.write(base + i * PS, b"same")
    other = k.spawn("other")
    make_mergeable(k, other, 1, ["o"])
    start(k)
    passes(k, 3)
    assert_counters(k, unshared=1, full_scans=3, scanned=3)
    assert ksm_stat(a) == expected_stat(0, 0)
    assert not any(is_ksm_at(k, a, base + i * PS) for i in range(4))


def test_full_scan_with_no_registered_mm_completes_no_pass():
    k = Kernel()
    a = k.spawn("a")
    base = a.mmap(2)
    a.write(base, b"same")
    a.write(base + PS, b"same")
    start(k)
    passes(k, 2)
    assert_counters(k, full_scans=0, scanned=0)
    assert k.ksmd.scan(pages=10) == 0
    assert_counters(k, full_scans=0, scanned=0)


def test_never_written_pages_get_no_rmap_items():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 6, ["p", "p", None, None, None, None])
    assert k.page_at(a, base + 5 * PS) is None
    start(k)
    passes(k, 2)
    assert_counters(k, shared=1, sharing=1)
    assert ksm_stat(a) == expected_stat(2, 2)
    # Reading a never-written page gives zeros and no anonymous page for ksmd to track.
    assert a.read(base + 5 * PS) == bytes(PS)
    k.check()
    passes(k, 1)
    assert_counters(k, shared=1, sharing=1)
    assert ksm_stat(a) == expected_stat(2, 2)


# --------------------------------------------------------------------------------------
# Copy-on-write of a KSM page
# --------------------------------------------------------------------------------------


def test_write_to_merged_page_gives_private_copy():
    k = Kernel()
    a = k.spawn("a")
    b = k.spawn("b")
    a_base = make_mergeable(k, a, 4, ["same"] * 4)
    b_base = make_mergeable(k, b, 4, ["same"] * 4)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=1, sharing=7)
    kpfn = k.page_at(a, a_base).pfn

    a.write(a_base + 2 * PS, b"mine")
    k.check()
    assert a.read(a_base + 2 * PS) == page("mine")
    assert not is_ksm_at(k, a, a_base + 2 * PS)
    assert k.page_at(a, a_base + 2 * PS).pfn != kpfn
    for i in range(4):
        if i != 2:
            assert a.read(a_base + i * PS) == page("same")
            assert k.page_at(a, a_base + i * PS).pfn == kpfn
        assert b.read(b_base + i * PS) == page("same")
        assert k.page_at(b, b_base + i * PS).pfn == kpfn
    # ksmd has not looked yet: the accounting is unchanged.
    assert_counters(k, shared=1, sharing=7)
    assert ksm_stat(a) == expected_stat(4, 4)

    passes(k, 1)
    assert_counters(k, shared=1, sharing=6, volatile=1)
    assert ksm_stat(a) == expected_stat(4, 3)
    assert ksm_stat(b) == expected_stat(4, 4)
    assert a.read(a_base + 2 * PS) == page("mine")


def test_write_of_same_content_is_merged_again():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 4, ["same"] * 4)
    start(k)
    passes(k, 2)
    a.write(base, b"same")
    k.check()
    assert not is_ksm_at(k, a, base)
    assert_counters(k, shared=1, sharing=3)
    # Next visit: the item leaves the node, then the page is merged back into it at once.
    passes(k, 1)
    assert_counters(k, shared=1, sharing=3)
    assert is_ksm_at(k, a, base)
    assert len({k.page_at(a, base + i * PS).pfn for i in range(4)}) == 1


# --------------------------------------------------------------------------------------
# run=2 and the merge_across_nodes switch
# --------------------------------------------------------------------------------------


def test_run2_unmerges_everything_and_resets_full_scans():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 16, FOUR)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=4, sharing=12, full_scans=2)
    k.sysfs.write("run", 2)
    k.check()
    assert k.sysfs.read("run") == 2
    assert_counters(k, full_scans=0)
    assert ksm_stat(a) == expected_stat(0, 0)
    for i, c in enumerate(FOUR):
        assert not is_ksm_at(k, a, base + i * PS)
        assert a.read(base + i * PS) == page(c)
    # Every KSM page was freed, so remove_all_stable_nodes left nothing behind.
    assert k.ksm.stable_nodes() == []
    assert k.ksm.migrate_nodes == []
    with pytest.raises(ValueError, match="run"):
        k.ksmd.full_scan()
    k.check()


def test_merge_across_nodes_switch_needs_unmerge():
    k = Kernel()
    a = k.spawn("qemu-a")
    base = make_mergeable(k, a, 8, ["eight"] * 8)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=1, sharing=7, full_scans=2)

    with pytest.raises(KernelError) as ei:
        k.sysfs.write("merge_across_nodes", 0)
    assert ei.value.errno == errno.EBUSY
    k.check()
    assert k.sysfs.read("merge_across_nodes") == 1
    assert_counters(k, shared=1, sharing=7, full_scans=2)

    k.sysfs.write("run", 2)
    k.check()
    assert_counters(k, full_scans=0)

    k.sysfs.write("merge_across_nodes", 0)
    k.check()
    assert k.sysfs.read("merge_across_nodes") == 0

    k.sysfs.write("run", 1)
    k.check()
    passes(k, 1)
    assert_counters(k, volatile=8, full_scans=1)
    passes(k, 1)
    assert_counters(k, shared=1, sharing=7, full_scans=2)
    for i in range(8):
        assert a.read(base + i * PS) == page("eight")
        assert is_ksm_at(k, a, base + i * PS)
    k.check()


def test_run0_stops_ksmd_but_keeps_merged_pages():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 4, ["z"] * 4)
    start(k)
    passes(k, 2)
    k.sysfs.write("run", 0)
    k.check()
    assert_counters(k, shared=1, sharing=3, full_scans=2)
    assert all(is_ksm_at(k, a, base + i * PS) for i in range(4))
    with pytest.raises(ValueError, match="run"):
        k.ksmd.scan(pages=1)
    k.sysfs.write("run", 1)
    passes(k, 1)
    assert_counters(k, shared=1, sharing=3, full_scans=3)


# --------------------------------------------------------------------------------------
# fork, exit, MADV_UNMERGEABLE
# --------------------------------------------------------------------------------------


def _merged_parent():
    k = Kernel()
    a = k.spawn("qemu-a")
    base = make_mergeable(k, a, 16, FOUR)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=4, sharing=12)
    return k, a, base


def test_pids_names_and_alive():
    k = Kernel()
    a = k.spawn("p1")
    b = k.spawn("p2")
    c = a.fork("p3")
    assert (a.pid, b.pid, c.pid) == (1, 2, 3)
    assert (a.name, b.name, c.name) == ("p1", "p2", "p3")
    assert a.alive and b.alive and c.alive
    c.exit()
    assert not c.alive and a.alive
    k.check()


def test_fork_child_ksm_mappings_counted_at_next_pass():
    k, a, base = _merged_parent()
    b = a.fork("qemu-b")
    k.check()
    assert b.alive and b.pid == 2
    for i, c in enumerate(FOUR):
        addr = base + i * PS
        assert b.read(addr) == page(c)
        assert is_ksm_at(k, b, addr)
        assert k.page_at(b, addr).pfn == k.page_at(a, addr).pfn
    # No rmap_items are copied at fork.
    assert_counters(k, shared=4, sharing=12)
    assert ksm_stat(b)["ksm_rmap_items"] == 0
    assert ksm_stat(b)["ksm_merging_pages"] == 0

    passes(k, 1)
    assert_counters(k, shared=4, sharing=28)
    assert ksm_stat(b) == expected_stat(16, 16)
    assert ksm_stat(a) == expected_stat(16, 16)
    assert all(len(n.hlist) == 8 for n in k.ksm.stable_nodes())


@pytest.mark.parametrize("who", ["child", "parent"])
def test_exit_frees_rmap_items_at_next_pass(who):
    k, a, base = _merged_parent()
    b = a.fork("qemu-b")
    passes(k, 1)
    assert_counters(k, shared=4, sharing=28)
    gone, survivor = (b, a) if who == "child" else (a, b)
    before = ksm_stat(survivor)

    gone.exit()
    k.check()
    assert not gone.alive
    assert_counters(k, shared=4, sharing=28)

    passes(k, 1)
    assert_counters(k, shared=4, sharing=12)
    assert ksm_stat(survivor) == before
    for i, c in enumerate(FOUR):
        assert survivor.read(base + i * PS) == page(c)
        assert is_ksm_at(k, survivor, base + i * PS)
    assert all(len(n.hlist) == 4 for n in k.ksm.stable_nodes())

    survivor.exit()
    k.check()
    passes(k, 1)
    assert_counters(k)
    with pytest.raises(KernelError) as ei:
        survivor.read(base)
    assert ei.value.errno == errno.ESRCH


def test_fork_of_unregistered_process_is_not_registered():
    k = Kernel()
    a = k.spawn("a")
    base = a.mmap(2)
    a.write(base, b"q")
    a.write(base + PS, b"q")
    b = a.fork("b")
    start(k)
    passes(k, 2)
    assert_counters(k)
    assert ksm_stat(b) == expected_stat(0, 0)


def test_madv_unmergeable_breaks_range_at_once():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 8, ["u"] * 8)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=1, sharing=7)
    kpfn = k.page_at(a, base).pfn

    assert a.madvise(base, 4, MADV_UNMERGEABLE) is None
    k.check()
    for i in range(8):
        addr = base + i * PS
        assert a.read(addr) == page("u")
        assert is_ksm_at(k, a, addr) == (i >= 4)
        assert (k.page_at(a, addr).pfn == kpfn) == (i >= 4)
    # rmap_items are only dropped when ksmd passes.
    assert_counters(k, shared=1, sharing=7)
    assert ksm_stat(a) == expected_stat(8, 8)

    passes(k, 1)
    assert_counters(k, shared=1, sharing=3)
    assert ksm_stat(a) == expected_stat(4, 4)

    # Made mergeable again, the pages match the existing KSM page at their first visit.
    a.madvise(base, 4, MADV_MERGEABLE)
    k.check()
    passes(k, 1)
    assert_counters(k, shared=1, sharing=7)
    assert all(k.page_at(a, base + i * PS).pfn == kpfn for i in range(8))


def test_madv_unmergeable_whole_area_drops_everything():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 8, ["u"] * 4 + ["v"] * 4)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=2, sharing=6)
    a.madvise(base, 8, MADV_UNMERGEABLE)
    k.check()
    assert not any(is_ksm_at(k, a, base + i * PS) for i in range(8))
    assert_counters(k, shared=2, sharing=6)
    passes(k, 1)
    assert_counters(k)
    assert ksm_stat(a) == expected_stat(0, 0)
    assert [a.read(base + i * PS) for i in range(8)] == [page("u")] * 4 + [page("v")] * 4


def test_madvise_zero_length_is_a_no_op():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 4, ["n"] * 4)
    start(k)
    passes(k, 2)
    assert a.madvise(base, 0, MADV_UNMERGEABLE) is None
    k.check()
    assert all(is_ksm_at(k, a, base + i * PS) for i in range(4))
    passes(k, 1)
    assert_counters(k, shared=1, sharing=3)


# --------------------------------------------------------------------------------------
# NUMA: merge_across_nodes and migration
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("across", [0, 1])
def test_merge_across_nodes_controls_cross_node_merging(across):
    k = Kernel(nodes=2)
    if across == 0:
        k.sysfs.write("merge_across_nodes", 0)
    k.check()
    a = k.spawn("a")
    m0 = make_mergeable(k, a, 4, ["numa"] * 4, node=0)
    m1 = make_mergeable(k, a, 4, ["numa"] * 4, node=1)
    assert k.page_at(a, m0).nid == 0
    assert k.page_at(a, m1).nid == 1
    start(k)
    passes(k, 2)
    pfn0 = {k.page_at(a, m0 + i * PS).pfn for i in range(4)}
    pfn1 = {k.page_at(a, m1 + i * PS).pfn for i in range(4)}
    if across == 0:
        assert_counters(k, shared=2, sharing=6)
        assert len(pfn0) == 1 and len(pfn1) == 1 and pfn0 != pfn1
        assert all(k.page_at(a, m0 + i * PS).nid == 0 for i in range(4))
        assert all(k.page_at(a, m1 + i * PS).nid == 1 for i in range(4))
        assert sorted(n.nid for n in k.ksm.stable_nodes()) == [0, 1]
    else:
        assert_counters(k, shared=1, sharing=7)
        assert len(pfn0 | pfn1) == 1
        assert [n.nid for n in k.ksm.stable_nodes()] == [0]
    for i in range(4):
        assert a.read(m0 + i * PS) == page("numa")
        assert a.read(m1 + i * PS) == page("numa")


def test_migrate_ksm_page_moves_kpfn():
    k = Kernel(nodes=2)
    a = k.spawn("a")
    b = k.spawn("b")
    a_base = make_mergeable(k, a, 4, ["mig"] * 4)
    b_base = make_mergeable(k, b, 4, ["mig"] * 4)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=1, sharing=7)
    old = k.page_at(a, a_base).pfn
    node = stable_node_of(k, old)

    new = k.migrate(b, b_base + PS, node=1)
    k.check()
    assert new != old
    assert node.kpfn == new
    assert node.nid == 0  # merge_across_nodes=1: everything lives in tree 0
    for p, base in ((a, a_base), (b, b_base)):
        for i in range(4):
            pg = k.page_at(p, base + i * PS)
            assert pg.pfn == new and pg.nid == 1
            assert ksmlab.PageKsm(pg)
            assert p.read(base + i * PS) == page("mig")
    assert_counters(k, shared=1, sharing=7)
    assert k.ksm.migrate_nodes == []
    passes(k, 1)
    assert_counters(k, shared=1, sharing=7)
    assert [(n.kpfn, n.nid) for n in k.ksm.stable_nodes()] == [(new, 0)]


def test_migrate_ordinary_page():
    k = Kernel(nodes=2)
    a = k.spawn("a")
    base = a.mmap(2, node=0)
    a.write(base, b"plain")
    old = k.page_at(a, base).pfn
    new = k.migrate(a, base, node=1)
    k.check()
    assert new != old
    pg = k.page_at(a, base)
    assert (pg.pfn, pg.nid) == (new, 1)
    assert a.read(base) == page("plain")


def test_migrated_node_replaced_in_right_tree_by_its_own_visit():
    k = Kernel(nodes=2)
    k.sysfs.write("merge_across_nodes", 0)
    a = k.spawn("a")
    base = make_mergeable(k, a, 8, ["exile"] * 8, node=0)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=1, sharing=7)
    node = stable_node_of(k, k.page_at(a, base).pfn)
    assert node.nid == 0

    new = k.migrate(a, base, node=1)
    k.check()
    # Migration only updates kpfn; the node stays (misplaced) in tree 0 until ksmd looks.
    assert node.kpfn == new
    assert node.nid == 0
    assert k.ksm.migrate_nodes == []
    assert_counters(k, shared=1, sharing=7)

    # ksmd's visit exiles the node and, tree 1 being empty, re-places it there at once.
    assert k.ksmd.scan(pages=1) == 1
    k.check()
    assert k.ksm.migrate_nodes == []
    assert node.nid == 1
    assert node.kpfn == new
    passes(k, 1)
    assert_counters(k, shared=1, sharing=7)
    assert [(n.kpfn, n.nid) for n in k.ksm.stable_nodes()] == [(new, 1)]
    for i in range(8):
        assert a.read(base + i * PS) == page("exile")
        assert k.page_at(a, base + i * PS).pfn == new


def test_misplaced_node_exiled_by_search_then_replaced():
    k = Kernel(nodes=2)
    k.sysfs.write("merge_across_nodes", 0)
    b = k.spawn("b")
    a = k.spawn("a")
    # b registers first, so ksmd visits b's page before a's pages in every pass.
    b_base = make_mergeable(k, b, 1, ["other"], node=0)
    a_base = make_mergeable(k, a, 4, ["X"] * 4, node=0)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=1, sharing=3, unshared=1)
    node = stable_node_of(k, k.page_at(a, a_base).pfn)

    b.write(b_base, b"X")
    k.check()
    new = k.migrate(a, a_base, node=1)
    k.check()
    assert k.ksm.migrate_nodes == [] and node.nid == 0

    # b's page (node 0) searches tree 0, ends on the misplaced node: it is exiled.
    assert k.ksmd.scan(pages=1) == 1
    k.check()
    assert k.ksm.migrate_nodes == [node]
    assert node.kpfn == new
    assert not is_ksm_at(k, b, b_base)
    assert_counters(k, shared=1, sharing=3, volatile=1)

    # a's first page (the node's own page, now on node 1) re-places it in tree 1.
    assert k.ksmd.scan(pages=1) == 1
    k.check()
    assert k.ksm.migrate_nodes == []
    assert node.nid == 1
    passes(k, 1)
    assert_counters(k, shared=1, sharing=3, volatile=1)

    # b's page is on node 0: it never merges with the node-1 KSM page.
    passes(k, 1)
    assert_counters(k, shared=1, sharing=3, unshared=1)
    assert not is_ksm_at(k, b, b_base)

    # Moved to node 1 it matches the stable node there.
    k.migrate(b, b_base, node=1)
    k.check()
    passes(k, 1)
    assert_counters(k, shared=1, sharing=4)
    assert k.page_at(b, b_base).pfn == new
    assert b.read(b_base) == page("X")


# --------------------------------------------------------------------------------------
# Swap
# --------------------------------------------------------------------------------------


def test_swapped_out_ksm_page_counters_and_swap_in():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 8, ["sw"] * 8)
    start(k)
    passes(k, 2)
    kpfn = k.page_at(a, base).pfn
    assert k.swap_out(a, base + 3 * PS) == 8
    k.check()
    for i in range(8):
        assert pte_kind(a, base + i * PS) == "SwapEntry"
        assert k.page_at(a, base + i * PS) is None
    assert_counters(k, shared=1, sharing=7)

    # ksmd drops the items of addresses with nothing present.
    passes(k, 1)
    assert_counters(k)
    # The KSM page is alive in the swap cache, so its stable node still validates.
    assert [n.kpfn for n in k.ksm.stable_nodes()] == [kpfn]

    # With run=1 and the node intact the KSM page itself is mapped back.
    assert a.read(base) == page("sw")
    k.check()
    assert is_ksm_at(k, a, base) and k.page_at(a, base).pfn == kpfn
    # It is mapped, so reclaim cannot free it.
    assert k.reclaim() == 0
    k.check()
    passes(k, 1)
    assert_counters(k, shared=1)
    for i in range(1, 8):
        assert a.read(base + i * PS) == page("sw")
        k.check()
    passes(k, 1)
    assert_counters(k, shared=1, sharing=7)
    assert all(k.page_at(a, base + i * PS).pfn == kpfn for i in range(8))


def test_reclaim_frees_unmapped_ksm_page():
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 4, ["rc"] * 4)
    start(k)
    passes(k, 2)
    kpfn = k.page_at(a, base).pfn
    assert k.swap_out(a, base) == 4
    k.check()
    assert k.reclaim() == 1
    k.check()
    assert k.reclaim() == 0
    # Faulted back from the swap slot: an ordinary anonymous page.
    assert a.read(base + PS) == page("rc")
    k.check()
    assert not is_ksm_at(k, a, base + PS)
    # Still accounted: ksmd has not passed since the swap-out.
    assert_counters(k, shared=1, sharing=3)
    assert [n.kpfn for n in k.ksm.stable_nodes()] == [kpfn]
    # Next pass: the stale node is found and removed (all 4 items become volatile); the
    # faulted-back page kept its item, whose recorded checksum still matches: unstable.
    passes(k, 1)
    assert_counters(k, unshared=1)
    assert ksm_stat(a) == expected_stat(1, 0)
    assert k.ksm.stable_nodes() == []


@pytest.mark.parametrize(
    ("fixes", "copied"), [(Fixes.all(), True), (Fixes.none(), False)], ids=["fixed", "unfixed"]
)
def test_swap_in_after_unmerge(fixes, copied):
    k = Kernel(nodes=2, fixes=fixes)
    a = k.spawn("a")
    b = k.spawn("b")
    a_base = make_mergeable(k, a, 4, ["K"] * 4)
    b_base = make_mergeable(k, b, 4, ["K"] * 4)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=1, sharing=7)
    kpfn = k.page_at(a, a_base).pfn
    assert k.swap_out(a, a_base) == 8
    k.check()

    k.sysfs.write("run", 2)
    k.check()
    assert_counters(k, full_scans=0)

    assert a.read(a_base + PS) == page("K")
    k.check()
    pg = k.page_at(a, a_base + PS)
    assert bool(ksmlab.PageKsm(pg)) is (not copied)
    assert (pg.pfn == kpfn) is (not copied)
    assert b.read(b_base) == page("K")
    k.check()
    assert is_ksm_at(k, b, b_base) is (not copied)
    if copied:
        assert k.ksm.stable_nodes() == []


def test_swap_out_requires_present_page():
    k = Kernel()
    a = k.spawn("a")
    base = a.mmap(2)
    a.write(base, b"s")
    assert k.swap_out(a, base) == 1
    k.check()
    with pytest.raises(KernelError) as ei:
        k.swap_out(a, base)
    assert ei.value.errno == errno.ENOENT  # already a swap entry
    assert a.read(base) == page("s")
    k.check()
    assert pte_kind(a, base) == "Present"


# --------------------------------------------------------------------------------------
# Invariants and diagnostics
# --------------------------------------------------------------------------------------


def test_check_passes_on_fresh_kernel_and_dmesg_empty():
    k = Kernel()
    k.check()
    assert k.dmesg == []
    assert k.ksm.stable_nodes() == []
    assert k.ksm.migrate_nodes == []


def test_swapped_ksm_page_missed_by_madv_unmergeable_survives_run2():
    """MADV_UNMERGEABLE cannot see a swapped-out KSM page (§6.2); with run=1 and its stable
    node intact, the swap-in maps the KSM page itself (§8.2), now in a non-mergeable area,
    which the run=2 walk does not visit (§6.1). remove_all_stable_nodes then finds the page
    mapped: the node survives and a merge_across_nodes switch is refused (§10.2)."""
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 4, ["q"] * 4)
    start(k)
    passes(k, 2)
    kpfn = k.page_at(a, base).pfn
    assert k.swap_out(a, base) == 4
    k.check()
    a.madvise(base, 4, MADV_UNMERGEABLE)
    k.check()
    assert a.read(base) == page("q")
    k.check()
    assert is_ksm_at(k, a, base) and k.page_at(a, base).pfn == kpfn

    k.sysfs.write("run", 2)
    k.check()
    assert_counters(k, full_scans=0)
    assert is_ksm_at(k, a, base)
    assert [n.kpfn for n in k.ksm.stable_nodes()] == [kpfn]
    assert any("WARNING" in line for line in k.dmesg)
    with pytest.raises(KernelError) as ei:
        k.sysfs.write("merge_across_nodes", 0)
    assert ei.value.errno == errno.EBUSY
    k.check()
    # The other three addresses are still swap entries; with run=2 they fault in as copies.
    for i in range(1, 4):
        assert a.read(base + i * PS) == page("q")
        assert not is_ksm_at(k, a, base + i * PS)
    # A write finally gives the mapping its own copy; the node can then go.
    a.write(base, b"q")
    k.check()
    assert not is_ksm_at(k, a, base)
    k.sysfs.write("merge_across_nodes", 0)
    k.check()
    assert k.ksm.stable_nodes() == []


def test_stale_node_whose_frame_is_reused_by_a_migrated_ksm_page():
    """A stable node does not pin its frame (§1.9): once its KSM page is freed, the frame
    can be reused, even as the new frame of another node's KSM page by migration. The old
    node is then simply stale (its keyhole check fails) and goes at the next look."""
    k = Kernel(nodes=2)
    k.sysfs.write("merge_across_nodes", 0)
    a = k.spawn("a")
    b = k.spawn("b")
    a_base = make_mergeable(k, a, 2, ["alpha"] * 2, node=0)
    make_mergeable(k, b, 2, ["alpha"] * 2, node=1)
    start(k)
    passes(k, 2)
    assert_counters(k, shared=2, sharing=2)
    s0 = stable_node_of(k, k.page_at(a, a_base).pfn)
    (s1,) = [n for n in k.ksm.stable_nodes() if n is not s0]
    assert (s0.nid, s1.nid) == (0, 1)

    b.exit()  # b's KSM page is freed; s1 stays in tree 1 until someone looks
    k.check()
    stale_kpfn = s1.kpfn
    new = k.migrate(a, a_base, node=1)
    # Node 1's most recently freed frame is the one b's KSM page had.
    assert new == stale_kpfn, "scenario needs the frame to be reused"
    assert s0.kpfn == new
    k.check()

    passes(k, 1)
    assert_counters(k, shared=1, sharing=1)
    assert [(n.kpfn, n.nid) for n in k.ksm.stable_nodes()] == [(new, 1)]
    assert k.ksm.migrate_nodes == []
    assert [a.read(a_base + i * PS) for i in range(2)] == [page("alpha")] * 2


def _page_faulted_in_by_child():
    """p1 and its child p2 share an ordinary page; it is swapped out and freed from the
    swap cache; p2 then p1 fault it back in from the swap slot (same anon_vma root, same
    offset: no copy, §8.2), so both map one frame again."""
    k = Kernel(nodes=2)
    p1 = k.spawn("p1")
    base = p1.mmap(1, node=0)
    p1.write(base, b"shared")
    p2 = p1.fork("p2")
    assert k.swap_out(p1, base) == 2
    assert k.reclaim() == 1
    k.check()
    assert p2.read(base) == page("shared")
    assert p1.read(base) == page("shared")
    k.check()
    assert k.page_at(p1, base).pfn == k.page_at(p2, base).pfn
    return k, p1, p2, base


def test_swap_out_reaches_every_mapper_of_a_page_faulted_in_by_a_child():
    k, p1, p2, base = _page_faulted_in_by_child()
    assert k.swap_out(p1, base) == 2
    k.check()
    assert pte_kind(p1, base) == "SwapEntry"
    assert pte_kind(p2, base) == "SwapEntry"
    assert p1.read(base) == page("shared") and p2.read(base) == page("shared")


def test_migrate_reaches_every_mapper_of_a_page_faulted_in_by_a_child():
    k, p1, p2, base = _page_faulted_in_by_child()
    new = k.migrate(p1, base, node=1)
    k.check()
    for p in (p1, p2):
        pg = k.page_at(p, base)
        assert (pg.pfn, pg.nid) == (new, 1)
        assert p.read(base) == page("shared")
