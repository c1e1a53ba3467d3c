"""Workloads: what the live lab runs, unchanged, on the model and on the machine's kernel.

A workload is a name, a one-line title, and a list of steps. Each step is a tuple:

=========================================  =================================================
``("spawn", name, npages)``                a new process with one private anonymous mapping
                                           of ``npages`` pages (untouched: nothing present)
``("write", proc, first, contents)``       write pages ``first``, ``first+1``, ... (one
                                           ``str``/``bytes`` or a list; zero-padded to a page)
``("madvise", proc, first, npages, adv)``  ``adv`` is ``"mergeable"`` or ``"unmergeable"``
``("fork", parent, child)``                fork(): ``child`` maps what ``parent`` maps (COW)
``("exit", proc)``                         the process exits; its mm goes
``("pass",)``                              ksmd runs until the pass in progress (or a whole
                                           new one) ends
``("batch", npages)``                      ksmd runs exactly one batch (``ksm_do_scan()``)
                                           of at most ``npages`` pages (``pages_to_scan``);
                                           it stops early where a pass ends
``("sysfs", knob, value)``                 write ``run`` or ``merge_across_nodes``; a
                                           rejected write is an observation (its errno)
``("read", proc, first, npages)``          read pages back; the contents are observed
=========================================  =================================================

KSM starts with ``run=1`` on both sides (the kernel driver parks the real knob at 0 between
passes; see ``docs/live-lab.md``). Every page is observed after every step anyway; ``read``
only makes some contents visible in the table.

:func:`validate` checks a workload completely before anything runs: unknown steps, unknown
or exited processes, pages out of range, a pass while ``run`` is not 1 or while nothing is
mergeable, more than :data:`MAX_SHARING` identical mergeable pages (the live kernel would
start a stable-node chain, which 3.9 does not have). A :class:`WorkloadError` names the step.

>>> w = Workload("tiny", "two equal pages", [
...     ("spawn", "a", 2), ("write", "a", 0, ["X", "X"]), ("madvise", "a", 0, 2, "mergeable"),
...     ("pass",), ("pass",)])
>>> validate(w)
>>> step_text(w.steps[1])
'a: write 0..1 = X X'
>>> validate(Workload("bad", "", [("spawn", "a", 2), ("write", "a", 2, "X")]))
Traceback (most recent call last):
...
ksmlab.live.workload.WorkloadError: step 1 ('write', 'a', 2, 'X'): page 2 is out of range: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..mm.page import PAGE_SIZE

__all__ = [
    "Workload",
    "WorkloadError",
    "KnownDifference",
    "validate",
    "step_text",
    "page_bytes",
    "OPS",
    "KNOBS",
    "ADVICE",
    "MAX_PAGES",
    "MAX_SHARING",
]

OPS = ("spawn", "write", "madvise", "fork", "exit", "pass", "batch", "sysfs", "read")
#: knobs a workload may write; the driver owns the others (pages_to_scan, sleep_millisecs,
#: smart_scan, use_zero_pages) for the whole run.
KNOBS = ("run", "merge_across_nodes")
ADVICE = ("mergeable", "unmergeable")
#: pages over all processes (forks included): well below the driver's pages_to_scan, so
#: a ``pass`` step is one ksmd batch.
MAX_PAGES = 16384
#: identical mergeable pages allowed at a pass: the live kernel's max_page_sharing (256,
#: 4.13+) splits a bigger group into a chain of stable nodes, which 3.9 does not have.
MAX_SHARING = 256
_ARITY = {
    "spawn": 3,
    "write": 4,
    "madvise": 5,
    "fork": 3,
    "exit": 2,
    "pass": 1,
    "batch": 2,
    "sysfs": 3,
    "read": 4,
}


class WorkloadError(ValueError):
    """A workload that cannot run; raised before anything touches a kernel."""


@dataclass(frozen=True)
class KnownDifference:
    """Where this workload is expected to show the 3.9 model and the live kernel apart:
    at ``step``, in the observations named by ``fields`` (counter names, or
    ``"proc.stat_name"``), because of the kernel change ``commit``."""

    step: int
    fields: tuple
    commit: str
    why: str


@dataclass
class Workload:
    name: str
    title: str
    steps: list
    notes: str = ""
    known_differences: tuple = field(default=())

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "steps": [_jsonable(s) for s in self.steps],
        }

    @property
    def passes(self) -> int:
        """The ``pass`` steps (a ``batch`` step is part of a pass)."""
        return sum(1 for s in self.steps if s[0] == "pass")


def _jsonable(step):
    out = []
    for x in step:
        if isinstance(x, (list, tuple)):
            out.append([_content_json(c) for c in x])
        else:
            out.append(_content_json(x))
    return out


def _content_json(x):
    if isinstance(x, (bytes, bytearray)):
        try:
            return {"bytes": bytes(x).decode("ascii")}
        except UnicodeDecodeError:
            return {"hex": bytes(x).hex()}
    return x


def page_bytes(content) -> bytes:
    """The bytes a ``write`` step stores (before zero-padding to a page)."""
    if isinstance(content, str):
        return content.encode()
    if isinstance(content, (bytes, bytearray)):
        return bytes(content)
    if isinstance(content, dict) and set(content) == {"bytes"}:
        return content["bytes"].encode("ascii")
    if isinstance(content, dict) and set(content) == {"hex"}:
        return bytes.fromhex(content["hex"])
    raise TypeError(f"page contents must be str or bytes, not {type(content).__name__}")


def contents_of(step) -> list:
    """The list of page contents of a ``write`` step."""
    c = step[3]
    return list(c) if isinstance(c, (list, tuple)) else [c]


def _short(content) -> str:
    data = page_bytes(content)
    text = data.decode("utf-8", "backslashreplace")
    return text if len(text) <= 12 else text[:10] + "…"


def step_text(step) -> str:
    """A short human reading of a step."""
    op = step[0]
    if op == "spawn":
        return f"spawn {step[1]} ({step[2]} pages)"
    if op == "write":
        cs = contents_of(step)
        rng = f"{step[2]}" if len(cs) == 1 else f"{step[2]}..{step[2] + len(cs) - 1}"
        shown = " ".join(_short(c) for c in cs[:6]) + (" …" if len(cs) > 6 else "")
        return f"{step[1]}: write {rng} = {shown}"
    if op == "madvise":
        adv = "MERGEABLE" if step[4] == "mergeable" else "UNMERGEABLE"
        return f"{step[1]}: madvise {step[2]}..{step[2] + step[3] - 1} {adv}"
    if op == "fork":
        return f"{step[1]}: fork → {step[2]}"
    if op == "exit":
        return f"{step[1]}: exit"
    if op == "pass":
        return "ksmd: one full pass"
    if op == "batch":
        return f"ksmd: one batch of {step[1]} pages"
    if op == "sysfs":
        return f"echo {step[2]} > {step[1]}"
    if op == "read":
        return f"{step[1]}: read {step[2]}..{step[2] + step[3] - 1}"
    return repr(step)


class _Proc:
    __slots__ = ("npages", "alive", "mergeable", "contents", "registered")

    def __init__(self, npages):
        self.npages = npages
        self.alive = True
        self.mergeable = [False] * npages
        self.contents = [None] * npages
        self.registered = False


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def validate(workload: Workload) -> None:
    """Raise :class:`WorkloadError` unless every step of ``workload`` can run."""
    if not isinstance(workload, Workload):
        raise WorkloadError(f"not a Workload: {workload!r}")
    if not isinstance(workload.steps, (list, tuple)) or not workload.steps:
        raise WorkloadError(f"workload {workload.name!r} has no steps")
    procs: dict[str, _Proc] = {}
    run = 1
    total = 0
    for i, step in enumerate(workload.steps):

        def fail(msg, i=i, step=step):
            raise WorkloadError(f"step {i} {tuple(step)!r}: {msg}")

        if not isinstance(step, (list, tuple)) or not step:
            raise WorkloadError(f"step {i} {step!r}: a step is a non-empty tuple")
        op = step[0]
        if op not in OPS:
            fail(f"unknown step {op!r} (known: {', '.join(OPS)})")
        if len(step) != _ARITY[op]:
            fail(f"{op!r} takes {_ARITY[op] - 1} arguments, not {len(step) - 1}")

        def proc(name, fail=fail):
            if not isinstance(name, str) or name not in procs:
                fail(f"unknown process {name!r}")
            p = procs[name]
            if not p.alive:
                fail(f"process {name!r} has exited")
            return p

        def new_name(name, fail=fail):
            if not isinstance(name, str) or not name or not name.isprintable() or " " in name:
                fail(f"process name {name!r} must be a non-empty printable str without blanks")
            if name in procs:
                fail(f"a process is already called {name!r}")

        def page_range(p, name, first, n, fail=fail):
            if not _is_int(first) or not _is_int(n):
                fail("page numbers must be ints")
            if n < 1:
                fail(f"{n} pages: at least one page")
            if first < 0 or first + n > p.npages:
                bad = first if first < 0 or first >= p.npages else first + n - 1
                fail(f"page {bad} is out of range: {name} has pages 0..{p.npages - 1}")

        if op == "spawn":
            new_name(step[1])
            if not _is_int(step[2]) or step[2] < 1:
                fail(f"npages must be a positive int, not {step[2]!r}")
            total += step[2]
            procs[step[1]] = _Proc(step[2])
        elif op == "write":
            p = proc(step[1])
            cs = contents_of(step)
            page_range(p, step[1], step[2], len(cs))
            for j, c in enumerate(cs):
                try:
                    data = page_bytes(c)
                except TypeError as e:
                    fail(str(e))
                if len(data) > PAGE_SIZE:
                    fail(f"{len(data)} bytes do not fit in a page ({PAGE_SIZE})")
                p.contents[step[2] + j] = data.rstrip(b"\0")
        elif op == "madvise":
            p = proc(step[1])
            page_range(p, step[1], step[2], step[3])
            if step[4] not in ADVICE:
                fail(f"advice {step[4]!r} is not one of {ADVICE}")
            on = step[4] == "mergeable"
            for j in range(step[2], step[2] + step[3]):
                p.mergeable[j] = on
            p.registered = p.registered or on
        elif op == "fork":
            parent = proc(step[1])
            new_name(step[2])
            child = _Proc(parent.npages)
            child.mergeable = list(parent.mergeable)
            child.contents = list(parent.contents)
            child.registered = parent.registered
            total += parent.npages
            procs[step[2]] = child
        elif op == "exit":
            proc(step[1]).alive = False
        elif op in ("pass", "batch"):
            if op == "batch" and (not _is_int(step[1]) or not 1 <= step[1] <= MAX_PAGES):
                fail(f"a batch is 1..{MAX_PAGES} pages, not {step[1]!r}")
            if run != 1:
                fail(f"ksmd does not scan while run={run}: write 1 to run first")
            if not any(p.alive and any(p.mergeable) for p in procs.values()):
                fail("no live process has a mergeable page: ksmd would not make a pass")
            groups: dict = {}
            for p in procs.values():
                if p.alive:
                    for j in range(p.npages):
                        if p.mergeable[j] and p.contents[j] is not None:
                            groups[p.contents[j]] = groups.get(p.contents[j], 0) + 1
            big = max(groups.values(), default=0)
            if big > MAX_SHARING:
                fail(
                    f"{big} identical mergeable pages: more than max_page_sharing "
                    f"({MAX_SHARING}) on the live kernel, whose stable-node chains 3.9 lacks"
                )
        elif op == "sysfs":
            if step[1] not in KNOBS:
                fail(
                    f"knob {step[1]!r} is not one a workload may write ({', '.join(KNOBS)}); "
                    "the driver owns the others"
                )
            if not _is_int(step[2]) or step[2] < 0:
                fail(f"value {step[2]!r} must be a non-negative int")
            if step[1] == "run" and step[2] <= 2:
                run = step[2]
        elif op == "read":
            p = proc(step[1])
            page_range(p, step[1], step[2], step[3])
        if total > MAX_PAGES:
            fail(f"{total} pages in all: at most {MAX_PAGES}")
    for d in workload.known_differences:
        if not isinstance(d, KnownDifference) or not 0 <= d.step < len(workload.steps):
            raise WorkloadError(f"known difference {d!r} does not name a step of the workload")
