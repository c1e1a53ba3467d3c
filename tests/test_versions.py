"""Kernel versions and the post-3.9 changes: each switch's effect, and its absence."""

from __future__ import annotations

import errno

import pytest

from ksmlab import CHANGES, MADV_MERGEABLE, PAGE_SIZE, VERSIONS, Changes, Fixes, Kernel
from ksmlab.changes import ADDED_AFTER_3_9
from ksmlab.errors import KernelError
from ksmlab.live import get
from ksmlab.live.model import run_model

WHAT_IF = {c.name: Changes.of("6.18").without(c.name) for c in CHANGES}


def _run(name, changes=None, version="6.18"):
    return run_model(get(name), version=version, changes=changes)


def _at(obs, step):
    return next(o for o in obs if o.step == step)


# -- the data ------------------------------------------------------------------------------


def test_every_change_is_data_with_commit_and_release():
    assert [c.name for c in CHANGES] == list(Changes.names())
    for c in CHANGES:
        # a 12-digit id, or said plainly where none could be checked (never a guess)
        assert (len(c.commit) == 12 and int(c.commit, 16) >= 0) or c.commit == (
            "id not verified"), c
        assert c.release.count(".") == 1 and c.summary
    assert {c.name: c.commit for c in CHANGES}["stale_node_restart"] == "id not verified"
    assert {c.name: c.commit for c in CHANGES}["checksum_first"] == "d58a361b0350"
    assert {c.name: c.commit for c in CHANGES}["stable_node_chains"] == "2c653d0ee2ae"
    assert VERSIONS == {"3.9": (), "6.18": Changes.names()}


def test_versions_are_presets():
    assert Kernel().version == "3.9" and Kernel().changes == Changes()
    k = Kernel(version="6.18")
    assert k.changes == Changes.of("6.18") and all(getattr(k.changes, n) for n in Changes.names())
    assert repr(Kernel(nodes=1)) == "<Kernel nodes=1 Fixes.all()>"  # as before
    what_if = Kernel(version="6.18", changes=WHAT_IF["checksum_first"])
    assert "without('checksum_first')" in repr(what_if)
    assert Changes.of("6.18").without("checksum_first").with_("checksum_first").version() == "6.18"


@pytest.mark.parametrize("bad", ["4.0", "6.18.1", "", "latest"])
def test_unknown_version_names_the_known_ones(bad):
    with pytest.raises(ValueError, match=r"unknown kernel version .*known: 3\.9, 6\.18"):
        Kernel(version=bad)


def test_bad_changes_are_refused():
    with pytest.raises(TypeError, match="version must be a str"):
        Kernel(version=6.18)
    with pytest.raises(TypeError, match="changes must be a Changes"):
        Kernel(changes=Fixes.all())
    with pytest.raises(ValueError, match="unknown change 'smart_scan'"):
        Changes.of("6.18").without("smart_scan")
    with pytest.raises(TypeError, match="must be a bool"):
        Changes(checksum_first=1)


def test_a_39_world_describes_itself_as_before():
    k = Kernel(nodes=1)
    assert not any(line.startswith("changes ") for line in k.world.describe())
    assert any(line.startswith("changes ") for line in Kernel(version="6.18").world.describe())


# -- checksum_first (d58a361b0350, 6.11) -----------------------------------------------------


def test_checksum_first_makes_a_new_page_wait_a_pass():
    on, off = _run("merge-into-existing"), _run("merge-into-existing", WHAT_IF["checksum_first"])
    # step 8: b's first pass; its X equals a's KSM page
    assert _at(on, 8).procs["b"]["ksm_merging_pages"] == 0
    assert _at(on, 8).counters["pages_volatile"] == 2
    assert _at(off, 8).procs["b"]["ksm_merging_pages"] == 1
    assert _at(off, 8).counters["pages_volatile"] == 1
    assert _at(on, 9).counters == _at(off, 9).counters  # one pass later they agree


def test_checksum_first_cases_each_wait_a_pass():
    on = _run("checksum-first-cases")
    off = _run("checksum-first-cases", WHAT_IF["checksum_first"])
    differ = [o.step for o, f in zip(on, off, strict=True) if o.counters != f.counters]
    assert differ == [8, 12, 16]  # re-madvised, the fork's write, the write-backs
    for s in differ:
        assert _at(on, s).counters["pages_sharing"] < _at(off, s).counters["pages_sharing"]
        assert _at(on, s + 1).counters == _at(off, s + 1).counters


# -- stale_node_restart (4.5) -------------------------------------------------------------


def test_stale_node_restart_finds_the_match_behind_a_stale_node():
    on = _run("stale-stable-node")
    off = _run("stale-stable-node", WHAT_IF["stale_node_restart"])
    # step 14: the pass after b's unmerge; c's Z meets M's stale node at the root
    assert _at(on, 14).procs["c"]["ksm_merging_pages"] == 1
    assert _at(on, 14).counters["pages_unshared"] == 1
    assert _at(off, 14).procs["c"]["ksm_merging_pages"] == 0
    assert _at(off, 14).counters["pages_unshared"] == 2
    assert [o.step for o, f in zip(on, off, strict=True) if o.counters != f.counters] == [14]


def test_stable_tree_insert_restarts_too():
    """stable_tree_insert on a tree whose root is stale: 3.9 gives up (None), 4.5+
    starts the descent again and links the new node."""
    from ksmlab.ksm.stable import stable_tree_insert
    from ksmlab.sched.locks import trylock_page
    from ksmlab.sched.run import run_to_completion

    def insert(changes):
        k = Kernel(nodes=1, version="6.18", changes=changes)
        k.sysfs.write("run", 1)
        a = k.spawn("a")
        base = a.mmap(5)
        for i, c in enumerate([b"M", b"M", b"N", b"N", b"Q"]):
            a.write(base + i * PAGE_SIZE, c)
        a.madvise(base, 5, MADV_MERGEABLE)
        k.ksmd.passes(2)
        root = k.ksm.root_stable_tree[0].rb_node
        assert k.page_at(a, base).pfn == root.kpfn  # M's node is the root
        a.write(base, b"m1")
        a.write(base + PAGE_SIZE, b"m2")  # M's KSM page is freed: the root is stale
        q = k.page_at(a, base + 4 * PAGE_SIZE)
        assert trylock_page(k.world, q)
        return k, run_to_completion(k.world, "ksmd", stable_tree_insert, k.world, q)

    k, node = insert(None)
    assert node is not None and k.ksm.root_stable_tree[0].nodes[-1] is node
    k, node = insert(WHAT_IF["stale_node_restart"])
    assert node is None
    assert len(k.ksm.root_stable_tree[0].nodes) == 1  # the stale root went all the same


# -- stable_node_chains (2c653d0ee2ae, 4.13) ------------------------------------------------


def test_chains_split_a_content_at_max_page_sharing():
    on = _run("max-page-sharing")
    off = _run("max-page-sharing", WHAT_IF["stable_node_chains"])
    c = {k: _at(on, 8).counters[k] for k in (
        "pages_shared", "pages_sharing", "pages_unshared", "stable_node_chains",
        "stable_node_dups")}
    assert c == {"pages_shared": 2, "pages_sharing": 4, "pages_unshared": 3,
                 "stable_node_chains": 1, "stable_node_dups": 2}
    c_off = {k: _at(off, 8).counters[k] for k in c}
    assert c_off == {"pages_shared": 1, "pages_sharing": 6, "pages_unshared": 2,
                     "stable_node_chains": 0, "stable_node_dups": 0}
    # EBUSY while shared, EINVAL below 2, on both
    assert _at(on, 3).result == _at(off, 3).result == "EINVAL"
    assert _at(on, 9).result == _at(off, 9).result == "EBUSY"
    # the writes break five X out: one dup is pruned, the chain collapses
    assert (_at(on, 11).counters["stable_node_chains"], _at(on, 11).counters[
        "stable_node_dups"]) == (0, 0)


def test_default_limit_is_256():
    on = _run("past-256-sharers")
    assert (_at(on, 4).counters["pages_shared"], _at(on, 4).counters["pages_sharing"]) == (2, 298)
    old = _run("past-256-sharers", version="3.9")
    assert (_at(old, 4).counters["pages_shared"], _at(old, 4).counters["pages_sharing"]) == (1, 299)


def test_no_merging_into_a_node_without_rmap_items():
    on = _run("orphaned-ksm-page")
    off = _run("orphaned-ksm-page", WHAT_IF["stable_node_chains"])
    assert on[-1].procs["a"]["ksm_merging_pages"] == 0
    assert on[-1].counters["pages_unshared"] == 2
    assert off[-1].procs["a"]["ksm_merging_pages"] == 1


def test_chain_best_dup_collapses_a_chain_left_with_one_full_dup():
    on = _run("chain-collapse")
    off = _run("chain-collapse", WHAT_IF["chain_best_dup"])
    chains = [(o.counters["stable_node_chains"], o.counters["stable_node_dups"]) for o in on]
    chains_off = [(o.counters["stable_node_chains"], o.counters["stable_node_dups"])
                  for o in off]
    assert chains[8:] == [(1, 2), (1, 1), (0, 0), (0, 0)]  # rows 8..11
    assert chains_off[8:] == [(1, 2), (1, 1), (1, 1), (1, 1)]
    for o, f in zip(on, off, strict=True):  # the pages and the other counters agree
        assert {k: v for k, v in o.counters.items() if "stable_node" not in k} == {
            k: v for k, v in f.counters.items() if "stable_node" not in k}


def test_chain_pruning_runs_on_the_logical_clock():
    """Between two searches the clock moves on by sleep_millisecs per ksmd wake-up: a
    chain is pruned only once the interval has passed."""
    k = Kernel(nodes=1, version="6.18")
    k.sysfs.write("max_page_sharing", 2)
    k.sysfs.write("run", 1)
    a = k.spawn("a")
    base = a.mmap(5)
    for i in range(5):
        a.write(base + i * PAGE_SIZE, b"X")
    a.madvise(base, 5, MADV_MERGEABLE)
    k.ksmd.passes(2)
    assert (k.sysfs.read("stable_node_chains"), k.sysfs.read("stable_node_dups")) == (1, 2)
    chain = k.ksm.stable_chains()[0]
    t0 = chain.prune_time
    assert t0 <= k.ksm.jiffies
    a.write(base, b"other")  # a dup loses a sharer; searches meet the chain again
    k.ksmd.passes(1)
    assert chain.prune_time == t0  # 2000 ms have not passed
    k.sysfs.write("stable_node_chains_prune_millisecs", 0)
    k.ksmd.passes(1)
    assert chain.prune_time == k.ksm.jiffies
    k.check()


def test_chain_invariant_catches_a_miscount():
    k = Kernel(nodes=1, version="6.18")
    k.ksm.stable_node_dups = 1
    with pytest.raises(Exception, match="stable_node_chains/dups are 0/1"):
        k.check()
    k39 = Kernel(nodes=1)
    k39.ksm.stable_node_chains = 1
    with pytest.raises(Exception, match="chains in a kernel without them"):
        k39.check()


# -- sysfs_6_18 -----------------------------------------------------------------------------


def test_sysfs_618_knobs_and_parsers():
    new, old = Kernel(version="6.18"), Kernel(version="6.18", changes=WHAT_IF["sysfs_6_18"])
    assert "advisor_mode" in new.sysfs.names() and "advisor_mode" not in old.sysfs.names()
    assert new.sysfs.read("advisor_mode") == "[none] scan-time"
    assert new.sysfs.write("smart_scan", "d") == 1 and new.sysfs.read("smart_scan") == 0
    # without the 6.18 sysfs the files added after 3.9 are not there at all
    later = set(new.sysfs.names()) - set(old.sysfs.names())
    assert later == set(ADDED_AFTER_3_9) - {"/proc/PID/ksm_stat"}
    assert old.sysfs.names() == Kernel(version="3.9").sysfs.names()
    with pytest.raises(KernelError) as e:
        old.sysfs.write("smart_scan", "d")
    assert e.value.errno == errno.ENOENT
    assert new.sysfs.write("pages_to_scan", b"0" * 4096 + b"1") == 4096
    assert old.sysfs.write("pages_to_scan", b"0" * 4096 + b"1") == 4095
    new.sysfs.write("advisor_mode", "scan-time\n")
    assert new.sysfs.read("pages_to_scan") == 500
    with pytest.raises(KernelError) as e:
        new.sysfs.write("pages_to_scan", 10)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(KernelError) as e:
        old.sysfs.read("advisor_mode")
    assert e.value.errno == errno.ENOENT


def test_ksm_stat_per_version():
    """/proc/PID/ksm_stat (6.1): ENOENT on 3.9; on 6.18 every line, the counts as the model
    keeps them in both profiles (``ksm_counts``)."""
    for version in ("3.9", "6.18"):
        k = Kernel(nodes=1, version=version)
        p = k.spawn("p")
        base = p.mmap(2)
        p.write(base, b"x")
        p.write(base + PAGE_SIZE, b"x")
        p.madvise(base, 2, MADV_MERGEABLE)
        k.sysfs.write("run", 1)
        k.ksmd.passes(3 if version == "6.18" else 2)  # checksum_first waits a pass
        assert p.ksm_counts() == {"ksm_rmap_items": 2, "ksm_merging_pages": 2,
                                  "ksm_process_profit": 2 * PAGE_SIZE - 2 * 64}
        if version == "3.9":
            with pytest.raises(KernelError) as e:
                p.ksm_stat()
            assert e.value.errno == errno.ENOENT
            continue
        stat = p.ksm_stat()
        assert list(stat) == ["ksm_rmap_items", "ksm_zero_pages", "ksm_merging_pages",
                              "ksm_process_profit", "ksm_merge_any", "ksm_mergeable"]
        assert {n: stat[n] for n in p.ksm_counts()} == p.ksm_counts()
        assert (stat["ksm_zero_pages"], stat["ksm_merge_any"], stat["ksm_mergeable"]) == (
            0, "no", "yes")


# -- the two profiles side by side -----------------------------------------------------------


@pytest.mark.parametrize("name", ["duplicates", "fork-cow", "run2-remerge", "big"])
def test_profiles_agree_where_nothing_changed(name):
    a, b = _run(name, version="3.9"), _run(name)
    assert [(o.counters, o.procs, o.read) for o in a] == [(o.counters, o.procs, o.read) for o in b]


def test_profiles_differ_where_a_change_shows():
    a, b = _run("merge-into-existing", version="3.9"), _run("merge-into-existing")
    assert [o.step for o, p in zip(a, b, strict=True) if o.counters != p.counters] == [8]
    assert (_at(a, 8).counters["pages_sharing"], _at(b, 8).counters["pages_sharing"]) == (2, 1)


def test_fixes_work_with_both_profiles():
    """A 2013 fix turned off changes the outcome on 6.18 as on 3.9: a stable node kept
    by a KSM page mapped where KSM does not look (see orphaned-ksm-page) makes the
    merge_across_nodes switch fail with EBUSY (cbf86cfe04a6); without
    stable_node_removal the switch goes through and leaves the node behind."""
    from ksmlab.live.model import ModelBackend
    from ksmlab.live.observe import execute
    from ksmlab.live.workload import Workload

    steps = get("orphaned-ksm-page").steps[:13] + [("sysfs", "merge_across_nodes", 0)]
    for version in VERSIONS:
        got = {}
        for fixes in (Fixes.all(), Fixes.all().without("stable_node_removal")):
            side = ModelBackend(nodes=2, version=version, fixes=fixes)
            obs = execute(Workload("w", "", steps), side)
            got[fixes] = (obs[-1].result, len(side.k.ksm.stable_nodes()))
        assert got == {Fixes.all(): ("EBUSY", 1),
                       Fixes.all().without("stable_node_removal"): ("ok", 1)}, version
