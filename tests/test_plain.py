"""The plain form of a kernel path (ksmlab.sched.plain): compiled from the same source as
the generator form, run by the facade when no scheduler interleaves. Both forms must do
exactly the same thing: the same results, errors, worlds and kernel logs, on any workload.
"""

import ast
import importlib
import inspect
import pkgutil
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ksmlab.ksm
import ksmlab.mm
from ksmlab import MADV_MERGEABLE, MADV_UNMERGEABLE, PAGE_SIZE, Fixes, Kernel
from ksmlab.sched.locks import RwSem
from ksmlab.sched.plain import WouldBlock, complete, kernel_path
from ksmlab.sched.points import Blocked, Point
from ksmlab.sched.run import run_to_completion

PS = PAGE_SIZE
_HERE = Point("test:here", "a preemption point")


def _modules():
    for pkg in (ksmlab.ksm, ksmlab.mm):
        for info in pkgutil.iter_modules(pkg.__path__):
            yield importlib.import_module(f"{pkg.__name__}.{info.name}")


def test_every_kernel_path_has_a_plain_form_and_every_callee_too():
    """Each generator function of ksm/ and mm/ is a kernel path; every ``yield from f()``
    in one names a function that has a plain form (else the plain form would fail)."""
    paths = 0
    defined = {n: f for mod in _modules() for n, f in vars(mod).items() if callable(f)}
    for mod in _modules():
        for name, f in vars(mod).items():
            if inspect.isgeneratorfunction(f) and f.__module__ == mod.__name__:
                assert callable(getattr(f, "plain", None)), f"{mod.__name__}.{name}"
                assert not inspect.isgeneratorfunction(f.plain)
                paths += 1
        for node in ast.walk(ast.parse(inspect.getsource(mod))):
            func = getattr(node, "value", None) and getattr(node.value, "func", None)
            if isinstance(node, ast.YieldFrom) and isinstance(func, ast.Name):
                callee = func.id
                target = getattr(mod, callee, None) or defined[callee]  # or a local import
                assert callable(getattr(target, "plain", None)), f"{mod.__name__}: {callee}"
    assert paths >= 50


@kernel_path
def inner(w, x):
    yield _HERE
    return x + 1


@kernel_path
def outer(w, sem, ev):
    if w.interleaved:
        yield _HERE
    yield from sem.down_read(w, "test:down_read")
    got = yield from inner(w, 1)
    yield ev
    sem.up_read(w)
    return got


@kernel_path
def emptied(w, n):
    for _ in range(n):
        yield _HERE
    try:
        n += 1
    finally:
        yield _HERE
    return n


CALLS = []


@kernel_path
def which_form(w):
    CALLS.append(w.current.gen is not None)
    yield _HERE
    return 7


def test_the_rewrite_rules():
    """``yield POINT`` goes, ``if w.interleaved: yield POINT`` goes, ``yield from f()``
    calls f's plain form, ``yield from E`` completes E, any other yield is a step."""
    w = types.SimpleNamespace(current="T", interleaved=False)
    sem = RwSem("sem")
    free = Blocked("test:wait", sem, "never held")
    assert outer.plain(w, sem, free) == 2 and sem.readers == []
    assert list(outer(w, sem, free)) == [_HERE, free]  # the generator form: the source
    sem.writer = "U"
    with pytest.raises(WouldBlock) as blocked:
        outer.plain(w, sem, free)
    assert blocked.value.event.label == "test:down_read"
    assert emptied.plain(w, 3) == 4 and list(emptied(w, 3)) == [_HERE] * 4  # blocks left empty
    src = inspect.getsource(outer)
    assert "yield from sem.down_read" in src  # the one source is unchanged


def _expression_yield(w):
    x = yield _HERE
    return x


def test_a_yield_inside_an_expression_or_a_closure_is_refused():
    with pytest.raises(TypeError, match="yields only as a statement"):
        kernel_path(_expression_yield)

    point = _HERE

    def closure(w):
        yield point

    with pytest.raises(TypeError, match="module-level"):
        kernel_path(closure)


def test_complete_closes_a_path_that_would_block():
    closed = []

    def waits():
        try:
            yield Blocked("test:wait", types.SimpleNamespace(available=lambda: False), "held")
        finally:
            closed.append(True)

    with pytest.raises(WouldBlock):
        complete(waits())
    assert closed == [True]


def _blocked_world(interleaved):
    k = Kernel(nodes=1)
    p = k.spawn("a")
    base = p.mmap(2)
    p.write(base, b"x")
    p.madvise(base, 2, MADV_MERGEABLE)
    k.world.interleaved = interleaved
    p.mm.mmap_sem.writer = "someone"
    return k, p, base


@pytest.mark.parametrize("interleaved", [False, True])
def test_a_path_that_would_block_fails_the_same_way_in_both_forms(interleaved):
    k, p, base = _blocked_world(interleaved)
    with pytest.raises(RuntimeError) as err:
        p.write(base, b"y")
    assert str(err.value) == (
        "a:write would block at do_page_fault:down_read: mmap_sem of a is held for write "
        "by someone, and nothing else is running"
    )
    assert p.mm.mmap_sem.readers == [] and k.world.current is None


# ------------------------------------------------------------- random workloads

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["write", "read", "fork", "exit", "merge", "unmerge", "scan", "pass", "swap",
             "migrate", "run", "mergeacross", "sharing"]
        ),
        st.integers(0, 7),
        st.integers(0, 7),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=40,
)
CONTENTS = [b"A", b"A", b"B", b"", b"C" * 100, b"A"]


def _step(k, procs, op, i, j, c):
    live = [p for p in procs if p.alive]
    if not live:
        return None
    p = live[i % len(live)]
    base = p.mm.vmas[0].start if p.mm.vmas else None
    addr = None if base is None else base + (j % 6) * PS
    if op == "write":
        return p.write(addr, CONTENTS[(i + j + c) % len(CONTENTS)])
    if op == "read":
        return p.read(addr)
    if op == "fork":
        if len(procs) < 5:
            procs.append(p.fork(f"c{len(procs)}"))
        return None
    if op == "exit":
        return p.exit() if len(live) > 1 else None
    if op == "merge":
        return p.madvise(base, 6, MADV_MERGEABLE)
    if op == "unmerge":
        return p.madvise(base + (j % 3) * PS, 2, MADV_UNMERGEABLE)
    if op == "scan":
        return k.ksmd.scan(1 + j)
    if op == "pass":
        return k.ksmd.full_scan()
    if op == "swap":
        return k.swap_out(p, addr)
    if op == "migrate":
        return k.migrate(p, addr, c % 2)
    if op == "run":
        return k.sysfs.write("run", c % 3)
    if op == "mergeacross":
        return k.sysfs.write("merge_across_nodes", c % 2)
    return k.sysfs.write("max_page_sharing", 2 + c)


def _world(interleaved, ops, version, fixes):
    k = Kernel(nodes=2, fixes=fixes, version=version)
    k.world.interleaved = interleaved
    a = k.spawn("a")
    base = a.mmap(6)
    for n in range(6):
        a.write(base + n * PS, CONTENTS[n])
    a.madvise(base, 6, MADV_MERGEABLE)
    k.sysfs.write("pages_to_scan", 3)
    k.sysfs.write("run", 1)
    procs = [a]
    seen = []
    for op in ops:
        try:
            out = _step(k, procs, *op)
        except Exception as e:  # compared, not hidden: both forms must fail alike
            out = f"{type(e).__name__}: {e}"
        seen.append((op, out, k.world.fingerprint()))
    return seen, list(k.world.describe()), list(k.world.dmesg)


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, version=st.sampled_from(["3.9", "6.18"]),
       fixes=st.sampled_from([Fixes.all(), Fixes.none()]))
def test_plain_and_generator_forms_leave_the_same_world(ops, version, fixes):
    assert _world(False, ops, version, fixes) == _world(True, ops, version, fixes)


def test_the_random_workloads_reach_merging_and_errors():
    """The workload above really merges, swaps and fails sometimes (else the comparison
    would prove little)."""
    ops = [("pass", 0, 0, 0), ("pass", 0, 0, 0), ("swap", 0, 0, 0), ("migrate", 0, 1, 1),
           ("fork", 0, 0, 0), ("run", 0, 0, 2), ("mergeacross", 0, 0, 0), ("read", 1, 1, 0)]
    seen, lines, _ = _world(False, ops, "3.9", Fixes.all())
    assert seen == _world(True, ops, "3.9", Fixes.all())[0]
    assert any(" ksm:" in line for line in _world(False, ops[:2], "3.9", Fixes.all())[1])
    assert any(isinstance(out, str) and "Error" in out for _, out, _ in seen)


def test_run_to_completion_takes_the_generator_form_when_interleaved():
    k = Kernel(nodes=1)
    CALLS.clear()
    assert run_to_completion(k.world, "t", which_form, k.world) == 7
    k.world.interleaved = True
    assert run_to_completion(k.world, "t", which_form, k.world) == 7
    assert CALLS == [False, True]
