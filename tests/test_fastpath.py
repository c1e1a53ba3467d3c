"""The fast paths outside a scheduler: a free lock is taken without making a generator,
and hot loops skip their yield points when nothing interleaves. Neither may change what
the model does: the same workload, interleaved or not, ends in the very same world."""

import types

from ksmlab import MADV_MERGEABLE, PAGE_SIZE, Fixes, Kernel, scenarios
from ksmlab.mm.page import Page
from ksmlab.sched.locks import Mutex, RwSem, lock_page
from ksmlab.sched.points import Blocked
from ksmlab.sched.scheduler import Scheduler


def _world():
    return types.SimpleNamespace(current="T")


def test_a_free_lock_is_taken_at_once_and_a_held_one_returns_the_waiting_path():
    w = _world()
    sem = RwSem("mmap_sem")
    assert sem.down_read(w, "r") == () and sem.readers == ["T"]
    waiting = sem.down_write(w, "w")  # a reader holds it: the slow path
    assert isinstance(waiting, types.GeneratorType)
    ev = next(waiting)
    assert isinstance(ev, Blocked) and "mmap_sem is held by T (read)" == ev.reason
    sem.up_read(w)
    assert list(waiting) == [] and sem.writer == "T"
    m = Mutex("ksm_thread_mutex")
    assert m.lock(w, "l") == () and m.owner == "T"
    assert isinstance(m.lock(w, "l"), types.GeneratorType)


def test_lock_page_fast_and_slow():
    w = _world()
    k = Kernel(nodes=1)
    p = k.spawn("a")
    addr = p.mmap(1)
    p.write(addr, b"x")
    page = k.page_at(p, addr)
    assert isinstance(page, Page)
    assert lock_page(w, page, "l") == () and page.lock_owner == "T"
    slow = lock_page(w, page, "l")
    assert isinstance(next(slow), Blocked)
    page.lock_owner = None
    assert list(slow) == [] and page.lock_owner == "T"
    page.lock_owner = None


def test_only_a_scheduler_interleaves():
    k = Kernel()
    assert k.world.interleaved is False
    s = Scheduler(scenarios.get("fork_behind_unmerge_cursor"), Fixes.all())
    assert s.world.interleaved is True


def _run(interleaved):
    k = Kernel(nodes=1)
    p = k.spawn("a")
    base = p.mmap(64)
    for i in range(64):
        p.write(base + i * PAGE_SIZE, b"%d" % (i % 5 if i % 3 else i))
    p.madvise(base, 64, MADV_MERGEABLE)
    k.world.interleaved = interleaved
    k.sysfs.write("pages_to_scan", 7)  # batches end mid-descent and mid-area
    k.sysfs.write("run", 1)
    k.ksmd.passes(3)
    p.write(base, b"3")
    p.fork("b")
    k.ksmd.passes(2)
    return k.world.fingerprint(), list(k.world.describe()), k.sysfs.read("pages_sharing")


def test_skipping_yield_points_changes_nothing():
    plain = _run(False)
    assert plain[2] > 0  # the workload really merges
    assert plain == _run(True)
