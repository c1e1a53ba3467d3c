"""Stateful fuzzing of the facade with bad calls mixed among the good ones.

A second state machine beside ``test_statemachine.py``: two NUMA nodes, all fixes, a few
live processes, some exited ones, and a second Kernel whose processes must never be
touched through the first. Good calls (spawn, fork, exit, mmap, write, read, madvise,
swap_out, reclaim, migrate, ksmd, sysfs) keep a reference of the bytes each page was last
written with and of the knobs last written. Bad calls cover every entry point with every
kind of bad argument (wrong types, bools for ints, out-of-range values, unaligned and
unmapped addresses, another kernel's process, exited processes, ksmd while it may not
scan); each must raise its documented error (TypeError/ValueError, or KernelError with
the kernel's errno) with a message, and leave both kernels exactly as they were.

After every step: ``k.check()`` passes, every present page reads back its last write,
every knob reads back its last write, and the other kernel is unchanged. At the end every
page is faulted back in and must hold its last write.

``KSMLAB_FUZZ_EXAMPLES`` sets the number of examples (default 300, derandomized).
"""

from __future__ import annotations

import errno
import os

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from ksmmachine import PS, ZERO, FacadeMachine, full, has_maps, has_procs, ix, machine_settings
from ksmtest import snapshot

from ksmlab import MADV_MERGEABLE, MADV_UNMERGEABLE, Fixes, Kernel, KernelError, KernelOops
from ksmlab.kernel import MAX_MAP_PAGES

CONTENTS = [b"alpha", b"alpha", b"beta", b"", b"\xff" * 64]
KNOB_VALUES = {"pages_to_scan": st.integers(1, 30), "sleep_millisecs": st.integers(0, 100)}

# Arguments of the wrong type for an int parameter: a bool is not a count either.
NOT_INTS = [None, True, False, 1.0, "1", b"1", [1]]
NOT_BYTES = [None, "x", 7, [1], memoryview(b"x")]
NOT_NAMES = [None, 5, b"x", 1.5, ["a"]]
BAD_KERNEL_ARGS = [
    ({"nodes": 0}, ValueError),
    ({"nodes": 65}, ValueError),
    ({"nodes": True}, TypeError),
    ({"nodes": "2"}, TypeError),
    ({"fixes": "all"}, TypeError),
]


def _err(exc, code=None):
    return (exc, code)


class MisuseMachine(FacadeMachine):
    MAX_PROCS = 5

    @initialize(contents=st.lists(st.integers(0, len(CONTENTS) - 1), min_size=2, max_size=6))
    def boot(self, contents):
        self._boot(Kernel(nodes=2, fixes=Fixes.all()))
        self.dead = []
        self.knobs = {}  # knob -> value last written
        p = self._new(self.k.spawn(self._name()))
        base = self._mmap(p, len(contents), 0)
        for j, c in enumerate(contents):
            self._write(p, base + j * PS, CONTENTS[c])
        p.madvise(base, len(contents), MADV_MERGEABLE)
        self._knob("run", 1)
        # Another machine: its process, a mapping with a written page, and an exited one.
        self.other = Kernel(nodes=2, fixes=Fixes.all())
        self.alien = self.other.spawn(self._name())  # the same name as none of ours
        self.alien_base = self.alien.mmap(2, node=1)
        self.alien.write(self.alien_base, b"alien")
        self.alien_dead = self.other.spawn("alien-dead")
        self.alien_dead.exit()
        self.other_snap = self._other_snapshot()
        self.k.check()

    # ---------------------------------------------------------------- bookkeeping

    def _mmap(self, p, n, node):
        base = p.mmap(n, node=node)
        self.maps[p.pid].append((base, n))
        for j in range(n):
            self.ref[p.pid][base + j * PS] = ZERO
        return base

    def _write(self, p, addr, data):
        p.write(addr, data)
        self.ref[p.pid][addr] = full(data)

    def _knob(self, name, value):
        self.k.sysfs.write(name, value)
        self.knobs[name] = value

    def _mappings(self):
        out = {p: list(self.maps[p.pid]) for p in self.procs}
        out.update({p: [] for p in self.dead})
        return out

    def _snapshot(self):
        return snapshot(self.k, self._mappings())

    def _other_snapshot(self):
        return snapshot(self.other, {self.alien: [(self.alien_base, 2)], self.alien_dead: []})

    def _not_procs(self):
        return [None, "p1", 1, self.k, self.other, self.k.sysfs]

    def _scans(self):
        return self.knobs["run"] == 1

    # ---------------------------------------------------------------- good calls

    def forked(self, parent, child):
        assert self.k.process(child.name) is child

    def exited(self, p):
        self.dead.append(p)
        assert self.k.process(p.name) is p and not p.alive

    @precondition(has_procs)
    @rule(i=ix, n=st.integers(1, 4), node=st.integers(0, 1), merge=st.booleans())
    def mmap(self, i, n, node, merge):
        p = self._proc(i)
        base = self._mmap(p, n, node)
        if merge:
            p.madvise(base, n, MADV_MERGEABLE)

    @precondition(has_maps)
    @rule(i=ix, m=ix, j=ix, c=st.integers(0, len(CONTENTS) - 1))
    def write(self, i, m, j, c):
        p, addr = self._page(i, m, j)
        self._write(p, addr, CONTENTS[c])
        assert p.read(addr) == full(CONTENTS[c])

    @precondition(has_maps)
    @rule(i=ix, m=ix, j=ix)
    def read(self, i, m, j):
        p, addr = self._page(i, m, j)
        assert p.read(addr) == self.ref[p.pid][addr]

    @precondition(has_maps)
    @rule(i=ix, m=ix, j=ix, count=st.integers(0, 4), merge=st.booleans())
    def madvise(self, i, m, j, count, merge):
        p = self._mapped(i)
        base, n, addr = self._addr(p, m, j)
        count = min(count, (base + n * PS - addr) // PS)
        p.madvise(addr, count, MADV_MERGEABLE if merge else MADV_UNMERGEABLE)

    @precondition(has_maps)
    @rule(i=ix, m=ix, j=ix)
    def swap_out(self, i, m, j):
        p, addr = self._page(i, m, j)
        present = self.k.page_at(p, addr) is not None
        try:
            assert self.k.swap_out(p, addr) >= 0
        except KernelError as e:
            assert e.errno == errno.ENOENT and not present

    @precondition(has_maps)
    @rule(i=ix, m=ix, j=ix, node=st.integers(0, 1))
    def migrate(self, i, m, j, node):
        p, addr = self._page(i, m, j)
        before = self.k.page_at(p, addr)
        try:
            pfn = self.k.migrate(p, addr, node)
        except KernelError as e:
            assert e.errno == (errno.ENOENT if before is None else errno.EAGAIN)
            return
        assert self.k.page_at(p, addr).pfn == pfn

    @precondition(_scans)
    @rule(pages=st.integers(0, 12))
    def scan(self, pages):
        assert 0 <= self.k.ksmd.scan(pages) <= pages

    @precondition(_scans)
    @rule(n=st.integers(0, 2))
    def passes(self, n):
        full_scans = self.k.sysfs.read("full_scans")
        self.k.ksmd.passes(n)
        assert self.k.sysfs.read("full_scans") >= full_scans

    @rule(v=st.sampled_from([0, 1, 1, 2]))
    def set_run(self, v):
        self._knob("run", v)

    @rule(data=st.data(), name=st.sampled_from(sorted(KNOB_VALUES)))
    def set_knob(self, data, name):
        self._knob(name, data.draw(KNOB_VALUES[name]))

    @rule(data=st.data())
    def switch(self, data):
        """merge_across_nodes is switched only with the trees empty: EBUSY otherwise."""
        try:
            self._knob("merge_across_nodes", data.draw(st.integers(0, 1)))
        except KernelError as e:
            assert e.errno == errno.EBUSY

    # ---------------------------------------------------------------- bad calls

    def _bad_calls(self, data, objects_only):
        """(label, call, expected exception type, errno or None) for one bad call."""
        k = self.k
        d = data.draw
        live = self.procs[d(ix) % len(self.procs)] if self.procs else None
        mapped = self._mapped(d(ix)) if self.has_maps() else None
        addr = self._addr(mapped, d(ix), d(ix))[2] if mapped else None
        kargs, kexc = d(st.sampled_from(BAD_KERNEL_ARGS))
        cases = [
            ("spawn(bad name)", lambda: k.spawn(d(st.sampled_from(NOT_NAMES))), TypeError, None),
            ("spawn('')", lambda: k.spawn(""), ValueError, None),
            ("process(bad name)", lambda: k.process(d(st.sampled_from(NOT_NAMES))), TypeError,
             None),
            ("process(unknown)", lambda: k.process("nobody"), ValueError, None),
            ("page_at(not a Process)", lambda: k.page_at(d(st.sampled_from(self._not_procs())), 0),
             TypeError, None),
            ("swap_out(not a Process)",
             lambda: k.swap_out(d(st.sampled_from(self._not_procs())), 0), TypeError, None),
            ("migrate(not a Process)",
             lambda: k.migrate(d(st.sampled_from(self._not_procs())), 0, 0), TypeError, None),
            ("page_at(alien dead)", lambda: k.page_at(self.alien_dead, 0), ValueError, None),
            ("Kernel(bad)", lambda: Kernel(**kargs), kexc, None),
            ("page_at(alien)", lambda: k.page_at(self.alien, self.alien_base), ValueError, None),
            ("swap_out(alien)", lambda: k.swap_out(self.alien, self.alien_base), ValueError,
             None),
            ("migrate(alien)", lambda: k.migrate(self.alien, self.alien_base, 0), ValueError,
             None),
            ("migrate(bad node)",
             lambda: k.migrate(self.alien, self.alien_base, d(st.sampled_from(NOT_INTS))),
             ValueError, None),
            ("sysfs.read(bad)", lambda: k.sysfs.read(d(st.sampled_from(NOT_NAMES))), TypeError,
             None),
            ("sysfs.read(unknown)", lambda: k.sysfs.read("pages_merged"), KernelError,
             errno.ENOENT),
            ("sysfs.write(unknown)", lambda: k.sysfs.write("pages_merged", 1), KernelError,
             errno.ENOENT),
            ("sysfs.write(counter)", lambda: k.sysfs.write("pages_shared", 0), KernelError,
             errno.EACCES),
            ("sysfs.write(a knob 3.9 lacks)",
             lambda: k.sysfs.write(d(st.sampled_from(["max_page_sharing", "smart_scan"])), 2),
             KernelError, errno.ENOENT),
            ("sysfs.read(a counter 3.9 lacks)", lambda: k.sysfs.read("pages_scanned"),
             KernelError, errno.ENOENT),
            ("sysfs.write(run=3)", lambda: k.sysfs.write("run", d(st.sampled_from([3, -1]))),
             KernelError, errno.EINVAL),
            ("sysfs.write(pages_to_scan=text)",
             lambda: k.sysfs.write("pages_to_scan", d(st.sampled_from(["x", "-5", "1.5"]))),
             KernelError, errno.EINVAL),
            ("sysfs.write(bad value)",
             lambda: k.sysfs.write("pages_to_scan", d(st.sampled_from([None, 1.5, [1]]))),
             TypeError, None),
            ("scan(bad pages)", lambda: k.ksmd.scan(d(st.sampled_from(NOT_INTS[1:]))),
             TypeError, None),
            ("scan(-1)", lambda: k.ksmd.scan(-1), ValueError, None),
            ("passes(bad n)", lambda: k.ksmd.passes(d(st.sampled_from(NOT_INTS))), TypeError,
             None),
            ("passes(-1)", lambda: k.ksmd.passes(-1), ValueError, None),
        ]
        if not self._scans():
            cases += [
                ("scan() while run!=1", lambda: k.ksmd.scan(), ValueError, None),
                ("full_scan() while run!=1", lambda: k.ksmd.full_scan(), ValueError, None),
                ("passes(1) while run!=1", lambda: k.ksmd.passes(1), ValueError, None),
            ]
        if self.dead:
            dead = self.dead[d(ix) % len(self.dead)]
            base = addr if addr is not None else 0
            cases += [
                ("dead.read", lambda: dead.read(base), KernelError, errno.ESRCH),
                ("dead.write", lambda: dead.write(base, b"x"), KernelError, errno.ESRCH),
                ("dead.mmap", lambda: dead.mmap(1), KernelError, errno.ESRCH),
                ("dead.madvise", lambda: dead.madvise(base, 1, MADV_MERGEABLE), KernelError,
                 errno.ESRCH),
                ("dead.fork", lambda: dead.fork(self._name()), KernelError, errno.ESRCH),
                ("dead.exit", lambda: dead.exit(), KernelError, errno.ESRCH),
                ("page_at(dead)", lambda: k.page_at(dead, base), KernelError, errno.ESRCH),
                ("swap_out(dead)", lambda: k.swap_out(dead, base), KernelError, errno.ESRCH),
                ("migrate(dead)", lambda: k.migrate(dead, base, 1), KernelError, errno.ESRCH),
                ("spawn(dead's name)", lambda: k.spawn(dead.name), ValueError, None),
            ]
        if live is not None:
            cases += [
                ("mmap(bad npages)", lambda: live.mmap(d(st.sampled_from(NOT_INTS))), TypeError,
                 None),
                ("mmap(<=0)", lambda: live.mmap(d(st.integers(-3, 0))), KernelError,
                 errno.EINVAL),
                ("mmap(huge)", lambda: live.mmap(d(st.integers(MAX_MAP_PAGES + 1, 1 << 70))),
                 KernelError, errno.ENOMEM),
                ("mmap(bad node)", lambda: live.mmap(1, node=d(st.sampled_from([2, -1, 99]))),
                 KernelError, errno.EINVAL),
                ("mmap(node type)", lambda: live.mmap(1, node=d(st.sampled_from(NOT_INTS))),
                 TypeError, None),
                ("read(unmapped)", lambda: live.read(0), KernelError, errno.EFAULT),
                ("read(bad addr)", lambda: live.read(d(st.sampled_from(NOT_INTS))), TypeError,
                 None),
                ("write(unmapped)", lambda: live.write(PS, b"x"), KernelError, errno.EFAULT),
                ("madvise(unmapped)", lambda: live.madvise(0, 1, MADV_MERGEABLE), KernelError,
                 errno.ENOMEM),
                ("fork(bad name)", lambda: live.fork(d(st.sampled_from(NOT_NAMES))), TypeError,
                 None),
                ("fork(used name)", lambda: live.fork(live.name), ValueError, None),
                ("page_at(bad addr)", lambda: k.page_at(live, d(st.sampled_from(NOT_INTS))),
                 TypeError, None),
                ("pte(bad addr)", lambda: live.pte(d(st.sampled_from(NOT_INTS))), TypeError,
                 None),
            ]
        if mapped is not None:
            odd = addr + d(st.integers(1, PS - 1))
            cases += [
                ("write(unaligned)", lambda: mapped.write(odd, b"x"), ValueError, None),
                ("write(bad data)", lambda: mapped.write(addr, d(st.sampled_from(NOT_BYTES))),
                 TypeError, None),
                ("write(too long)", lambda: mapped.write(addr, bytes(PS + 1)), ValueError, None),
                ("read(unaligned)", lambda: mapped.read(odd), ValueError, None),
                ("madvise(unaligned)", lambda: mapped.madvise(odd, 1, MADV_MERGEABLE),
                 KernelError, errno.EINVAL),
                ("madvise(negative)", lambda: mapped.madvise(addr, -1, MADV_MERGEABLE),
                 KernelError, errno.EINVAL),
                ("madvise(past end)", lambda: mapped.madvise(addr, 9, MADV_UNMERGEABLE),
                 KernelError, errno.ENOMEM),
                ("madvise(advice)", lambda: mapped.madvise(addr, 1, d(st.sampled_from([99, -1]))),
                 KernelError, errno.EINVAL),
                ("madvise(bad type)",
                 lambda: mapped.madvise(addr, d(st.sampled_from(NOT_INTS)), MADV_MERGEABLE),
                 TypeError, None),
                ("swap_out(unaligned)", lambda: k.swap_out(mapped, odd), ValueError, None),
                ("swap_out(bad addr)", lambda: k.swap_out(mapped, d(st.sampled_from(NOT_INTS))),
                 TypeError, None),
                ("migrate(no node)", lambda: k.migrate(mapped, addr, d(st.sampled_from([2, -1]))),
                 KernelError, errno.ENODEV),
                ("migrate(node type)",
                 lambda: k.migrate(mapped, addr, d(st.sampled_from(NOT_INTS))), TypeError, None),
                ("migrate(unaligned)", lambda: k.migrate(mapped, odd, 1), ValueError, None),
            ]
        if objects_only:
            cases = [c for c in cases if "alien" in c[0] or "dead" in c[0]]
        return cases[d(st.integers(0, len(cases) - 1))]

    @rule(data=st.data(), n=st.integers(1, 3))
    def bad_calls(self, data, n):
        for _ in range(n):
            self._bad_call(*self._bad_calls(data, objects_only=False))

    @rule(data=st.data())
    def bad_object_call(self, data):
        """Another kernel's process, or an exited one."""
        self._bad_call(*self._bad_calls(data, objects_only=True))

    def _bad_call(self, label, call, exc, code):
        before = self._snapshot()
        try:
            call()
        except KernelOops as oops:
            raise AssertionError(f"{label}: oops {oops}") from None
        except Exception as err:  # noqa: BLE001 - the type is what is checked
            assert isinstance(err, exc), f"{label}: {type(err).__name__}: {err}"
            if exc is not KernelError:
                assert not isinstance(err, KernelError), f"{label}: {err!r}"
            if code is not None:
                assert err.errno == code, f"{label}: errno {err.errno}, not {code}"
            assert str(err).strip(), f"{label}: empty message"
        else:
            raise AssertionError(f"{label} was accepted")
        assert self._snapshot() == before, f"{label} changed the model"

    # ---------------------------------------------------------------- invariants

    @invariant()
    def knobs_read_back_last_write(self):
        if not hasattr(self, "k"):
            return
        for name, value in self.knobs.items():
            assert self.k.sysfs.read(name) == value, name

    @invariant()
    def other_kernel_untouched(self):
        if hasattr(self, "k"):
            assert self._other_snapshot() == self.other_snap
            self.other.check()


MisuseMachine.TestCase.settings = machine_settings(
    int(os.environ.get("KSMLAB_FUZZ_EXAMPLES", "300"))
)
TestMisuseMachine = MisuseMachine.TestCase
