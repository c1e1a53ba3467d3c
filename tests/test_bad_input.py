"""Bad input to every public entry point: exact exception type and errno, a message, and
no change to the model.

Every facade case runs against the same non-trivial world (merged, unshared, swapped-out
and never-written pages, an exited process whose rmap_items ksmd has not dropped yet,
and a process of another Kernel), again with ksmd stopped (run=0) and on a world paused
in the middle of a migration (migration entries in the page tables), and compares a full
snapshot (sysfs, stable nodes, every present page's frame and content, PTE kinds,
per-process ksm_stat, dmesg and the model fingerprint) before and after; k.check() must
pass after. The explorer's entry points (explore, replay, Scheduler, Schedule) and the
sysfs panel get their own table at the end.
"""

from __future__ import annotations

import errno

import pytest
from ksmtest import snapshot

import ksmlab
from ksmlab import (
    MADV_MERGEABLE,
    MADV_UNMERGEABLE,
    PAGE_SIZE,
    Fixes,
    Kernel,
    KernelError,
    Schedule,
    ScheduleError,
    Scheduler,
)
from ksmlab.check.invariants import first_violation

PS = PAGE_SIZE

# (id, call(world), exception type, errno or None)
CASES = [
    # spawn
    ("spawn-int", lambda w: w.k.spawn(5), TypeError, None),
    ("spawn-bytes", lambda w: w.k.spawn(b"x"), TypeError, None),
    ("spawn-none", lambda w: w.k.spawn(None), TypeError, None),
    ("spawn-empty", lambda w: w.k.spawn(""), ValueError, None),
    ("spawn-used", lambda w: w.k.spawn("world-a"), ValueError, None),
    ("spawn-used-2", lambda w: w.k.spawn("world-b"), ValueError, None),
    # mmap
    ("mmap-bool", lambda w: w.a.mmap(True), TypeError, None),
    ("mmap-float", lambda w: w.a.mmap(1.0), TypeError, None),
    ("mmap-str", lambda w: w.a.mmap("1"), TypeError, None),
    ("mmap-none", lambda w: w.a.mmap(None), TypeError, None),
    ("mmap-zero", lambda w: w.a.mmap(0), KernelError, errno.EINVAL),
    ("mmap-negative", lambda w: w.a.mmap(-1), KernelError, errno.EINVAL),
    ("mmap-huge", lambda w: w.a.mmap((1 << 20) + 1), KernelError, errno.ENOMEM),
    ("mmap-huger", lambda w: w.a.mmap(1 << 40), KernelError, errno.ENOMEM),
    ("mmap-node-2", lambda w: w.a.mmap(1, node=2), KernelError, errno.EINVAL),
    ("mmap-node-neg", lambda w: w.a.mmap(1, node=-1), KernelError, errno.EINVAL),
    ("mmap-node-str", lambda w: w.a.mmap(1, node="0"), TypeError, None),
    ("mmap-node-float", lambda w: w.a.mmap(1, node=0.0), TypeError, None),
    ("mmap-exited", lambda w: w.dead.mmap(1), KernelError, errno.ESRCH),
    # write
    ("write-addr-str", lambda w: w.a.write("0", b"x"), TypeError, None),
    ("write-addr-float", lambda w: w.a.write(float(w.a_base), b"x"), TypeError, None),
    ("write-addr-none", lambda w: w.a.write(None, b"x"), TypeError, None),
    ("write-unaligned", lambda w: w.a.write(w.a_base + 1, b"x"), ValueError, None),
    ("write-unaligned-2", lambda w: w.a.write(w.a_base + PS - 1, b"x"), ValueError, None),
    ("write-past-end", lambda w: w.a.write(w.a_base + 8 * PS, b"x"), KernelError, errno.EFAULT),
    ("write-before", lambda w: w.a.write(w.a_base - PS, b"x"), KernelError, errno.EFAULT),
    ("write-zero", lambda w: w.a.write(0, b"x"), KernelError, errno.EFAULT),
    ("write-data-str", lambda w: w.a.write(w.a_base, "x"), TypeError, None),
    ("write-data-memoryview", lambda w: w.a.write(w.a_base, memoryview(b"x")), TypeError, None),
    ("write-data-list", lambda w: w.a.write(w.a_base, [1]), TypeError, None),
    ("write-data-none", lambda w: w.a.write(w.a_base, None), TypeError, None),
    ("write-data-int", lambda w: w.a.write(w.a_base, 7), TypeError, None),
    ("write-too-long", lambda w: w.a.write(w.a_base, bytes(PS + 1)), ValueError, None),
    ("write-too-long-ba", lambda w: w.b.write(w.b_base, bytearray(PS * 2)), ValueError, None),
    ("write-exited", lambda w: w.dead.write(w.a_base, b"x"), KernelError, errno.ESRCH),
    # read
    ("read-addr-str", lambda w: w.a.read("0"), TypeError, None),
    ("read-addr-float", lambda w: w.a.read(float(w.a_base)), TypeError, None),
    ("read-unaligned", lambda w: w.a.read(w.a_base + 8), ValueError, None),
    ("read-past-end", lambda w: w.a.read(w.a_base + 8 * PS), KernelError, errno.EFAULT),
    ("read-before", lambda w: w.b.read(w.b_base - PS), KernelError, errno.EFAULT),
    ("read-zero", lambda w: w.a.read(0), KernelError, errno.EFAULT),
    ("read-exited", lambda w: w.dead.read(w.a_base), KernelError, errno.ESRCH),
    # madvise
    (
        "madvise-unaligned",
        lambda w: w.a.madvise(w.a_base + 1, 1, MADV_UNMERGEABLE),
        KernelError,
        errno.EINVAL,
    ),
    (
        "madvise-negative",
        lambda w: w.a.madvise(w.a_base, -1, MADV_UNMERGEABLE),
        KernelError,
        errno.EINVAL,
    ),
    (
        "madvise-past-end-un",
        lambda w: w.a.madvise(w.a_base, 9, MADV_UNMERGEABLE),
        KernelError,
        errno.ENOMEM,
    ),
    (
        "madvise-past-end-merge",
        lambda w: w.b.madvise(w.b_base + PS, 4, MADV_MERGEABLE),
        KernelError,
        errno.ENOMEM,
    ),
    (
        "madvise-before",
        lambda w: w.a.madvise(w.a_base - PS, 3, MADV_UNMERGEABLE),
        KernelError,
        errno.ENOMEM,
    ),
    ("madvise-unmapped", lambda w: w.a.madvise(0, 1, MADV_MERGEABLE), KernelError, errno.ENOMEM),
    ("madvise-advice-99", lambda w: w.a.madvise(w.a_base, 1, 99), KernelError, errno.EINVAL),
    ("madvise-advice-neg", lambda w: w.a.madvise(w.a_base, 1, -1), KernelError, errno.EINVAL),
    (
        "madvise-exited",
        lambda w: w.dead.madvise(w.a_base, 1, MADV_UNMERGEABLE),
        KernelError,
        errno.ESRCH,
    ),
    # fork / exit
    ("fork-exited", lambda w: w.dead.fork("child-of-dead"), KernelError, errno.ESRCH),
    ("exit-exited", lambda w: w.dead.exit(), KernelError, errno.ESRCH),
    # swap_out
    ("swap-unmapped", lambda w: w.k.swap_out(w.a, w.a_base + 8 * PS), KernelError, errno.EFAULT),
    (
        "swap-never-written",
        lambda w: w.k.swap_out(w.b, w.b_base + 3 * PS),
        KernelError,
        errno.ENOENT,
    ),
    ("swap-already-swapped", lambda w: w.k.swap_out(w.b, w.b_base + PS), KernelError, errno.ENOENT),
    ("swap-exited", lambda w: w.k.swap_out(w.dead, w.a_base), KernelError, errno.ESRCH),
    # migrate
    (
        "migrate-unmapped",
        lambda w: w.k.migrate(w.a, w.a_base - PS, node=1),
        KernelError,
        errno.EFAULT,
    ),
    (
        "migrate-never-written",
        lambda w: w.k.migrate(w.b, w.b_base + 3 * PS, node=0),
        KernelError,
        errno.ENOENT,
    ),
    (
        "migrate-swapped",
        lambda w: w.k.migrate(w.b, w.b_base + PS, node=0),
        KernelError,
        errno.ENOENT,
    ),
    ("migrate-node-2", lambda w: w.k.migrate(w.a, w.a_base, node=2), KernelError, errno.ENODEV),
    ("migrate-node-neg", lambda w: w.k.migrate(w.a, w.a_base, node=-1), KernelError, errno.ENODEV),
    ("migrate-exited", lambda w: w.k.migrate(w.dead, w.a_base, node=1), KernelError, errno.ESRCH),
    # ksmd and sysfs
    ("scan-negative", lambda w: w.k.ksmd.scan(pages=-1), ValueError, None),
    ("sysfs-read-unknown", lambda w: w.k.sysfs.read("pages_merged"), KernelError, errno.ENOENT),
    (
        "sysfs-write-unknown",
        lambda w: w.k.sysfs.write("pages_merged", 1),
        KernelError,
        errno.ENOENT,
    ),
    ("sysfs-write-counter", lambda w: w.k.sysfs.write("full_scans", 0), KernelError, errno.EACCES),
    ("sysfs-write-run-3", lambda w: w.k.sysfs.write("run", 3), KernelError, errno.EINVAL),
    ("sysfs-write-bool", lambda w: w.k.sysfs.write("run", True), TypeError, None),
    (
        "sysfs-mac-busy",
        lambda w: w.k.sysfs.write("merge_across_nodes", 0),
        KernelError,
        errno.EBUSY,
    ),
    ("sysfs-read-none", lambda w: w.k.sysfs.read(None), TypeError, None),
    ("sysfs-write-none", lambda w: w.k.sysfs.write("run", None), TypeError, None),
    ("sysfs-write-float", lambda w: w.k.sysfs.write("pages_to_scan", 1.5), TypeError, None),
    (
        "sysfs-write-text",
        lambda w: w.k.sysfs.write("pages_to_scan", "x"),
        KernelError,
        errno.EINVAL,
    ),
    ("scan-bool", lambda w: w.k.ksmd.scan(True), TypeError, None),
    ("scan-float", lambda w: w.k.ksmd.scan(1.0), TypeError, None),
    ("passes-negative", lambda w: w.k.ksmd.passes(-1), ValueError, None),
    ("passes-none", lambda w: w.k.ksmd.passes(None), TypeError, None),
    ("passes-bool", lambda w: w.k.ksmd.passes(True), TypeError, None),
    ("passes-float", lambda w: w.k.ksmd.passes(2.0), TypeError, None),
    # process
    ("process-unknown", lambda w: w.k.process("nope"), ValueError, None),
    ("process-none", lambda w: w.k.process(None), TypeError, None),
    ("process-int", lambda w: w.k.process(1), TypeError, None),
    # page_at
    ("page_at-none", lambda w: w.k.page_at(None, w.a_base), TypeError, None),
    ("page_at-name", lambda w: w.k.page_at("world-a", w.a_base), TypeError, None),
    ("page_at-addr-str", lambda w: w.k.page_at(w.a, "0"), TypeError, None),
    ("page_at-addr-none", lambda w: w.k.page_at(w.a, None), TypeError, None),
    ("page_at-exited", lambda w: w.k.page_at(w.dead, w.a_base), KernelError, errno.ESRCH),
    # pte
    ("pte-addr-str", lambda w: w.a.pte("0"), TypeError, None),
    ("pte-addr-bool", lambda w: w.a.pte(True), TypeError, None),
    # swap_out / migrate argument types
    ("swap-none", lambda w: w.k.swap_out(None, w.a_base), TypeError, None),
    ("swap-addr-float", lambda w: w.k.swap_out(w.a, float(w.a_base)), TypeError, None),
    ("swap-unaligned", lambda w: w.k.swap_out(w.a, w.a_base + 1), ValueError, None),
    ("migrate-none", lambda w: w.k.migrate(None, w.a_base, 1), TypeError, None),
    ("migrate-node-str", lambda w: w.k.migrate(w.a, w.a_base, "1"), TypeError, None),
    ("migrate-node-bool", lambda w: w.k.migrate(w.a, w.a_base, True), TypeError, None),
    ("migrate-unaligned", lambda w: w.k.migrate(w.a, w.a_base + 8, 1), ValueError, None),
    # another Kernel's process, its page present, swapped out or never written
    ("page_at-alien", lambda w: w.k.page_at(w.alien, w.alien_base), ValueError, None),
    ("swap-alien", lambda w: w.k.swap_out(w.alien, w.alien_base), ValueError, None),
    ("swap-alien-swapped", lambda w: w.k.swap_out(w.alien, w.alien_base + PS), ValueError, None),
    ("migrate-alien", lambda w: w.k.migrate(w.alien, w.alien_base, 1), ValueError, None),
    ("migrate-alien-same-node", lambda w: w.k.migrate(w.alien, w.alien_base, 0), ValueError, None),
    # whose process it is is checked first
    ("migrate-alien-bad-node", lambda w: w.k.migrate(w.alien, w.alien_base, 7), ValueError, None),
    ("page_at-alien-exited", lambda w: w.k.page_at(w.alien_dead, 0), ValueError, None),
    ("swap-alien-exited", lambda w: w.k.swap_out(w.alien_dead, w.alien_base), ValueError, None),
]

# With ksmd stopped (run=0 written after the world was built).
STOPPED_CASES = [
    ("scan-stopped", lambda w: w.k.ksmd.scan(), ValueError, None),
    ("scan-pages-stopped", lambda w: w.k.ksmd.scan(pages=5), ValueError, None),
    ("full_scan-stopped", lambda w: w.k.ksmd.full_scan(), ValueError, None),
    ("passes-stopped", lambda w: w.k.ksmd.passes(1), ValueError, None),
    ("passes-negative-stopped", lambda w: w.k.ksmd.passes(-1), ValueError, None),
]


def _check_refusal(ei, exc, err):
    assert type(ei.value) is exc or (exc is KernelError and isinstance(ei.value, KernelError))
    if err is not None:
        assert ei.value.errno == err
    if exc is not KernelError:
        assert not isinstance(ei.value, KernelError)
    assert str(ei.value).strip(), "the error has no message"


@pytest.fixture
def rich(world):
    """The world, with a process of another Kernel: a present page, a swapped-out one, a
    never-written one; and an exited process of that Kernel."""
    other = Kernel(nodes=2)
    world.other = other
    world.alien = other.spawn("world-a")  # the same name as a process of world.k
    world.alien_base = world.alien.mmap(3)
    world.alien.write(world.alien_base, b"X")
    world.alien.write(world.alien_base + PS, b"alien")
    assert other.swap_out(world.alien, world.alien_base + PS) == 1
    world.alien_dead = other.spawn("alien-dead")
    world.alien_dead.exit()
    other.check()
    return world


def _other_snapshot(w):
    return snapshot(w.other, {w.alien: [(w.alien_base, 3)], w.alien_dead: []})


@pytest.mark.parametrize(("call", "exc", "err"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_leaves_state_unchanged(rich, call, exc, err):
    before, other = rich.snapshot(), _other_snapshot(rich)
    with pytest.raises(exc) as ei:
        call(rich)
    _check_refusal(ei, exc, err)
    assert rich.snapshot() == before
    assert _other_snapshot(rich) == other
    rich.k.check()
    rich.other.check()


@pytest.mark.parametrize(
    ("call", "exc", "err"),
    [c[1:] for c in STOPPED_CASES + CASES],
    ids=[c[0] for c in STOPPED_CASES + CASES],
)
def test_bad_input_with_ksmd_stopped(rich, call, exc, err):
    rich.k.sysfs.write("run", 0)
    before = rich.snapshot()
    with pytest.raises(exc) as ei:
        call(rich)
    _check_refusal(ei, exc, err)
    assert rich.snapshot() == before
    rich.k.check()


class _Migrating:
    """A world paused inside migrate_pages(): the KSM page is locked and every mapping of
    it is a migration entry (migration_during_break_ksm after M*3)."""

    def __init__(self):
        self.sched = Scheduler("migration_during_break_ksm", Fixes.all())
        self.sched.run("M*3")
        self.k = self.sched.kernel
        self.p, self.q = self.k.process("P"), self.k.process("Q")
        self.addr = self.sched.scenario.p_addr
        assert type(self.p.pte(self.addr)).__name__ == "MigrationEntry"

    def snapshot(self):
        maps = {
            p: [(v.start, (v.end - v.start) // PS) for v in p.mm.vmas] for p in self.k.processes
        }
        return snapshot(self.k, maps)


MIGRATING_CASES = [
    ("migrating-swap", lambda m: m.k.swap_out(m.p, m.addr), KernelError, errno.ENOENT),
    ("migrating-migrate", lambda m: m.k.migrate(m.q, m.sched.scenario.q_addr, 0), KernelError,
     errno.ENOENT),
    ("migrating-migrate-node", lambda m: m.k.migrate(m.p, m.addr, 2), KernelError, errno.ENODEV),
    ("migrating-page_at-other", lambda m: m.k.page_at(Kernel().spawn("P"), m.addr), ValueError,
     None),
    ("migrating-swap-other", lambda m: m.k.swap_out(_migrating_other().p, m.addr), ValueError,
     None),
    ("migrating-write-unaligned", lambda m: m.p.write(m.addr + 1, b"x"), ValueError, None),
    ("migrating-read-str", lambda m: m.p.read(str(m.addr)), TypeError, None),
    ("migrating-madvise-advice", lambda m: m.p.madvise(m.addr, 1, 99), KernelError, errno.EINVAL),
    ("migrating-mmap-bool", lambda m: m.p.mmap(True), TypeError, None),
    ("migrating-fork-used", lambda m: m.p.fork("Q"), ValueError, None),
    ("migrating-sysfs-unknown", lambda m: m.k.sysfs.write("nope", 1), KernelError, errno.ENOENT),
    ("migrating-passes-neg", lambda m: m.k.ksmd.passes(-1), ValueError, None),
    ("migrating-process", lambda m: m.k.process("R"), ValueError, None),
]


def _migrating_other():
    """Another world paused in the same migration: its P maps a migration entry too."""
    other = _Migrating()
    other.sched.close()
    return other


@pytest.mark.parametrize(
    ("call", "exc", "err"), [c[1:] for c in MIGRATING_CASES], ids=[c[0] for c in MIGRATING_CASES]
)
def test_bad_input_in_the_middle_of_a_migration(call, exc, err):
    m = _Migrating()
    try:
        before = m.snapshot()
        with pytest.raises(exc) as ei:
            call(m)
        _check_refusal(ei, exc, err)
        assert m.snapshot() == before
        assert first_violation(m.k.world, quiescent=False) is None
        # the paused migration still completes, and the unmerge after it
        while m.sched.runnable():
            m.sched.step(m.sched.runnable()[0])
        assert m.sched.finished and m.sched.oops is None
        m.k.check()
    finally:
        m.sched.close()


def test_swap_out_of_another_kernels_page_is_refused_and_both_survive():
    """The data loss this check prevents: k1.swap_out(b, addr) for b of k2 returned 1, k1
    then oopsed and b.read() raised KeyError."""
    k1, k2 = Kernel(), Kernel()
    k1.spawn("a")
    b = k2.spawn("b")
    addr = b.mmap(1)
    b.write(addr, b"data")
    for call in (
        lambda: k1.swap_out(b, addr),
        lambda: k1.migrate(b, addr, 1),
        lambda: k1.page_at(b, addr),
    ):
        with pytest.raises(ValueError, match="proc 'b' belongs to another Kernel"):
            call()
    k1.check()
    k2.check()
    assert b.read(addr).rstrip(b"\0") == b"data"
    assert k2.page_at(b, addr).nid == 0


def test_world_counters_as_expected(world):
    """The starting point of the cases above, derived by hand from the 3.9 rules."""
    k = world.k
    got = {
        n: k.sysfs.read(n)
        for n in ("pages_shared", "pages_sharing", "pages_unshared", "pages_volatile", "full_scans")
    }
    assert got == {
        "pages_shared": 2,
        "pages_sharing": 11,
        "pages_unshared": 4,
        "pages_volatile": 2,
        "full_scans": 3,
    }


@pytest.mark.parametrize("advice", [MADV_MERGEABLE, MADV_UNMERGEABLE])
def test_madvise_zero_pages_is_a_successful_no_op(world, advice):
    before = world.snapshot()
    assert world.a.madvise(world.a_base, 0, advice) is None
    assert world.b.madvise(world.b_base + 3 * PS, 0, advice) is None
    assert world.snapshot() == before
    world.k.check()


def test_failed_madvise_mergeable_registers_nothing():
    """ENOMEM from a range with a hole: the mapped part must not have been made mergeable."""
    k = Kernel()
    a = k.spawn("a")
    base = a.mmap(4)
    for i in range(4):
        a.write(base + i * PS, b"dup")
    with pytest.raises(KernelError) as ei:
        a.madvise(base, 5, MADV_MERGEABLE)
    assert ei.value.errno == errno.ENOMEM
    k.check()
    k.sysfs.write("run", 1)
    for _ in range(3):
        k.ksmd.full_scan()
        k.check()
    assert k.sysfs.read("pages_shared") == 0
    assert k.sysfs.read("pages_volatile") == 0
    assert a.ksm_counts()["ksm_rmap_items"] == 0


def test_failed_madvise_unmergeable_breaks_nothing(world):
    with pytest.raises(KernelError) as ei:
        world.a.madvise(world.a_base, 9, MADV_UNMERGEABLE)
    assert ei.value.errno == errno.ENOMEM
    assert all(ksmlab.PageKsm(world.k.page_at(world.a, world.a_base + i * PS)) for i in range(6))
    world.k.ksmd.full_scan()
    world.k.check()
    # ksmd drops the exited process's 8 items; a's 6 KSM mappings are still accounted.
    assert world.a.ksm_counts()["ksm_merging_pages"] == 6


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"nodes": 0}, ValueError),
        ({"nodes": -1}, ValueError),
        ({"nodes": "2"}, TypeError),
        ({"nodes": 2.0}, TypeError),
        ({"fixes": 1}, TypeError),
        ({"fixes": "all"}, TypeError),
        ({"fixes": {"cursor_insertion": True}}, TypeError),
    ],
    ids=repr,
)
def test_kernel_constructor_rejects(kwargs, exc):
    with pytest.raises(exc):
        Kernel(**kwargs)


def test_one_node_kernel_bounds():
    k = Kernel(nodes=1, fixes=Fixes.none())
    a = k.spawn("a")
    with pytest.raises(KernelError) as ei:
        a.mmap(1, node=1)
    assert ei.value.errno == errno.EINVAL
    base = a.mmap(1, node=0)
    a.write(base, b"one")
    with pytest.raises(KernelError) as ei:
        k.migrate(a, base, node=1)
    assert ei.value.errno == errno.ENODEV
    assert a.read(base).rstrip(b"\0") == b"one"
    assert k.page_at(a, base).nid == 0
    k.check()


def test_four_node_kernel_accepts_node_3():
    k = Kernel(nodes=4)
    a = k.spawn("a")
    base = a.mmap(2, node=3)
    a.write(base, b"far")
    assert k.page_at(a, base).nid == 3
    new = k.migrate(a, base, node=2)
    assert k.page_at(a, base).pfn == new and k.page_at(a, base).nid == 2
    k.check()


def test_mmap_limit_is_inclusive():
    k = Kernel()
    a = k.spawn("a")
    base = a.mmap(1 << 20)
    last = base + ((1 << 20) - 1) * PS
    a.write(last, b"end")
    assert a.read(last).rstrip(b"\0") == b"end"
    assert a.read(base) == bytes(PS)
    k.check()


def test_errors_carry_kernel_error_as_oserror(world):
    with pytest.raises(OSError) as ei:
        world.a.read(0)
    assert isinstance(ei.value, KernelError)
    assert ei.value.errno == errno.EFAULT


def test_snapshot_sees_changes(world):
    """The snapshot used above is sensitive enough to notice an ordinary write."""
    before = world.snapshot()
    world.a.write(world.a_base + 6 * PS, b"changed")
    assert world.snapshot() != before
    assert snapshot(world.k, world.mappings()) == world.snapshot()


SCN = "fork_behind_unmerge_cursor"
DIGITS_31 = "U*" + "9" * 31

# (id, call, exception type): the explorer, the scheduler, schedules and the sysfs panel
EXPLORER_CASES = [
    ("explore-scenario-none", lambda: ksmlab.explore(None), TypeError),
    ("explore-scenario-unknown", lambda: ksmlab.explore("nope"), ValueError),
    ("explore-fixes-int", lambda: ksmlab.explore(SCN, fixes=1), TypeError),
    ("explore-fixes-text", lambda: ksmlab.explore(SCN, fixes="some"), ValueError),
    ("explore-bound-bool", lambda: ksmlab.explore(SCN, max_preemptions=True), TypeError),
    ("explore-bound-float", lambda: ksmlab.explore(SCN, max_preemptions=1.0), TypeError),
    ("explore-bound-negative", lambda: ksmlab.explore(SCN, max_preemptions=-1), ValueError),
    ("explore-max-bool", lambda: ksmlab.explore(SCN, max_schedules=True), TypeError),
    ("explore-max-float", lambda: ksmlab.explore(SCN, max_schedules=2.0), TypeError),
    ("explore-max-str", lambda: ksmlab.explore(SCN, max_schedules="5"), TypeError),
    ("explore-max-zero", lambda: ksmlab.explore(SCN, max_schedules=0), ValueError),
    ("explore-max-negative", lambda: ksmlab.explore(SCN, max_schedules=-5), ValueError),
    ("explore-seed-none", lambda: ksmlab.explore(SCN, strategy="random", seed=None), TypeError),
    ("explore-seed-bool", lambda: ksmlab.explore(SCN, strategy="random", seed=True), TypeError),
    ("explore-seed-float", lambda: ksmlab.explore(SCN, strategy="pct", seed=1.5), TypeError),
    ("explore-strategy-int", lambda: ksmlab.explore(SCN, strategy=1), TypeError),
    ("explore-strategy-unknown", lambda: ksmlab.explore(SCN, strategy="bfs"), ValueError),
    ("explore-progress", lambda: ksmlab.explore(SCN, progress=5), TypeError),
    ("explore-cache", lambda: ksmlab.explore(SCN, cache="yes"), TypeError),
    ("replay-scenario-unknown", lambda: ksmlab.replay("nope", "U"), ValueError),
    ("replay-schedule-int", lambda: ksmlab.replay(SCN, 5), TypeError),
    ("replay-schedule-none", lambda: ksmlab.replay(SCN, None), TypeError),
    ("replay-list-int", lambda: ksmlab.replay(SCN, ["U", 1]), ValueError),
    ("replay-count-zero", lambda: ksmlab.replay(SCN, "U*0"), ValueError),
    ("replay-count-31-digits", lambda: ksmlab.replay(SCN, DIGITS_31), ValueError),
    ("replay-count-huge", lambda: ksmlab.replay(SCN, "U*99999999999999999999"), ScheduleError),
    ("replay-unknown-task", lambda: ksmlab.replay(SCN, "U X*99999999"), ScheduleError),
    ("replay-fixes", lambda: ksmlab.replay(SCN, "U", fixes=1), TypeError),
    ("scheduler-none", lambda: Scheduler(None), TypeError),
    ("scheduler-unknown", lambda: Scheduler("nope", Fixes.all()), ValueError),
    ("scheduler-fixes", lambda: Scheduler(SCN, "all"), TypeError),
    ("scheduler-run-huge", lambda: Scheduler(SCN).run("F*9999999999999999"), ScheduleError),
    ("schedule-parse-none", lambda: Schedule.parse(None), TypeError),
    ("schedule-parse-bytes", lambda: Schedule.parse(b"U"), TypeError),
    ("schedule-parse-token", lambda: Schedule.parse("U**2"), ValueError),
    ("schedule-parse-8-digits", lambda: Schedule.parse("U*99999999"), ValueError),
    ("schedule-parse-16-digits", lambda: Schedule.parse("U*9999999999999999"), ValueError),
    ("schedule-parse-20-digits", lambda: Schedule.parse("U*99999999999999999999"), ValueError),
    ("schedule-text", lambda: Schedule("U F"), TypeError),
    ("schedule-bad-name", lambda: Schedule(["U", 1]), ValueError),
    ("sysfs-panel-str", lambda: _panel("x"), TypeError),
    ("sysfs-panel-process", lambda: _panel(Kernel().spawn("a")), TypeError),
]


def _panel(kernel):
    from ksmlab.widgets.sysfs import SysfsPanel

    return SysfsPanel(kernel, figures=False)


def _textbook_replay():
    rep = ksmlab.replay(SCN, "U*3 F*2 U*10", fixes=Fixes.none())
    try:
        return str(rep.trace), rep.violation, rep.scheduler.world.fingerprint()
    finally:
        rep.scheduler.close()


@pytest.mark.parametrize(
    ("call", "exc"), [c[1:] for c in EXPLORER_CASES], ids=[c[0] for c in EXPLORER_CASES]
)
def test_bad_input_to_the_explorer_and_schedules(call, exc):
    """Refused at once with its error and a message; the scenario's stored initial world
    (which every replay starts from) is not changed."""
    before = _textbook_replay()
    with pytest.raises(exc) as ei:
        call()
    assert type(ei.value) is exc
    assert str(ei.value).strip()
    assert _textbook_replay() == before
