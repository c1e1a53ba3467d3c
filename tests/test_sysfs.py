"""The /sys/kernel/mm/ksm interface: defaults, parsing, read-only counters, knob rules.

Parsing follows the kernel's strict integer and boolean parsers (reference §5). Every
rejected write must leave the whole model unchanged.
"""

from __future__ import annotations

import errno

import pytest
from ksmtest import (
    COUNTERS,
    KNOB_DEFAULTS,
    KNOBS,
    LATER_FILES,
    LATER_KNOB_DEFAULTS,
    assert_counters,
    build_world,
    fingerprint,
    is_ksm_at,
    make_mergeable,
    page,
    passes,
)

from ksmlab import PAGE_SIZE, Fixes, Kernel, KernelError

PS = PAGE_SIZE
UINT_MAX = 2**32 - 1
ULONG_MAX = 2**64 - 1
INT_MAX = 2**31 - 1


def test_defaults():
    k = Kernel()
    assert {name: k.sysfs.read(name) for name in KNOBS} == KNOB_DEFAULTS
    assert {name: k.sysfs.read(name) for name in COUNTERS} == dict.fromkeys(COUNTERS, 0)
    for name in KNOBS + COUNTERS:
        assert type(k.sysfs.read(name)) is int


def test_the_3_9_profile_has_only_the_files_3_9_had():
    k = Kernel()
    assert k.sysfs.names() == KNOBS + COUNTERS
    assert set(k.sysfs.snapshot()) == set(KNOBS + COUNTERS)
    for name, release in LATER_FILES.items():
        before = _state(k)
        for op, args in ((k.sysfs.read, (name,)), (k.sysfs.write, (name, 1))):
            with pytest.raises(KernelError) as ei:
                op(*args)
            assert ei.value.errno == errno.ENOENT  # as opening a missing sysfs file
            want = f"/sys/kernel/mm/ksm/{name} does not exist (added in {release})"
            assert ei.value.reason == want
        assert _state(k) == before
    p = k.spawn("p")
    with pytest.raises(KernelError) as ei:
        p.ksm_stat()
    assert ei.value.errno == errno.ENOENT


def test_the_6_18_profile_has_the_later_files_too():
    k = Kernel(version="6.18")
    assert set(k.sysfs.names()) == set(KNOBS + COUNTERS) | set(LATER_FILES)
    snap = k.sysfs.snapshot()
    assert {n: snap[n] for n in LATER_KNOB_DEFAULTS} == LATER_KNOB_DEFAULTS
    assert snap["advisor_mode"] == "[none] scan-time"
    counters = set(LATER_FILES) - set(LATER_KNOB_DEFAULTS) - {"advisor_mode"}
    assert {n: snap[n] for n in counters} == dict.fromkeys(counters, 0)
    for name in counters:
        with pytest.raises(KernelError) as ei:
            k.sysfs.write(name, 0)
        assert ei.value.errno == errno.EACCES


def test_kernel_error_is_oserror():
    k = Kernel()
    with pytest.raises(OSError) as ei:
        k.sysfs.read("no_such_file")
    assert isinstance(ei.value, KernelError)
    assert ei.value.errno == errno.ENOENT


def _rejected(k, name, value, err):
    """Write must fail with KernelError(err) and change nothing observable."""
    before = _state(k)
    with pytest.raises(KernelError) as ei:
        k.sysfs.write(name, value)
    assert ei.value.errno == err
    assert _state(k) == before
    k.check()


def _state(k):
    snap = k.sysfs.snapshot()
    snap["fingerprint"] = fingerprint(k)
    snap["nodes"] = sorted((n.kpfn, n.nid, len(n.hlist)) for n in k.ksm.stable_nodes())
    return snap


@pytest.fixture
def busy():
    """A kernel with merged pages (so pages_shared != 0) and run=1."""
    return build_world().k


@pytest.fixture
def busy618():
    """The same on the 6.18 profile, which has the knobs added after 3.9."""
    return build_world(version="6.18").k


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", "pages", "Run", "run ", "stable_node_chains_prune_x", "advisor_mode_x", "../run"]
)
def test_unknown_name(busy, name):
    before = _state(busy)
    with pytest.raises(KernelError) as ei:
        busy.sysfs.read(name)
    assert ei.value.errno == errno.ENOENT
    _rejected(busy, name, 1, errno.ENOENT)
    assert _state(busy) == before


@pytest.mark.parametrize("name", COUNTERS)
@pytest.mark.parametrize("value", [0, 1, "0"])
def test_counters_are_read_only(busy, name, value):
    _rejected(busy, name, value, errno.EACCES)


# --------------------------------------------------------------------------------------
# Value types
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KNOBS)
@pytest.mark.parametrize("value", [True, False, 1.0, None, [1], memoryview(b"1")], ids=repr)
def test_value_type_rejected(busy, name, value):
    before = _state(busy)
    with pytest.raises(TypeError):
        busy.sysfs.write(name, value)
    assert _state(busy) == before


# --------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, "1", "1\n", "+1", "+1\n"], ids=repr)
def test_run_accepts(value):
    k = Kernel()
    k.sysfs.write("run", value)
    assert k.sysfs.read("run") == 1
    k.check()


@pytest.mark.parametrize(
    "value",
    [
        3,
        "3",
        4,
        -1,
        "-1",
        "abc",
        " 1",
        "1 ",
        "1x",
        "0x1",
        "\0",
        "\n",
        "1\n\n",
        "++1",
        "+",
        "1.0",
        UINT_MAX + 1,
        str(UINT_MAX + 1),
        ULONG_MAX + 1,
    ],
    ids=repr,
)
def test_run_rejects(busy, value):
    _rejected(busy, "run", value, errno.EINVAL)
    assert busy.sysfs.read("run") == 1


def test_run_same_value_is_no_op(busy):
    before = _state(busy)
    busy.sysfs.write("run", 1)
    busy.sysfs.write("run", "1\n")
    assert _state(busy) == before
    busy.check()


def test_run2_again_does_not_unmerge_again():
    """After run=2, writing 2 again is a no-op; only a write of 0/1 re-arms it.

    Unfixed kernel: a KSM page swapped out before run=2 is faulted back as the KSM page
    itself, so there is a live KSM mapping that only a new unmerge would break.
    """
    k = Kernel(fixes=Fixes.none())
    a = k.spawn("a")
    base = make_mergeable(k, a, 4, ["r"] * 4)
    k.sysfs.write("run", 1)
    passes(k, 2)
    assert k.swap_out(a, base) == 4
    k.sysfs.write("run", 2)
    k.check()
    assert a.read(base) == page("r")
    assert is_ksm_at(k, a, base)
    k.sysfs.write("run", 2)
    k.check()
    assert is_ksm_at(k, a, base)
    assert k.sysfs.read("run") == 2
    k.sysfs.write("run", 0)
    k.sysfs.write("run", 2)
    k.check()
    assert not is_ksm_at(k, a, base)
    assert a.read(base) == page("r")


def test_run_values_round_trip():
    k = Kernel()
    for v in (1, 0, 2, 1, 2, 0):
        k.sysfs.write("run", str(v))
        assert k.sysfs.read("run") == v
        k.check()


@pytest.mark.parametrize("run", [0, 2])
def test_ksmd_refuses_unless_run_is_1(run):
    k = Kernel()
    a = k.spawn("a")
    make_mergeable(k, a, 2, ["x", "x"])
    k.sysfs.write("run", run)
    before = _state(k)
    with pytest.raises(ValueError, match=r"run.*1"):
        k.ksmd.full_scan()
    with pytest.raises(ValueError, match=r"run.*1"):
        k.ksmd.scan(pages=10)
    assert _state(k) == before


# --------------------------------------------------------------------------------------
# pages_to_scan / sleep_millisecs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pages_to_scan", "sleep_millisecs"])
@pytest.mark.parametrize(
    ("value", "expect"),
    [
        (0, 0),
        ("0", 0),
        (7, 7),
        ("+7", 7),
        ("7\n", 7),
        (UINT_MAX, UINT_MAX),
        (str(UINT_MAX), UINT_MAX),
        ("0100", 100),
    ],
    ids=repr,
)
def test_unsigned_knob_accepts(name, value, expect):
    k = Kernel()
    k.sysfs.write(name, value)
    assert k.sysfs.read(name) == expect
    k.check()


@pytest.mark.parametrize("name", ["pages_to_scan", "sleep_millisecs"])
@pytest.mark.parametrize(
    "value",
    [
        -5,
        "-5",
        -1,
        UINT_MAX + 1,
        str(UINT_MAX + 1),
        "abc",
        " 5",
        "5 ",
        "5x",
        "0x10",
        "\0",
        "\n",
        "5\n\n",
    ],
    ids=repr,
)
def test_unsigned_knob_rejects(busy, name, value):
    _rejected(busy, name, value, errno.EINVAL)


def test_pages_to_scan_sets_default_batch():
    k = Kernel()
    a = k.spawn("a")
    make_mergeable(k, a, 10, [str(i) for i in range(10)])
    k.sysfs.write("run", 1)
    assert k.ksmd.scan() == 10  # default 100, stopped by the end of the pass
    k.sysfs.write("pages_to_scan", 3)
    assert k.ksmd.scan() == 3
    assert k.ksmd.scan(pages=None) == 3
    k.sysfs.write("pages_to_scan", 0)
    assert k.ksmd.scan() == 0
    assert_counters(k, unshared=6, volatile=4, full_scans=1, scanned=16)
    k.check()


# --------------------------------------------------------------------------------------
# merge_across_nodes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "err"),
    [
        (2, errno.EINVAL),
        ("2", errno.EINVAL),
        (-1, errno.EINVAL),
        ("abc", errno.EINVAL),
        (" 0", errno.EINVAL),
        ("0x0", errno.EINVAL),
        ("\0", errno.EINVAL),
        (str(ULONG_MAX + 1), errno.ERANGE),
    ],
    ids=repr,
)
def test_merge_across_nodes_rejects(value, err):
    k = Kernel()
    _rejected(k, "merge_across_nodes", value, err)
    assert k.sysfs.read("merge_across_nodes") == 1


@pytest.mark.parametrize("value", [0, "0", "0\n", "+0"], ids=repr)
def test_merge_across_nodes_switch_when_empty(value):
    k = Kernel()
    k.sysfs.write("merge_across_nodes", value)
    assert k.sysfs.read("merge_across_nodes") == 0
    k.check()
    k.sysfs.write("merge_across_nodes", 1)
    assert k.sysfs.read("merge_across_nodes") == 1
    k.check()


def test_merge_across_nodes_busy_while_shared(busy):
    assert busy.sysfs.read("pages_shared") > 0
    _rejected(busy, "merge_across_nodes", 0, errno.EBUSY)
    # Writing the current value is a successful no-op even while pages are shared.
    before = _state(busy)
    busy.sysfs.write("merge_across_nodes", 1)
    assert _state(busy) == before


def test_merge_across_nodes_busy_with_mapped_ksm_page_but_no_items():
    """pages_shared can be 0 while a KSM page is mapped: a KSM page swapped out, its items
    dropped by ksmd, then faulted back (run=1, node intact: no copy). The switch must run
    remove_all_stable_nodes, which refuses a node whose page is mapped."""
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 2, ["f", "f"])
    k.sysfs.write("run", 1)
    passes(k, 2)
    assert k.swap_out(a, base) == 2
    passes(k, 1)
    assert_counters(k)
    assert a.read(base) == page("f")
    k.check()
    assert is_ksm_at(k, a, base)
    assert k.sysfs.read("pages_shared") == 0
    assert k.dmesg == []
    before = _state(k)
    with pytest.raises(KernelError) as ei:
        k.sysfs.write("merge_across_nodes", 0)
    assert ei.value.errno == errno.EBUSY
    k.check()
    # 3.9 warns (once) that the page is still mapped; nothing else changes.
    assert len(k.dmesg) == 1 and k.dmesg[0].startswith("WARNING")
    after = _state(k)
    del before["fingerprint"], after["fingerprint"]
    assert after == before
    assert k.sysfs.read("merge_across_nodes") == 1
    assert len(k.ksm.stable_nodes()) == 1
    # WARN_ON_ONCE: a second refusal adds no line.
    with pytest.raises(KernelError) as ei:
        k.sysfs.write("merge_across_nodes", 0)
    assert ei.value.errno == errno.EBUSY
    assert len(k.dmesg) == 1


def test_merge_across_nodes_switch_after_unmerge_with_swapped_ksm_page():
    """Fix 4: the stable node of a swapped-out KSM page is detached, so the switch works."""
    k = Kernel()
    a = k.spawn("a")
    base = make_mergeable(k, a, 4, ["q"] * 4)
    k.sysfs.write("run", 1)
    passes(k, 2)
    assert k.swap_out(a, base) == 4
    k.sysfs.write("run", 2)
    k.check()
    assert k.ksm.stable_nodes() == []
    k.sysfs.write("merge_across_nodes", 0)
    k.check()
    assert k.sysfs.read("merge_across_nodes") == 0
    for i in range(4):
        assert a.read(base + i * PS) == page("q")
        assert not is_ksm_at(k, a, base + i * PS)
    k.check()
    k.sysfs.write("run", 1)
    passes(k, 2)
    assert_counters(k, shared=1, sharing=3)


# --------------------------------------------------------------------------------------
# max_page_sharing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "err"),
    [
        (1, errno.EINVAL),
        ("1", errno.EINVAL),
        (0, errno.EINVAL),
        (-5, errno.EINVAL),
        ("-5", errno.EINVAL),
        ("abc", errno.EINVAL),
        (" 3", errno.EINVAL),
        ("3x", errno.EINVAL),
        ("\0", errno.EINVAL),
        (str(INT_MAX + 1), errno.ERANGE),
    ],
    ids=repr,
)
def test_max_page_sharing_rejects(value, err):
    k = Kernel(version="6.18")
    _rejected(k, "max_page_sharing", value, err)
    assert k.sysfs.read("max_page_sharing") == 256


@pytest.mark.parametrize(
    ("value", "expect"), [(2, 2), ("3\n", 3), ("+1000", 1000), (INT_MAX, INT_MAX)], ids=repr
)
def test_max_page_sharing_accepts(value, expect):
    k = Kernel(version="6.18")
    k.sysfs.write("max_page_sharing", value)
    assert k.sysfs.read("max_page_sharing") == expect
    k.check()


def test_max_page_sharing_busy_while_shared(busy618):
    _rejected(busy618, "max_page_sharing", 100, errno.EBUSY)
    before = _state(busy618)
    busy618.sysfs.write("max_page_sharing", 256)
    assert _state(busy618) == before


# --------------------------------------------------------------------------------------
# Boolean knobs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["use_zero_pages", "smart_scan"])
@pytest.mark.parametrize(
    ("value", "expect"),
    [
        (1, 1),
        (0, 0),
        ("1", 1),
        ("0", 0),
        ("y", 1),
        ("Y", 1),
        ("n", 0),
        ("N", 0),
        ("on", 1),
        ("off", 0),
        ("10", 1),
        ("yes", 1),
        ("no", 0),
        ("1\n", 1),
        ("0\n", 0),
    ],
    ids=repr,
)
def test_bool_knob_accepts(name, value, expect):
    k = Kernel(version="6.18")
    k.sysfs.write(name, 1 - expect)
    assert k.sysfs.read(name) == 1 - expect
    k.sysfs.write(name, value)
    assert k.sysfs.read(name) == expect
    k.check()


@pytest.mark.parametrize("name", ["use_zero_pages", "smart_scan"])
@pytest.mark.parametrize("value", ["x", "2", 2, -1, "\0", "\n", " 1", "o"], ids=repr)
def test_bool_knob_rejects(busy618, name, value):
    _rejected(busy618, name, value, errno.EINVAL)


# --------------------------------------------------------------------------------------
# write(2) as the kernel takes it (3.9 fs/sysfs/file.c: fill_write_buffer)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KNOBS)
@pytest.mark.parametrize("value", ["", b"", bytearray()], ids=repr)
def test_zero_byte_write_succeeds_and_changes_nothing(busy, name, value):
    before = _state(busy)
    assert busy.sysfs.write(name, value) == 0
    assert _state(busy) == before
    busy.check()


@pytest.mark.parametrize("name", COUNTERS[:2])
def test_zero_byte_write_to_a_counter_is_still_refused(busy, name):
    _rejected(busy, name, b"", errno.EACCES)  # refused at open(), before any byte


@pytest.mark.parametrize(
    ("value", "count", "expect"),
    [
        (b"7\0junk", 6, 7),  # the parser stops at the first NUL
        ("7\0junk", 6, 7),
        (bytearray(b"8\n"), 2, 8),
        (9, 1, 9),
        (123, 3, 123),
        ("0" * 4096 + "1", 4095, 0),  # a short write: PAGE_SIZE - 1 bytes are taken
        ("0" * 4094 + "12", 4095, 1),  # 3.9 keeps 4095 bytes (current kernels: 4096, 12)
        (b"0" * 4094 + b"5\n", 4095, 5),
    ],
    ids=lambda v: repr(v)[:16],
)
def test_write_returns_the_count_taken(value, count, expect):
    k = Kernel()
    assert k.sysfs.write("pages_to_scan", value) == count
    assert k.sysfs.read("pages_to_scan") == expect


@pytest.mark.parametrize("value", [b"\0", b"\0" * 5000, b"\xff", "\u00e9", b"1\xff", b"x" * 5000])
def test_what_is_left_after_the_cut_must_parse(busy, value):
    _rejected(busy, "pages_to_scan", value, errno.EINVAL)


def test_run_written_with_junk_after_a_nul():
    k = build_world().k
    assert k.sysfs.write("run", b"2\0 and more") == 11
    assert k.sysfs.read("run") == 2
    assert_counters(k)
