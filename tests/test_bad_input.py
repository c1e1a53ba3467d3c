"""Bad input to the facade: exact exception type and errno, and no change to the model.

Every case runs against the same non-trivial world (merged, unshared, swapped-out and
never-written pages, an exited process whose rmap_items ksmd has not dropped yet) and
compares a full snapshot (sysfs, stable nodes, every present page's frame and content, PTE
kinds, per-process ksm_stat, dmesg and the model fingerprint) before and after.
"""

from __future__ import annotations

import errno

import pytest
from ksmtest import snapshot

import ksmlab
from ksmlab import MADV_MERGEABLE, MADV_UNMERGEABLE, PAGE_SIZE, Fixes, Kernel, KernelError

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
]


@pytest.mark.parametrize(("call", "exc", "err"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_leaves_state_unchanged(world, call, exc, err):
    before = world.snapshot()
    with pytest.raises(exc) as ei:
        call(world)
    assert type(ei.value) is exc or (exc is KernelError and isinstance(ei.value, KernelError))
    if err is not None:
        assert ei.value.errno == err
    if exc is not KernelError:
        assert not isinstance(ei.value, KernelError)
    assert world.snapshot() == before
    world.k.check()


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
    assert a.ksm_stat()["ksm_rmap_items"] == 0


def test_failed_madvise_unmergeable_breaks_nothing(world):
    with pytest.raises(KernelError) as ei:
        world.a.madvise(world.a_base, 9, MADV_UNMERGEABLE)
    assert ei.value.errno == errno.ENOMEM
    assert all(ksmlab.PageKsm(world.k.page_at(world.a, world.a_base + i * PS)) for i in range(6))
    world.k.ksmd.full_scan()
    world.k.check()
    # ksmd drops the exited process's 8 items; a's 6 KSM mappings are still accounted.
    assert world.a.ksm_stat()["ksm_merging_pages"] == 6


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
