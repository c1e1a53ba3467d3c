"""Stateful property test of the facade (all fixes, two NUMA nodes), on the 3.9 profile
and on the 6.18 profile (``Ksm618Machine``, which also writes max_page_sharing and the
chain prune interval, so that stable node chains form, collapse and are removed).

A reference model keeps, per live process, the bytes each page was last written with and
which pages lie in a mergeable area; fork copies both, exit drops them. Whatever ksmd,
unmerging, swap or migration do behind the scenes, every read must return those bytes,
and ``k.check()`` must pass after every step.

Further oracles (reference §6, §8.2, §10, §12):

* MADV_UNMERGEABLE leaves no KSM page present in the part of its range that was mergeable.
* While run=2 every counter is 0 and no live process maps a KSM page, except where one was
  mapped in a non-mergeable area when the unmerge ran (the unmerge walk only visits
  mergeable areas; a KSM page can get there by a swap-in after MADV_UNMERGEABLE, since
  3.9's swap-in keeps a KSM page whose stable node is intact while run=1), and copies of
  such a mapping made by fork.
* While run=2 a merge_across_nodes switch succeeds unless such a KSM page is mapped; a
  successful switch leaves no stable node anywhere.
* swap_out and migrate only fail to reach a mapping of a KSM page (its rmap walk goes
  through the stable node's rmap_items, so a mapping that has none is invisible to it);
  an ordinary anonymous page is always unmapped / migrated.
"""

from __future__ import annotations

import errno

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from ksmmachine import PS, ZERO, FacadeMachine, full, has_maps, has_procs, ix, machine_settings

import ksmlab
from ksmlab import MADV_MERGEABLE, MADV_UNMERGEABLE, Fixes, Kernel, KernelError

# Few distinct contents (with a duplicate and the all-zero page) so that merging happens.
CONTENTS = [b"alpha", b"alpha", b"beta", b"", b"gamma" * 100, b"\xff" * 64]

content_ix = st.integers(0, len(CONTENTS) - 1)


def is_ksm(page) -> bool:
    return page is not None and bool(ksmlab.PageKsm(page))


class KsmMachine(FacadeMachine):
    VERSION = "3.9"
    MAX_PROCS = 6

    @initialize(
        layout=st.lists(
            st.tuples(st.integers(0, 1), st.lists(content_ix, min_size=1, max_size=6)),
            min_size=1,
            max_size=3,
        )
    )
    def boot(self, layout):
        """A few processes whose mergeable areas hold duplicate contents; ksmd running."""
        self._boot(Kernel(nodes=2, fixes=Fixes.all(), version=self.VERSION))
        self.mergeable = {}  # pid -> set of addresses in a mergeable area
        self.exempt = set()  # (pid, addr) allowed to map a KSM page while run=2
        for node, contents in layout:
            p = self._new(self.k.spawn(self._name()))
            base = p.mmap(len(contents), node=node)
            self.maps[p.pid].append((base, len(contents)))
            for j, c in enumerate(contents):
                p.write(base + j * PS, CONTENTS[c])
                self.ref[p.pid][base + j * PS] = full(CONTENTS[c])
            p.madvise(base, len(contents), MADV_MERGEABLE)
            self.mergeable[p.pid].update(base + j * PS for j in range(len(contents)))
        self.k.sysfs.write("run", 1)
        self.k.check()

    # ---------------------------------------------------------------- helpers

    def _new(self, p):
        assert p.alive and p.pid not in self.ref
        self.mergeable[p.pid] = set()
        return super()._new(p)

    def _run(self):
        return self.k.sysfs.read("run")

    def _ksm_mappings(self):
        """(pid, addr) of every present KSM page in a live process."""
        return {
            (p.pid, addr)
            for p in self.procs
            for addr in self.ref[p.pid]
            if is_ksm(self.k.page_at(p, addr))
        }

    # ---------------------------------------------------------------- processes

    def forked(self, parent, child):
        self.mergeable[child.pid] = set(self.mergeable[parent.pid])
        self.exempt |= {(child.pid, a) for (pid, a) in self.exempt if pid == parent.pid}

    def exited(self, p):
        assert not p.alive
        del self.mergeable[p.pid]
        self.exempt = {(pid, a) for (pid, a) in self.exempt if pid != p.pid}
        try:
            p.read(0)
        except KernelError as e:
            assert e.errno == errno.ESRCH
        else:
            raise AssertionError("read of an exited process succeeded")

    # ---------------------------------------------------------------- memory

    @precondition(has_procs)
    @rule(
        i=ix,
        n=st.integers(1, 6),
        node=st.integers(0, 1),
        fill=st.integers(-1, 5),
        mergeable=st.booleans(),
    )
    def mmap(self, i, n, node, fill, mergeable):
        p = self._proc(i)
        base = p.mmap(n, node=node)
        assert base % PS == 0
        for b, m in self.maps[p.pid]:
            assert base + n * PS <= b or b + m * PS <= base, "overlapping mappings"
        self.maps[p.pid].append((base, n))
        for j in range(n):
            addr = base + j * PS
            self.ref[p.pid][addr] = ZERO
            assert p.read(addr) == ZERO
            if fill >= 0:
                p.write(addr, CONTENTS[fill])
                self.ref[p.pid][addr] = full(CONTENTS[fill])
                assert self.k.page_at(p, addr).nid == node
        if mergeable:
            p.madvise(base, n, MADV_MERGEABLE)
            self.mergeable[p.pid].update(base + j * PS for j in range(n))

    @precondition(has_maps)
    @rule(i=ix, m=ix, j=ix, c=content_ix)
    def write(self, i, m, j, c):
        p, addr = self._page(i, m, j)
        p.write(addr, CONTENTS[c])
        self.ref[p.pid][addr] = full(CONTENTS[c])
        self.exempt.discard((p.pid, addr))
        pg = self.k.page_at(p, addr)
        assert pg is not None and not ksmlab.PageKsm(pg)
        assert p.read(addr) == full(CONTENTS[c])

    @precondition(has_maps)
    @rule(i=ix, m=ix, j=ix)
    def read(self, i, m, j):
        p, addr = self._page(i, m, j)
        assert p.read(addr) == self.ref[p.pid][addr]
        assert self.k.page_at(p, addr) is not None or self.ref[p.pid][addr] == ZERO

    @precondition(has_maps)
    @rule(i=ix, m=ix, j=ix, count=st.integers(0, 6), merge=st.booleans())
    def madvise(self, i, m, j, count, merge):
        p = self._mapped(i)
        base, n, addr = self._addr(p, m, j)
        count = min(count, (base + n * PS - addr) // PS)
        rng = [addr + q * PS for q in range(count)]
        if merge:
            p.madvise(addr, count, MADV_MERGEABLE)
            self.mergeable[p.pid].update(rng)
            return
        was = set(self.mergeable[p.pid])
        p.madvise(addr, count, MADV_UNMERGEABLE)
        for a in rng:
            if a in was:
                assert not is_ksm(self.k.page_at(p, a)), (p.name, hex(a))
                self.exempt.discard((p.pid, a))
            self.mergeable[p.pid].discard(a)

    # ---------------------------------------------------------------- ksmd and knobs

    @precondition(lambda self: self._run() == 1)
    @rule(pages=st.integers(0, 12))
    def scan(self, pages):
        done = self.k.ksmd.scan(pages=pages)
        assert 0 <= done <= pages

    @precondition(lambda self: self._run() == 1)
    @rule(n=st.integers(1, 3))
    def passes(self, n):
        for _ in range(n):
            before = self.k.sysfs.read("full_scans")
            self.k.ksmd.full_scan()
            assert self.k.sysfs.read("full_scans") in (before, before + 1)
            self.k.check()

    @rule(v=st.sampled_from([0, 1, 1, 2]))
    def set_run(self, v):
        was = self._run()
        self.k.sysfs.write("run", v)
        assert self._run() == v
        if v == 2 and was != 2:
            assert self.k.sysfs.read("full_scans") == 0
            # What the unmerge walk legitimately leaves: KSM pages in non-mergeable areas.
            left = self._ksm_mappings()
            for pid, a in left:
                assert a not in self.mergeable[pid], f"run=2 left a KSM page at {pid}@{a:#x}"
            self.exempt = left
        elif v != 2:
            self.exempt = set()

    @rule(v=st.integers(0, 1))
    def set_merge_across_nodes(self, v):
        was = self.k.sysfs.read("merge_across_nodes")
        try:
            self.k.sysfs.write("merge_across_nodes", v)
        except KernelError as e:
            assert e.errno == errno.EBUSY and was != v
            if self._run() == 2:
                assert self._ksm_mappings(), "switch refused although everything was unmerged"
            return
        assert self.k.sysfs.read("merge_across_nodes") == v
        if was != v:
            # The switch happens only with every tree and migrate_nodes empty.
            assert self.k.ksm.stable_nodes() == []
            assert self.k.ksm.migrate_nodes == []

    @rule(v=st.integers(1, 40))
    def set_pages_to_scan(self, v):
        self.k.sysfs.write("pages_to_scan", v)
        assert self.k.sysfs.read("pages_to_scan") == v

    # ---------------------------------------------------------------- swap and migration

    @precondition(has_maps)
    @rule(i=ix, m=ix, j=ix)
    def swap_out(self, i, m, j):
        p, addr = self._page(i, m, j)
        page = self.k.page_at(p, addr)
        try:
            n = self.k.swap_out(p, addr)
        except KernelError as e:
            assert e.errno == errno.ENOENT and page is None
            return
        assert page is not None
        if not is_ksm(page):
            assert n >= 1
            assert type(p.pte(addr)).__name__ == "SwapEntry"
        elif type(p.pte(addr)).__name__ != "SwapEntry":
            assert self.k.page_at(p, addr) is page

    @precondition(has_maps)
    @rule(i=ix, m=ix, j=ix, node=st.integers(0, 1))
    def migrate(self, i, m, j, node):
        p, addr = self._page(i, m, j)
        before = self.k.page_at(p, addr)
        was_ksm = is_ksm(before)
        old_pfn = before.pfn if before is not None else None
        try:
            pfn = self.k.migrate(p, addr, node=node)
        except KernelError as e:
            if before is None:
                assert e.errno == errno.ENOENT
            else:
                # Only a KSM page can have a mapping its rmap walk cannot reach.
                assert e.errno == errno.EAGAIN and was_ksm, e
                assert self.k.page_at(p, addr) is before
            return
        assert before is not None
        after = self.k.page_at(p, addr)
        assert after.pfn == pfn and after.nid == node
        assert is_ksm(after) == was_ksm
        if before.nid != node and was_ksm:
            assert pfn != old_pfn
            owners = [n for n in self.k.ksm.stable_nodes() if n.kpfn == pfn]
            assert owners == [] or ksmlab.page_stable_node(after) in owners

    # ---------------------------------------------------------------- invariants

    @invariant()
    def run2_means_nothing_merged(self):
        if not hasattr(self, "k") or self._run() != 2:
            return
        got = {
            n: self.k.sysfs.read(n)
            for n in ("pages_shared", "pages_sharing", "pages_unshared", "pages_volatile")
        }
        assert got == dict.fromkeys(got, 0)
        for p in self.procs:
            assert p.ksm_counts()["ksm_rmap_items"] == 0
        assert self._ksm_mappings() <= self.exempt


class Ksm618Machine(KsmMachine):
    VERSION = "6.18"

    @rule(v=st.integers(1, 4))
    def set_max_page_sharing(self, v):
        """Below 2: EINVAL; while KSM shares pages (or a stable node cannot go): EBUSY."""
        was = self.k.sysfs.read("max_page_sharing")
        shared = self.k.sysfs.read("pages_shared")
        try:
            self.k.sysfs.write("max_page_sharing", v)
        except KernelError as e:
            assert (e.errno, v < 2) in ((errno.EINVAL, True), (errno.EBUSY, False)), e
            assert e.errno == errno.EINVAL or (shared > 0 or self.k.ksm.stable_nodes())
            assert self.k.sysfs.read("max_page_sharing") == was
            return
        assert v >= 2 and (v == was or shared == 0)
        assert self.k.sysfs.read("max_page_sharing") == v
        self.k.check()

    @rule(ms=st.sampled_from([0, 2000]))
    def set_chain_prune_interval(self, ms):
        self.k.sysfs.write("stable_node_chains_prune_millisecs", ms)
        self.k.check()


for machine in (KsmMachine, Ksm618Machine):
    machine.TestCase.settings = machine_settings(300)
TestKsmMachine = KsmMachine.TestCase
TestKsm618Machine = Ksm618Machine.TestCase
