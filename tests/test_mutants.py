"""A catalogue of deliberately broken kernel variants that the explorer or the invariants
must catch.

Each mutant is the model's own function with one line changed (the source is rewritten
and compiled into the module's namespace), patched into every ksmlab module that holds the
name, so that the kernel paths call it. Each test first runs the same check on the
unmutated model and asserts that it passes, then applies the mutant and asserts that the
check catches it, with the exact schedule, violation or data that give it away. Section
numbers refer to the KSM model reference.

+-------------------------------+------------------------------+---------------------------------+
| mutant: what is broken        | kernel rule it violates      | how it is caught                |
+===============================+==============================+=================================+
| migrate_forgets_kpfn:         | §9.2: the stable node        | explorer,                       |
| ksm_migrate_page clears the   | follows its page (kpfn :=    | migration_during_break_ksm:     |
| old frame's node pointer but  | new pfn)                     | keyhole_nodes_alive (the new    |
| leaves kpfn on the old frame  |                              | page names a node removed as    |
|                               |                              | stale)                          |
+-------------------------------+------------------------------+---------------------------------+
| replace_keeps_mapcount:       | §3.6: replace_page removes   | facade merge oopses: Bad page   |
| replace_page forgets          | the old page's mapping       | state (freed while counted as   |
| page.mapcount -= 1            | before dropping it           | mapped)                         |
+-------------------------------+------------------------------+---------------------------------+
| removal_keeps_sharing:        | §4.1: removing a non-last    | explorer,                       |
| remove_rmap_item_from_tree    | item decrements              | fork_behind_unmerge_cursor:     |
| forgets pages_sharing -= 1    | pages_sharing                | counters_match_trees after      |
|                               |                              | run=2                           |
+-------------------------------+------------------------------+---------------------------------+
| append_all_shared:            | §4.1: the first item of a    | facade: k.check() raises        |
| stable_tree_append counts     | node is shared, the others   | counters_match_trees            |
| every item in pages_shared    | sharing                      |                                 |
+-------------------------------+------------------------------+---------------------------------+
| wp_ignores_pins:              | §3.6: a page with an         | facade: a DMA write through the |
| write_protect_page skips the  | unexpected reference (GUP    | pin is lost; the process reads  |
| reference-count check         | pin, O_DIRECT) is not merged | its old bytes                   |
+-------------------------------+------------------------------+---------------------------------+
| break_ksm_never_faults:       | §6: unmerging breaks every   | explorer,                       |
| break_ksm sees the KSM page   | KSM page it finds            | fork_behind_unmerge_cursor: P   |
| and returns without the write |                              | still maps a KSM page after     |
| fault                         |                              | run=2                           |
+-------------------------------+------------------------------+---------------------------------+
| break_ksm_no_retry:           | §12: break_ksm loops until   | explorer,                       |
| break_ksm gives up after one  | no KSM page is mapped        | migration_during_break_ksm, one |
| fault even when the fault     |                              | preemption: Q still maps a KSM  |
| only retried                  |                              | page                            |
+-------------------------------+------------------------------+---------------------------------+
| enter_ignores_unmerge:        | §7, §11.1 (cbf86cfe04a6): at | explorer,                       |
| __ksm_enter puts the new slot | the tail while unmerging     | fork_behind_unmerge_cursor: the |
| behind the cursor even during |                              | child C still maps a KSM page   |
| run=2                         |                              |                                 |
+-------------------------------+------------------------------+---------------------------------+
| node_removal_keeps_flag:      | §3.7, §10: the items of a    | explorer,                       |
| remove_node_from_stable_tree  | removed node become volatile | stale_stable_node_switch:       |
| leaves its items flagged      |                              | stable_items_consistent         |
| stable                        |                              |                                 |
+-------------------------------+------------------------------+---------------------------------+
| cow_reuses_ksm_page:          | §12: a KSM page is never     | facade: Q writes, then P, the   |
| do_wp_page treats a KSM page  | reused in place by a write   | last mapper, writes the KSM     |
| as an anonymous page          | fault                        | page in place; k.check()        |
|                               |                              | raises ksm_pages_read_only      |
+-------------------------------+------------------------------+---------------------------------+
| merges_forked_page:           | §3.5: a forked page is not   | facade: one forked frame        |
| unstable_tree_search_insert   | merged with itself           | becomes a KSM page and          |
| drops its tree_page-is-page   |                              | pages_sharing=1 counts a saving |
| check                         |                              | that freed no frame             |
+-------------------------------+------------------------------+---------------------------------+

Variants left out because they are not caught, with the reason:

* `__ksm_enter` always at the tail, even when not unmerging: only changes when ksmd first
  visits a new mm; not a bug, and no check fails.
* `get_ksm_page` without the `kpfn` re-check after a failed keyhole, or without the keyhole
  re-check after `lock_page`: in the model the `kpfn` read and the keyhole check are one
  atomic step, and a holder of the page's reference keeps migration from moving it, so
  neither branch is ever taken (none is in any schedule of the four bug scenarios within
  2 preemptions, with or without the fixes): such a mutant behaves exactly like the model.
"""

from __future__ import annotations

import inspect
import linecache
import re
import sys
import textwrap
from dataclasses import dataclass

import pytest

import ksmlab
from ksmlab import MADV_MERGEABLE, Fixes, Kernel, KernelOops, PageKsm, scenarios
from ksmlab.ksm import enter, merge, rmap_item, stable, swap, unstable
from ksmlab.mm import memory
from ksmlab.mm.page import get_page, page_content, put_page


# -- applying a mutant ---------------------------------------------------------------------
def mutant_of(func, old: str, new: str):
    """``func`` recompiled with the one occurrence of ``old`` in its source replaced by
    ``new``; its globals are its module's, so it calls what the model calls."""
    src = textwrap.dedent(inspect.getsource(func))
    assert src.count(old) == 1, f"{func.__name__}: {old!r} occurs {src.count(old)} times"
    module = sys.modules[func.__module__]
    src = src.replace(old, new)
    filename = f"<mutant of {func.__module__}.{func.__name__}>"
    # its source where inspect finds it: @kernel_path compiles the mutant's plain form too
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    code = compile(src, filename, "exec")
    namespace: dict = {}
    exec(code, vars(module), namespace)
    return namespace[func.__name__]


def install(monkeypatch, func, broken) -> list:
    """Patch ``broken`` over ``func`` in every ksmlab module that holds it (the caller
    looks the name up at call time). Returns the patched modules' names."""
    where = []
    for name, module in sorted(sys.modules.items()):
        if name.startswith("ksmlab") and vars(module).get(func.__name__) is func:
            monkeypatch.setattr(module, func.__name__, broken)
            where.append(name)
    return where


def fresh_scenarios(monkeypatch):
    """Make every scenario rebuild its initial world (its set-up runs the patched code)."""
    for name in scenarios.names():
        monkeypatch.setattr(scenarios.get(name), "_pristine", {}, raising=False)


# -- the checks ------------------------------------------------------------------------------
def explored(monkeypatch, scenario):
    """(found, schedule, preemptions, violation, schedules, exhaustive) of the explorer,
    all fixes on, within 2 preemptions; a found schedule must replay to the same violation
    and trace."""
    fresh_scenarios(monkeypatch)
    res = ksmlab.explore(scenario, fixes=Fixes.all(), max_preemptions=2)
    if not res.found:
        return False, None, None, None, res.schedules, res.exhaustive
    cx = res.counterexample
    rep = ksmlab.replay(scenario, cx.schedule, fixes=Fixes.all())
    assert rep.violation == cx.violation
    assert str(rep.trace) == str(cx.trace)
    rep.scheduler.close()
    return True, cx.schedule, cx.preemptions, cx.violation, res.schedules, res.exhaustive


def _two_mergeable(k, content=b"same", names=("P", "Q")):
    procs, addrs = [], []
    for name in names:
        p = k.spawn(name)
        a = p.mmap(1)
        p.write(a, content)
        p.madvise(a, 1, MADV_MERGEABLE)
        procs.append(p)
        addrs.append(a)
    return procs, addrs


def _counters(k):
    return k.sysfs.read("pages_shared"), k.sysfs.read("pages_sharing")


def _check(k):
    try:
        k.check()
    except KernelOops as oops:
        return str(oops)
    return "ok"


def merge_two(monkeypatch):
    """P and Q write the same page; ksmd runs two passes. (counters, check) or the oops."""
    k = Kernel(nodes=1)
    _two_mergeable(k)
    k.sysfs.write("run", 1)
    try:
        k.ksmd.passes(2)
    except KernelOops as oops:
        return "oops", str(oops), k.dmesg[-1] == str(oops)
    return _counters(k), _check(k)


def merge_three(monkeypatch):
    """Three processes write the same page; ksmd runs two passes: counters and check."""
    k = Kernel(nodes=1)
    _two_mergeable(k, names=("P", "Q", "R"))
    k.sysfs.write("run", 1)
    k.ksmd.passes(2)
    return _counters(k), _check(k)


def pinned_write(monkeypatch):
    """P's page is pinned (get_user_pages) before ksmd runs; a device then writes through
    the pin and the pin is dropped. What P and Q read, the counters and the check."""
    k = Kernel(nodes=1)
    (p, q), (a, b) = _two_mergeable(k)
    pin = k.page_at(p, a)
    get_page(pin)
    k.sysfs.write("run", 1)
    k.ksmd.passes(2)
    pin.content = page_content(b"DMA data")
    put_page(k.world.mem, pin)
    return p.read(a).rstrip(b"\0"), q.read(b).rstrip(b"\0"), _counters(k), _check(k)


def write_after_merge(monkeypatch):
    """P and Q are merged; Q writes its page (a copy), then P, the KSM page's last
    mapper, writes its own. What each reads, and the check."""
    k = Kernel(nodes=1)
    (p, q), (a, b) = _two_mergeable(k)
    k.sysfs.write("run", 1)
    k.ksmd.passes(2)
    assert _counters(k) == (1, 1)
    q.write(b, b"Q's new data")
    p.write(a, b"P's new data")
    return p.read(a).rstrip(b"\0"), q.read(b).rstrip(b"\0"), _check(k)


def forked_page(monkeypatch):
    """P's page goes out to swap, P forks C, both read it back: one frame, two clean
    read-only mappings. ksmd runs three passes, freeing no frame. (counters, PageKsm,
    check)."""
    k = Kernel(nodes=1)
    p = k.spawn("P")
    a = p.mmap(1)
    p.write(a, b"forked")
    p.madvise(a, 1, MADV_MERGEABLE)
    k.swap_out(p, a)
    c = p.fork("C")
    assert p.read(a).rstrip(b"\0") == c.read(a).rstrip(b"\0") == b"forked"
    assert k.page_at(p, a) is k.page_at(c, a)
    frames = k.world.mem.allocated
    k.sysfs.write("run", 1)
    k.ksmd.passes(3)
    assert k.world.mem.allocated == frames  # ksmd frees no frame: nothing was saved
    return _counters(k), bool(PageKsm(k.page_at(p, a))), _check(k)


# -- the catalogue ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutant:
    name: str
    func: object
    old: str
    new: str
    check: object  # check(monkeypatch) -> outcome
    clean: object  # the unmutated model's outcome
    caught: object  # the mutant's outcome
    patched: tuple  # the modules the mutant must reach

    def __str__(self) -> str:
        return self.name


def _explore_check(scenario):
    def check(monkeypatch):
        return explored(monkeypatch, scenario)

    check.__name__ = f"explore {scenario}"
    return check


NOTHING = (False, None, None, None)
MUTANTS = [
    Mutant(
        "migrate_forgets_kpfn",
        swap.ksm_migrate_page,
        "node.kpfn = new.pfn",
        "pass",
        _explore_check("migration_during_break_ksm"),
        NOTHING + (189, True),
        (
            True,
            "M*6 U*5",
            0,
            "invariant keyhole_nodes_alive: page 0x1000000 points at freed "
            "StableNode#3(kpfn=0x1, nid=0, items=0)",
            1,
            False,
        ),
        ("ksmlab.ksm.swap",),
    ),
    Mutant(
        "replace_keeps_mapcount",
        merge.replace_page,
        "    page.mapcount -= 1\n",
        "",
        merge_two,
        ((1, 1), "ok"),
        ("oops", "BUG: Bad page state: freeing pfn 0x0 still mapped or in swap cache", True),
        ("ksmlab.ksm.merge",),
    ),
    Mutant(
        "removal_keeps_sharing",
        rmap_item.remove_rmap_item_from_tree,
        "ksm.pages_sharing -= 1",
        "pass",
        _explore_check("fork_behind_unmerge_cursor"),
        NOTHING + (36, True),
        (
            True,
            "U*14 F*2",
            0,
            "invariant counters_match_trees: pages_sharing is 1 but stable items - shared = 0",
            2,
            False,
        ),
        ("ksmlab.ksm.merge", "ksmlab.ksm.rmap_item"),
    ),
    Mutant(
        "append_all_shared",
        stable.stable_tree_append,
        "if node.hlist:",
        "if False:",
        merge_three,
        ((1, 2), "ok"),
        (
            (3, 0),
            "invariant counters_match_trees broken: pages_shared is 3 but 1 stable nodes "
            "have rmap_items",
        ),
        ("ksmlab.ksm.merge", "ksmlab.ksm.stable"),
    ),
    Mutant(
        "wp_ignores_pins",
        merge.write_protect_page,
        "if page.mapcount + 1 + swapped != page.refcount:",
        "if False:",
        pinned_write,
        (b"DMA data", b"same", (0, 0), "ok"),
        (b"same", b"same", (1, 1), "ok"),
        ("ksmlab.ksm.merge",),
    ),
    Mutant(
        "break_ksm_never_faults",
        merge.break_ksm,
        "ret = yield from handle_mm_fault(w, vma, addr, True)",
        "ret = VM_FAULT_WRITE",
        _explore_check("fork_behind_unmerge_cursor"),
        NOTHING + (36, True),
        (
            True,
            "U*11 F*2",
            0,
            "P@0x7f0000000000 still maps KSM page 0x2 after run=2 returned",
            2,
            False,
        ),
        ("ksmlab.ksm.merge", "ksmlab.ksm.unmerge"),
    ),
    Mutant(
        "break_ksm_no_retry",
        merge.break_ksm,
        "if ret & VM_FAULT_WRITE:",
        "if True:",
        _explore_check("migration_during_break_ksm"),
        NOTHING + (189, True),
        (
            True,
            "U*6 M*41 U*4",
            1,
            "Q@0x7f0000000000 still maps KSM page 0x1 after run=2 returned",
            16,
            False,
        ),
        ("ksmlab.ksm.merge", "ksmlab.ksm.unmerge"),
    ),
    Mutant(
        "enter_ignores_unmerge",
        enter.ksm_enter,
        "if w.fixes.cursor_insertion and ksm.run & KSM_RUN_UNMERGE:",
        "if False:",
        _explore_check("fork_behind_unmerge_cursor"),
        NOTHING + (36, True),
        (
            True,
            "U*3 F*2 U*10",
            1,
            "C@0x7f0000000000 still maps KSM page 0x2 after run=2 returned",
            4,
            False,
        ),
        ("ksmlab.ksm.enter",),
    ),
    Mutant(
        "node_removal_keeps_flag",
        stable.remove_node_from_stable_tree,
        "item.stable = False",
        "pass",
        _explore_check("stale_stable_node_switch"),
        NOTHING + (176, True),
        (
            True,
            "W*9",
            0,
            "invariant stable_items_consistent: RmapItem(P@0x7f0000001000 stable) stable flag "
            "disagrees with the stable nodes' lists",
            3,
            False,
        ),
        ("ksmlab.ksm.stable",),
    ),
    Mutant(
        "cow_reuses_ksm_page",
        memory.do_wp_page,
        "if PageAnon(old) and not PageKsm(old):",
        "if PageAnon(old):",
        write_after_merge,
        (b"P's new data", b"Q's new data", "ok"),
        (
            b"P's new data",
            b"Q's new data",
            "invariant ksm_pages_read_only broken: P@0x7f0000000000 maps KSM page 0x1 writable",
        ),
        ("ksmlab.mm.memory",),
    ),
    Mutant(
        "merges_forked_page",
        unstable.unstable_tree_search_insert,
        "if tree_page is page:",
        "if False:",
        forked_page,
        ((0, 0), False, "ok"),
        ((1, 1), True, "ok"),
        ("ksmlab.ksm.merge", "ksmlab.ksm.unstable"),
    ),
]


def test_the_catalogue_has_one_row_per_mutant():
    doc = sys.modules[__name__].__doc__
    cells = [line.split("|")[1].strip() for line in doc.splitlines() if line.startswith("| ")]
    rows = [c[:-1] for c in cells if re.fullmatch(r"[a-z_]+:", c)]
    assert rows == [m.name for m in MUTANTS]
    assert len(MUTANTS) == len({m.name for m in MUTANTS}) == 11


@pytest.mark.parametrize("mutant", MUTANTS, ids=str)
def test_mutant_is_caught(monkeypatch, mutant):
    assert mutant.check(monkeypatch) == mutant.clean  # the model itself passes the check
    broken = mutant_of(mutant.func, mutant.old, mutant.new)
    assert install(monkeypatch, mutant.func, broken) == list(mutant.patched)
    assert mutant.check(monkeypatch) == mutant.caught


@pytest.mark.parametrize("mutant", MUTANTS, ids=str)
def test_mutant_source_is_the_model_with_one_change(mutant):
    original = textwrap.dedent(inspect.getsource(mutant.func))
    broken = mutant_of(mutant.func, mutant.old, mutant.new)
    assert broken is not mutant.func
    assert broken.__qualname__ == mutant.func.__qualname__
    assert broken.__globals__ is vars(sys.modules[mutant.func.__module__])
    assert original.replace(mutant.old, mutant.new) != original


def test_patches_are_undone(monkeypatch):
    """Undoing the patch makes the model whole again: merging two pages oopses under the
    mutant and gives the usual counters after it."""
    original = merge.replace_page
    with monkeypatch.context() as mp:
        install(mp, original, mutant_of(original, "    page.mapcount -= 1\n", ""))
        assert merge.replace_page is not original
        assert merge_two(mp)[0] == "oops"
    assert merge.replace_page is original
    assert merge_two(monkeypatch) == ((1, 1), "ok")


def test_unmutated_bug_scenarios_are_clean_and_reach_their_window(monkeypatch):
    """The explorer checks used above are not vacuous: with every fix on each bug scenario
    is explored exhaustively and its race window is reached."""
    fresh_scenarios(monkeypatch)
    for name, schedules in [
        ("fork_behind_unmerge_cursor", 36),
        ("swapin_after_unmerge_walk", 112),
        ("migration_during_break_ksm", 189),
        ("stale_stable_node_switch", 176),
    ]:
        res = ksmlab.explore(name, fixes=Fixes.all(), max_preemptions=2)
        assert (res.found, res.exhaustive, res.window_reached, res.schedules) == (
            False,
            True,
            True,
            schedules,
        ), name
