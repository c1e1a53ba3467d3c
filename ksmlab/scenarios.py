"""Named scenarios: a seeded initial world, the kernel paths that race in it, and the
property they must not break. Used by the stepper, the explorer, the tests and the CLI.

>>> from ksmlab import scenarios
>>> scenarios.names()[:2]
['fork_behind_unmerge_cursor', 'swapin_after_unmerge_walk']
>>> scenarios.get("fork_behind_unmerge_cursor").fix
'cursor_insertion'
"""

import io
import pickle

from .check.violation import Violation, pte
from .errors import KernelError
from .kernel import Kernel
from .ksm.scan import ksm_scan_thread
from .ksm.sysfs import sysfs_write_file
from .mm.fork import dup_mmap
from .mm.madvise import MADV_MERGEABLE
from .mm.memory import user_access
from .mm.migrate import migrate_pages
from .mm.page import PAGE_SIZE, PageKsm, page_stable_node
from .mm.pte import MigrationEntry, Present
from .mm.vmscan import isolate_lru_page, reclaim_page, shrink_swapcache
from .switches import Switches

__all__ = ["Scenario", "get", "names", "peek", "ksm_pages_mapped"]


# -- task bodies -------------------------------------------------------------------------
def admin(w, writes):
    """A shell running ``echo VALUE > /sys/kernel/mm/ksm/NAME`` for each write in turn;
    a refused write (EBUSY) is reported and the script goes on. Returns the errors."""
    errors = []
    for name, value in writes:
        try:
            yield from sysfs_write_file(w, name, str(value).encode())
        except KernelError as err:
            errors.append((name, value, err.errno))
    return errors


def kswapd(w, page, free_later):
    """Reclaim ``page`` (isolated when the task is made) to the swap cache; with
    ``free_later``, a later pass frees it."""
    yield from reclaim_page(w, page)
    if free_later:
        yield from swapcache_pass(w)


def swapcache_pass(w):
    """A later reclaim pass: free the swap-cache pages nobody uses any more."""
    return shrink_swapcache(w)
    yield  # a generator, so it can be a task


def ksmd_first_batch(w):
    """ksmd asleep until run=1 is written, then one batch of pages_to_scan pages."""
    return ksm_scan_thread(w, 1, batches=1)


# -- what the properties look at ---------------------------------------------------------------
def peek(w, mm, addr) -> bytes:
    """What ``mm`` would read at ``addr`` now, without faulting anything in."""
    pte = mm.ptes.get(addr)
    cls = pte.__class__
    if pte is None:
        return b""
    if cls is Present or cls is MigrationEntry:
        return pte.page.content
    slot = w.swap.slots[pte.entry]
    return slot.page.content if slot.page is not None else slot.content


def ksm_pages_mapped(w) -> list:
    """(owner, addr, pfn) of every KSM page a live mm still maps."""
    out = []
    for mm in w.mms:
        if mm.users:
            for addr in sorted(mm.ptes):
                pte = mm.ptes[addr]
                if pte.__class__ is Present and PageKsm(pte.page):
                    out.append((mm.owner, addr, pte.page.pfn))
    return out


def unmerged_but_mapped(w):
    """While run=2 stands after the unmerge returned (the mutex is free again), no live
    mm may map a KSM page."""
    ksm = w.ksm
    if ksm.run == 2 and ksm.ksm_thread_mutex.owner is None:
        mapped = ksm_pages_mapped(w)
        if mapped:
            owner, addr, pfn = mapped[0]
            return Violation(
                f"{owner}@{addr:#x} maps KSM page {pfn:#x} while run=2 stands",
                [pte(owner, addr), w.mem.pfn_to_page(pfn)],
            )
    return None


_IMMUTABLE = (type, str, bytes, Switches)


class _Pristine:
    """A stored initial world: its pickle, with what in it can never change (classes,
    strings, bytes, the frozen Fixes and Changes) kept aside and shared by every copy
    rather than looked up or rebuilt in each; each such object is still one object in
    every copy, as in the world stored. A copy of the capstone's world takes about 54 us,
    77 us from a plain pickle."""

    def __init__(self, kernel):
        shared, index = [], {}

        def persistent_id(obj):
            if isinstance(obj, _IMMUTABLE):
                if id(obj) not in index:
                    index[id(obj)] = len(shared)
                    shared.append(obj)
                return index[id(obj)]
            return None

        out = io.BytesIO()
        pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = persistent_id
        pickler.dump(kernel)
        self.data, self.shared = out.getvalue(), shared

    def copy(self) -> Kernel:
        unpickler = pickle.Unpickler(io.BytesIO(self.data))
        unpickler.persistent_load = self.shared.__getitem__
        return unpickler.load()


def _mm(w, owner):
    for mm in w.mms:
        if mm.owner == owner:
            return mm
    return None


class Scenario:
    """A named race: ``build(fixes)`` makes the world, ``tasks(kernel)`` the racing kernel
    paths, ``final(world)`` checks the property once every task has ended, and
    ``window(scheduler, memo)`` says whether the dangerous interleaving was reached."""

    name = ""
    title = ""
    fix = None  # the Fixes switch this scenario is about (None: all of them)
    kept_in_3_9 = False  # True: the property breaks with every fix too (a 3.9 hazard)
    property = ""  # the property, in words
    window_text = ""  # what "the race window was reached" means here
    nodes = 1

    def __repr__(self) -> str:
        return f"<scenario {self.name}>"

    def build(self, fixes) -> Kernel:
        """The initial world under ``fixes``, built by running the set-up."""
        k = Kernel(nodes=self.nodes, fixes=fixes)
        self._written = {}  # (owner, addr) -> bytes, filled by _area()
        self.setup(k)
        return k

    def fresh(self, fixes) -> Kernel:
        """The same as ``build``, from a stored copy (the explorer rebuilds it often)."""
        cache = self.__dict__.setdefault("_pristine", {})
        stored = cache.get(fixes)
        if stored is None:
            stored = cache[fixes] = _Pristine(self.build(fixes))
        return stored.copy()

    def setup(self, k):
        raise NotImplementedError

    def tasks(self, k):
        raise NotImplementedError

    def expected(self, w) -> dict:
        """(owner, addr) -> the bytes that mm must read: what was written, inherited by
        children across fork."""
        exp = dict(self._written)
        for child, parent in self.children.items():
            if _mm(w, child) is not None:
                for (owner, addr), data in self._written.items():
                    if owner == parent:
                        exp[(child, addr)] = data
        return exp

    children = {}

    def lost_data(self, w):
        """The first live page that no longer reads what was written, or None."""
        for (owner, addr), data in sorted(self.expected(w).items()):
            mm = _mm(w, owner)
            if mm is None or not mm.users:
                continue
            got = peek(w, mm, addr)
            if got != data:
                return Violation(
                    f"{owner}@{addr:#x} reads {got[:16]!r}, not {data[:16]!r}", [pte(owner, addr)]
                )
        return None

    def final(self, w):
        """The property once every task has ended: None, or a Violation."""
        return None

    def check_step(self, sched):
        """A property checked after every step (None when it holds, or a Violation)."""
        return None

    def window(self, sched, memo) -> bool:
        return False

    # helpers for setup
    def _area(self, k, proc, contents, node=0):
        base = proc.mmap(len(contents), node=node)
        for i, data in enumerate(contents):
            proc.write(base + i * PAGE_SIZE, data)
            self._written[(proc.name, base + i * PAGE_SIZE)] = data
        proc.madvise(base, len(contents), MADV_MERGEABLE)
        return base

    def _merge(self, k):
        k.sysfs.write("run", 1)
        k.ksmd.passes(2)
        k.sysfs.write("run", 0)


class _UnmergeScenario(Scenario):
    """Bugs 1-3: after run=2 returns, nothing may still map a KSM page."""

    property = (
        "after run=2 returns, no live mm maps a KSM page and no stable node of a "
        "live KSM page remains; nothing written is lost"
    )

    def final(self, w):
        mapped = ksm_pages_mapped(w)
        if mapped:
            owner, addr, pfn = mapped[0]
            return Violation(
                f"{owner}@{addr:#x} still maps KSM page {pfn:#x} after run=2 returned",
                [pte(owner, addr), w.mem.pfn_to_page(pfn)],
            )
        for node in w.ksm.stable_nodes():
            page = w.mem.pfn_to_page(node.kpfn)
            if page is not None and page_stable_node(page) is node:
                return Violation(
                    f"{node!r} remains, its KSM page still alive, after run=2 returned",
                    [node, page],
                )
        return None

    def _shared_page(self, k):
        """P and Q, spawned now, each map one page of the same content, merged by ksmd."""
        p, q = k.spawn("P"), k.spawn("Q")
        self.p_addr = self._area(k, p, [b"shared page"])
        self.q_addr = self._area(k, q, [b"shared page"])
        self._merge(k)


class ForkBehindUnmergeCursor(_UnmergeScenario):
    name = "fork_behind_unmerge_cursor"
    title = "Bug 1: a fork during run=2 lands behind the unmerge cursor"
    fix = "cursor_insertion"
    window_text = "the fork registered its child while the unmerge walk was in progress"
    children = {"C": "P"}

    def setup(self, k):
        self._area(k, k.spawn("A"), [b"A's own page"])
        self._shared_page(k)

    def tasks(self, k):
        w = k.world
        p = k.process("P")
        return [
            ("F", "P forks child C (dup_mmap)", dup_mmap(w, p.mm, "C")),
            ("U", "echo 2 > run (unmerge everything)", admin(w, [("run", 2)])),
        ]

    def window(self, sched, memo):
        w = sched.world
        if "C" not in memo:
            c = _mm(w, "C")
            if c is not None and c in w.ksm.mm_slots_hash:
                memo["C"] = w.ksm.run == 2 and w.ksm.ksm_scan.mm_slot is not w.ksm.head
        return memo.get("C", False)


class SwapinAfterUnmergeWalk(_UnmergeScenario):
    name = "swapin_after_unmerge_walk"
    title = "Bug 2: a KSM page faulted back from the swap cache after unmerge passed"
    fix = "swapcache_copy_on_fault"
    window_text = (
        "P faulted its page back from the swap cache after the walk had freed P's rmap_items"
    )

    def setup(self, k):
        self._shared_page(k)

    def tasks(self, k):
        w = k.world
        p = k.process("P")
        kpage = k.page_at(p, self.p_addr)
        vma = p.mm.find_vma(self.p_addr)
        isolate_lru_page(kpage)
        return [
            ("R", "reclaim the KSM page to swap", kswapd(w, kpage, False)),
            (
                "T",
                "a thread of P reads its page (swap-in fault)",
                user_access(w, vma, self.p_addr, None),
            ),
            ("U", "echo 2 > run (unmerge everything)", admin(w, [("run", 2)])),
        ]

    def window(self, sched, memo):
        if "T" not in memo and sched.tasks["T"].done:
            w = sched.world
            slot = w.ksm.mm_slots_hash.get(_mm(w, "P"))
            pte = _mm(w, "P").ptes.get(self.p_addr)
            memo["T"] = (
                w.ksm.run == 2
                and slot is not None
                and not slot.rmap_list
                and pte.__class__ is Present
                and sched.tasks["R"].done
            )
        return memo.get("T", False)


class MigrationDuringBreakKsm(_UnmergeScenario):
    name = "migration_during_break_ksm"
    title = "Bug 3: a KSM page under migration when break_ksm looks"
    fix = "follow_page_migration_wait"
    window_text = "the unmerge walk reached a mapping while it was a migration entry"
    nodes = 2

    def setup(self, k):
        self._shared_page(k)

    def tasks(self, k):
        w = k.world
        kpage = k.page_at(k.process("P"), self.p_addr)
        isolate_lru_page(kpage)
        return [
            ("M", "migrate the KSM page to node 1", migrate_pages(w, kpage, 1)),
            ("U", "echo 2 > run (unmerge everything)", admin(w, [("run", 2)])),
        ]

    def window(self, sched, memo):
        w = sched.world
        cur = w.ksm.ksm_scan.mm_slot
        if w.ksm.run == 2 and cur is not w.ksm.head and sched.tasks["U"].event is not None:
            addr = self.p_addr if cur.mm.owner == "P" else self.q_addr
            if cur.mm.ptes.get(addr).__class__ is MigrationEntry:
                memo["M"] = True
        return memo.get("M", False)


class StaleStableNodeSwitch(Scenario):
    name = "stale_stable_node_switch"
    title = "Bug 4: a stale stable node survives run=2 and the merge_across_nodes switch"
    fix = "stable_node_removal"
    property = "the merge_across_nodes switch never leads to an oops; nothing written is lost"
    window_text = "the swap-cache page was freed after the switch, before ksmd ran"
    nodes = 2

    def setup(self, k):
        p = k.spawn("P")
        self._area(k, p, [b"node 0 page"] * 2, node=0)
        self.one = self._area(k, p, [b"node 1 page"] * 2, node=1)
        self._merge(k)
        k.swap_out(p, self.one)  # the node-1 KSM page waits in the swap cache

    def tasks(self, k):
        w = k.world
        return [
            ("K", "ksmd: one pass once run=1", ksm_scan_thread(w, 1)),
            ("R", "a later reclaim pass frees the swap-cache page", swapcache_pass(w)),
            (
                "W",
                "echo 2 > run; echo 0 > merge_across_nodes; echo 1 > run",
                admin(w, [("run", 2), ("merge_across_nodes", 0), ("run", 1)]),
            ),
        ]

    def window(self, sched, memo):
        if "R" not in memo and sched.tasks["R"].done:
            memo["R"] = sched.world.ksm.merge_across_nodes == 0
        return memo.get("R", False)


class MergeAcrossNodesSwitch(Scenario):
    """The story behind the fixes: an administrator runs "echo 2 > run; echo 0 >
    merge_across_nodes; echo 1 > run" while a process forks, migration moves one KSM page
    to the other node, reclaim pushes the other to the swap cache (and frees it later) and
    a thread faults it back: every actor of the four races at once."""

    name = "merge_across_nodes_switch"
    title = "Capstone: run 2, switch, run 1 - while fork, migration, reclaim and a fault race it"
    fix = None
    property = ("while run=2 stands after the unmerge returned, no live mm maps a KSM page; "
                "the switch never leads to an oops; nothing written is lost; every "
                "invariant holds at the end")
    window_text = "the switch succeeded while another actor was still at work"
    nodes = 2
    children = {"C": "P"}

    def setup(self, k):
        a, p, q = k.spawn("A"), k.spawn("P"), k.spawn("Q")
        self._area(k, a, [b"A's own page"])
        self.p0 = self._area(k, p, [b"node 0 page"], node=0)
        self.p1 = self._area(k, p, [b"node 1 page"], node=1)
        self._area(k, q, [b"node 0 page"], node=0)
        self._area(k, q, [b"node 1 page"], node=1)
        self._merge(k)
        k.sysfs.write("pages_to_scan", 4)      # ksmd's first batch after run=1: 4 pages

    def tasks(self, k):
        w = k.world
        p = k.process("P")
        k0, k1 = k.page_at(p, self.p0), k.page_at(p, self.p1)
        isolate_lru_page(k0)
        isolate_lru_page(k1)
        return [("F", "P forks child C", dup_mmap(w, p.mm, "C")),
                ("K", "ksmd: its first batch once run=1", ksmd_first_batch(w)),
                ("M", "migrate the node-0 KSM page to node 1", migrate_pages(w, k0, 1)),
                ("R", "reclaim the node-1 KSM page, later free it", kswapd(w, k1, True)),
                ("T", "a thread of P touches its node-1 page",
                 user_access(w, p.mm.find_vma(self.p1), self.p1, None)),
                ("W", "echo 2 > run; echo 0 > merge_across_nodes; echo 1 > run",
                 admin(w, [("run", 2), ("merge_across_nodes", 0), ("run", 1)]))]

    def check_step(self, sched):
        return unmerged_but_mapped(sched.world)

    def window(self, sched, memo):
        if "W" not in memo and sched.world.ksm.merge_across_nodes == 0:
            memo["W"] = any(not t.done for n, t in sched.tasks.items() if n not in "WK")
        return memo.get("W", False)


class UnstableRootLeftBehind(Scenario):
    """Not one of the 2013 bugs: a hazard 3.9 leaves. scan_get_next_rmap_item() resets
    only the unstable roots below ksm_nr_node_ids, and merge_across_nodes may change in
    the middle of a pass while KSM shares no page. Switched to 1 while node 1's unstable
    tree holds an rmap_item, that root is left as it is; the item's next visit (age 1)
    does not unlink it and links it into tree 0 instead. Switched back to 0 before the
    pass ends, ksmd descends node 1's root again: its node is tree 0's now."""

    name = "unstable_root_left_behind"
    kept_in_3_9 = True
    title = "3.9: merge_across_nodes 0, 1, 0 within passes - node 1's unstable root is not reset"
    fix = None
    property = ("every unstable tree ksmd may descend holds only rmap_items linked there "
                "in this pass; nothing written is lost")
    window_text = "merge_across_nodes went back to 0 in the middle of a pass"
    nodes = 2

    def setup(self, k):
        p = k.spawn("P")
        k.sysfs.write("merge_across_nodes", 0)
        self._area(k, p, [b"node 1 page x", b"node 1 page y"], node=1)
        k.sysfs.write("pages_to_scan", 1)
        k.sysfs.write("run", 1)
        k.ksmd.passes(2)
        k.ksmd.scan()  # pass 3 has begun: x is in node 1's unstable tree

    def tasks(self, k):
        w = k.world
        return [("K", "ksmd: three more batches of one page", ksm_scan_thread(w, 2, batches=3)),
                ("W1", "echo 1 > merge_across_nodes", admin(w, [("merge_across_nodes", 1)])),
                ("W0", "echo 0 > merge_across_nodes", admin(w, [("merge_across_nodes", 0)]))]

    def window(self, sched, memo):
        w = sched.world
        if "W0" not in memo and sched.tasks["W0"].done and sched.tasks["W1"].done:
            memo["W0"] = (w.ksm.merge_across_nodes == 0
                          and w.ksm.ksm_scan.mm_slot is not w.ksm.head)
        return memo.get("W0", False)


_SCENARIOS = {
    s.name: s
    for s in (
        ForkBehindUnmergeCursor(),
        SwapinAfterUnmergeWalk(),
        MigrationDuringBreakKsm(),
        StaleStableNodeSwitch(),
        MergeAcrossNodesSwitch(),
        UnstableRootLeftBehind(),
    )
}


def names() -> list:
    """The scenario names, bugs 1-4 then the capstone."""
    return list(_SCENARIOS)


def get(name) -> Scenario:
    """The scenario called ``name``."""
    if isinstance(name, Scenario):
        return name
    if not isinstance(name, str):
        raise TypeError(f"a scenario name is a str, not {type(name).__name__}")
    try:
        return _SCENARIOS[name]
    except KeyError:
        raise ValueError(f"no scenario {name!r}; known: {', '.join(_SCENARIOS)}") from None
