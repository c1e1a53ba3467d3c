"""What the two Hypothesis state machines of the facade share (``test_statemachine.py``,
``test_misuse_machine.py``): the bookkeeping of live processes, their mappings and the bytes
each page was last written with; the rules whose shape is the same in both (spawn, fork,
exit, reclaim); the invariants and the teardown that check those bytes; the settings.

Hypothesis orders a machine's rules by name, wherever they are defined, so a rule here
draws its examples as it did in each machine."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ksmlab import PAGE_SIZE

PS = PAGE_SIZE
ZERO = bytes(PS)
ix = st.integers(0, 7)


def full(data: bytes) -> bytes:
    return data + bytes(PS - len(data))


def machine_settings(max_examples: int) -> settings:
    """Derandomized: the same examples on every run."""
    return settings(
        derandomize=True,
        max_examples=max_examples,
        stateful_step_count=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


class FacadeMachine(RuleBasedStateMachine):
    """Live processes (``procs``, in creation order), ``ref`` (pid -> {addr: bytes last
    written}) and ``maps`` (pid -> [(base, npages)]) over the Kernel ``k``. A subclass
    boots with ``_boot`` and says what else a fork and an exit mean in ``forked`` and
    ``exited``."""

    MAX_PROCS = 6

    def _boot(self, k):
        self.k = k
        self.procs = []
        self.ref = {}
        self.maps = {}
        self.names = 0

    # ---------------------------------------------------------------- bookkeeping

    def _name(self):
        self.names += 1
        return f"p{self.names}"

    def _new(self, p):
        self.procs.append(p)
        self.ref[p.pid] = {}
        self.maps[p.pid] = []
        return p

    def _proc(self, i):
        return self.procs[i % len(self.procs)]

    def _mapped(self, i):
        with_maps = [p for p in self.procs if self.maps[p.pid]]
        return with_maps[i % len(with_maps)]

    def _addr(self, p, m, j):
        """(base, npages, address) of page ``j`` of ``p``'s mapping ``m`` (both wrapped)."""
        maps = self.maps[p.pid]
        base, n = maps[m % len(maps)]
        return base, n, base + (j % n) * PS

    def _page(self, i, m, j):
        """(process, address) of a page in a mapping of the ``i``-th process with one."""
        p = self._mapped(i)
        return p, self._addr(p, m, j)[2]

    def has_procs(self):
        return bool(self.procs)

    def has_maps(self):
        return any(self.maps[p.pid] for p in self.procs)

    def forked(self, parent, child):
        """After ``child`` is forked from ``parent`` and has a copy of its ref and maps."""

    def exited(self, p):
        """After ``p`` exited and left ``procs``, ``ref`` and ``maps``."""

    # ---------------------------------------------------------------- rules

    @precondition(lambda self: len(self.procs) < self.MAX_PROCS)
    @rule()
    def spawn(self):
        self._new(self.k.spawn(self._name()))

    @precondition(lambda self: self.has_procs() and len(self.procs) < self.MAX_PROCS)
    @rule(i=ix)
    def fork(self, i):
        parent = self._proc(i)
        child = self._new(parent.fork(self._name()))
        self.ref[child.pid] = dict(self.ref[parent.pid])
        self.maps[child.pid] = list(self.maps[parent.pid])
        self.forked(parent, child)

    @precondition(has_procs)
    @rule(i=ix)
    def exit(self, i):
        p = self._proc(i)
        p.exit()
        self.procs.remove(p)
        del self.ref[p.pid], self.maps[p.pid]
        self.exited(p)

    @rule()
    def reclaim(self):
        assert self.k.reclaim() >= 0

    # ---------------------------------------------------------------- invariants

    @invariant()
    def model_invariants(self):
        if hasattr(self, "k"):
            self.k.check()

    @invariant()
    def present_pages_hold_last_write(self):
        if not hasattr(self, "k"):
            return
        for p in self.procs:
            for addr, want in self.ref[p.pid].items():
                if self.k.page_at(p, addr) is not None:
                    assert p.read(addr) == want, (p.name, hex(addr))

    def teardown(self):
        if not hasattr(self, "k"):
            return
        # Fault everything back in: every page must still hold its last write.
        for p in self.procs:
            for addr, want in self.ref[p.pid].items():
                assert p.read(addr) == want, (p.name, hex(addr))
        self.k.check()


# for the subclasses' @precondition decorators
has_procs = FacadeMachine.has_procs
has_maps = FacadeMachine.has_maps
