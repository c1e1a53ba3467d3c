"""What happened in one run of a "be the scheduler" exercise: facts recorded after every
step, and the sentences they support.

Feedback on a schedule that ran clean is built only from these facts, each one a thing
that happened at a numbered step of that run (``Fact``), so it can be checked against the
replay.

>>> from ksmlab import scenarios
>>> from ksmlab.fixes import Fixes
>>> from ksmlab.sched.scheduler import Scheduler
>>> scn = scenarios.get("fork_behind_unmerge_cursor")
>>> s = Scheduler(scn, Fixes.all().without("cursor_insertion"))
>>> rec = RunRecord(s, [("P's mapping", "P", scn.p_addr), ("C's mapping", "C", scn.p_addr)])
>>> for name in ["F", "F", "U"]:
...     _ = s.step(name)
...     rec.record()
>>> for fact in rec.facts(registered=["C"]):
...     print(fact)
step 1: F took its first step
step 2 (F): C was registered with KSM
step 2 (F): C's mapping went from nothing to the KSM page
step 2: F finished
step 3: U took its first step
step 3 (U): run was set to 2
U never finished
>>> s.close()
"""

import errno

from ..mm.page import PageKsm
from ..mm.pte import MigrationEntry, Present, SwapEntry

__all__ = ["Fact", "RunRecord", "pte_kind", "KIND_TEXT"]

KIND_TEXT = {
    "ksm": "the KSM page",
    "private": "a private page",
    "swap": "a swap entry",
    "migration": "a migration entry",
    "none": "nothing",
}


def _mm(w, owner):
    for mm in w.mms:
        if mm.owner == owner:
            return mm
    return None


def pte_kind(w, owner, addr) -> str:
    """What ``owner`` maps at ``addr``: one of the keys of KIND_TEXT."""
    mm = _mm(w, owner)
    pte = None if mm is None else mm.ptes.get(addr)
    cls = pte.__class__
    if cls is Present:
        return "ksm" if PageKsm(pte.page) else "private"
    if cls is SwapEntry:
        return "swap"
    if cls is MigrationEntry:
        return "migration"
    return "none"


class Fact:
    """One thing that happened at a numbered step: ``kind`` and its ``args``.

    - ``("done", task, step, errors)``: the task finished with that step (``errors``: the
      refused writes of an administrator's script, else None);
    - ``("start", task, step)``: the task's first step;
    - ``("unfinished", task)``: the task never finished;
    - ``("pte", label, old, new, step, task)``: in that step the watched mapping changed;
    - ``("before", label, kind, step, task)``: the watched mapping just before the task's
      first step;
    - ``("knob", name, value, step, task)``: that step set a sysfs knob;
    - ``("registered", owner, step, task)``: that step registered the owner's mm;
    - ``("passed", owner, step, task)``: in that step the unmerge cursor left the owner's slot;
    - ``("waited", task, step, reason)``: that step left the task blocked;
    - ``("resumed", task, step)``: the task's first step after it had been blocked.
    """

    def __init__(self, kind, *args):
        self.kind = kind
        self.args = args

    def __eq__(self, other):
        return isinstance(other, Fact) and (self.kind, self.args) == (other.kind, other.args)

    def __hash__(self):
        return hash((self.kind, self.args))

    def __repr__(self) -> str:
        return f"Fact{(self.kind, *self.args)!r}"

    def __str__(self) -> str:
        k, a = self.kind, self.args
        if k == "done":
            task, step, result = a
            return f"step {step}: {task} finished{_refused(result)}"
        if k == "start":
            return f"step {a[1]}: {a[0]} took its first step"
        if k == "unfinished":
            return f"{a[0]} never finished"
        if k == "pte":
            label, old, new, step, task = a
            return f"step {step} ({task}): {label} went from {KIND_TEXT[old]} to {KIND_TEXT[new]}"
        if k == "before":
            label, kind, step, task = a
            return f"when {task} first ran (step {step}), {label} was {KIND_TEXT[kind]}"
        if k == "knob":
            name, value, step, task = a
            return f"step {step} ({task}): {name} was set to {value}"
        if k == "registered":
            owner, step, task = a
            return f"step {step} ({task}): {owner} was registered with KSM"
        if k == "passed":
            owner, step, task = a
            return f"step {step} ({task}): the unmerge walk finished {owner} and moved on"
        if k == "waited":
            task, step, reason = a
            return f"step {step}: {task} had to wait ({reason})"
        if k == "resumed":
            return f"step {a[1]}: {a[0]} ran again"
        raise ValueError(f"unknown fact kind {k!r}")


def _refused(result) -> str:
    """The refused sysfs writes of an administrator's script (its list of errors)."""
    if not isinstance(result, list) or not result:
        return ""
    parts = [f"echo {value} > {name} was refused with {errno.errorcode.get(code, code)}"
             for name, value, code in result]
    return "; " + ", ".join(parts)


class RunRecord:
    """Snapshots of a ``Scheduler``'s world, one before the first step and one after each
    ``record()``: the watched mappings, the knobs, the registered mms and the cursor."""

    def __init__(self, sched, watch):
        self.sched = sched
        self.watch = list(watch)
        self.snaps = [self._snap()]

    def _snap(self) -> dict:
        w = self.sched.world
        ksm = w.ksm
        cur = ksm.ksm_scan.mm_slot
        return {
            "pte": {label: pte_kind(w, owner, addr) for label, owner, addr in self.watch},
            "run": ksm.run,
            "merge_across_nodes": ksm.merge_across_nodes,
            "slots": {mm.owner for mm in ksm.mm_slots_hash},
            "cursor": None if cur is ksm.head else cur.mm.owner,
        }

    def record(self) -> None:
        """Take the snapshot after the step just taken."""
        self.snaps.append(self._snap())

    # -- the facts --------------------------------------------------------------------
    def first(self, task):
        """The step number of ``task``'s first step, or None."""
        for ev in self.sched.trace:
            if ev.task == task:
                return ev.index
        return None

    def done_step(self, task):
        for ev in self.sched.trace:
            if ev.task == task and ev.label in ("done", "OOPS"):
                return ev.index
        return None

    def kind_before(self, label, step) -> str:
        return self.snaps[step - 1]["pte"][label]

    def changes(self, label) -> list:
        """(step, old, new) for each change of a watched mapping."""
        out = []
        for i in range(1, len(self.snaps)):
            old, new = self.snaps[i - 1]["pte"][label], self.snaps[i]["pte"][label]
            if old != new:
                out.append((i, old, new))
        return out

    def knob_steps(self, name) -> list:
        """(step, value) for each change of a knob."""
        return [(i, self.snaps[i][name]) for i in range(1, len(self.snaps))
                if self.snaps[i][name] != self.snaps[i - 1][name]]

    def registered_step(self, owner):
        for i in range(1, len(self.snaps)):
            if owner in self.snaps[i]["slots"] and owner not in self.snaps[i - 1]["slots"]:
                return i
        return None

    def passed_step(self, owner):
        """The step in which the unmerge walk (run=2) moved the cursor off ``owner``."""
        for i in range(1, len(self.snaps)):
            before, after = self.snaps[i - 1], self.snaps[i]
            if before["cursor"] == owner and after["cursor"] != owner and after["run"] == 2:
                return i
        return None

    def resumed_step(self, task):
        """The first step of ``task`` after a step that left it blocked, or None."""
        waiting = False
        for ev in self.sched.trace:
            if ev.task == task:
                if waiting:
                    return ev.index
                waiting = ev.detail.startswith("blocked: ")
        return None

    def first_running(self, task):
        """The first step after which ``task`` was not left blocked, or None."""
        for ev in self.sched.trace:
            if ev.task == task and not ev.detail.startswith("blocked: "):
                return ev.index
        return None

    def task_of(self, step) -> str:
        return self.sched.trace[step - 1].task

    def facts(self, tasks=None, labels=None, knobs=("run",), registered=(), passed=(),
              before=()) -> list:
        """The facts of this run, in step order: the first and last step of each of
        ``tasks`` (all by default), the changes of the watched mappings (``labels``, all by
        default), the knob changes, the registrations and cursor passes of the named
        owners, the waits and resumptions, and ``before``: (label, task) pairs, what the
        mapping was when the task first ran."""
        s = self.sched
        tasks = sorted(s.tasks) if tasks is None else tasks
        labels = [label for label, _, _ in self.watch] if labels is None else labels
        out = []
        for t in tasks:
            first, end = self.first(t), self.done_step(t)
            if first is not None and first != end:
                out.append((first, 0, Fact("start", t, first)))
            if end is not None:
                result = s.tasks[t].result
                errors = result if isinstance(result, list) else None  # a script's errors
                out.append((end, 9, Fact("done", t, end, errors)))
            else:
                out.append((10**9, 9, Fact("unfinished", t)))
            step = self.resumed_step(t)
            if step is not None:
                out.append((step, 2, Fact("resumed", t, step)))
        for label in labels:
            for step, old, new in self.changes(label):
                out.append((step, 5, Fact("pte", label, old, new, step, self.task_of(step))))
        for name in knobs:
            for step, value in self.knob_steps(name):
                out.append((step, 3, Fact("knob", name, value, step, self.task_of(step))))
        for owner in registered:
            step = self.registered_step(owner)
            if step is not None:
                out.append((step, 4, Fact("registered", owner, step, self.task_of(step))))
        for owner in passed:
            step = self.passed_step(owner)
            if step is not None:
                out.append((step, 6, Fact("passed", owner, step, self.task_of(step))))
        for label, task in before:
            step = self.first(task)
            if step is not None:
                kind = self.kind_before(label, step)
                out.append((step, 1, Fact("before", label, kind, step, task)))
        for ev in s.trace:
            if ev.task in tasks and ev.detail.startswith("blocked: "):
                reason = ev.detail.removeprefix("blocked: ")
                out.append((ev.index, 8, Fact("waited", ev.task, ev.index, reason)))
        out.sort(key=lambda item: (item[0], item[1]))
        return [f for _, _, f in out]
