"""A canonical key for the complete state of a scheduler: the world, and every task's
suspended generator chain (code position, locals and evaluation stack, read through the
garbage collector's view of the frame). Two prefixes with equal keys have identical
futures, which lets the explorer skip what it has already explored.

Anything the key cannot describe raises TypeError, so a gap shows up as an error rather
than as an unsound prune.
"""

import gc
import types

from ..kernel import Kernel
from ..ksm.state import KsmScan, KsmState, MmSlot, RmapItem, StableNode, _Head
from ..ksm.tree import Tree
from ..mm.mm_types import AnonVma, MmStruct, Vma
from ..mm.page import AnonMapping, KsmMapping, Page, PhysMem
from ..mm.pte import MigrationEntry, Present, SwapEntry
from ..mm.swap import SwapSlot, SwapSpace
from ..sched.locks import Mutex, RwSem
from ..sched.points import Blocked, Point
from ..sched.scheduler import TaskState
from ..world import World

__all__ = ["state_key"]

_WHOLE = (World, Kernel, KsmState, PhysMem, SwapSpace)
_ITERATORS = (type(iter([])), type(iter(range(0))), enumerate, type(iter(())), type(reversed([])))


#: set while describing a frame when it holds a container, cell or iterator, whose content
#: another task could change while the frame is suspended; cleared by the caller
_shared = [False]


def _canon(v, depth=0):
    if depth > 40:
        raise TypeError("state key: object graph too deep")
    t = type(v)
    if t in _PLAIN:
        return v
    how = _BY_TYPE.get(t)
    if how is None:
        raise TypeError(f"state key: cannot describe a {t.__name__}")
    return how(v, depth + 1)


def _shared_seq(v, depth):
    _shared[0] = True
    return (type(v).__name__, *[_canon(x, depth) for x in v])


def _dict(v, depth):
    _shared[0] = True
    return ("dict",) + tuple(sorted((repr(_canon(k, depth)), _canon(x, depth))
                                    for k, x in v.items()))


def _cell(v, depth):
    _shared[0] = True
    try:
        return ("cell", _canon(v.cell_contents, depth))
    except ValueError:
        return ("cell",)


def _function(v, depth):
    _shared[0] = True
    cells = tuple([_canon(c.cell_contents, depth) for c in (v.__closure__ or ())])
    return ("fn", v.__qualname__, cells)


def _iterator(v, depth):
    _shared[0] = True
    fn, args, *state = v.__reduce__()
    return ("iter", _canon(args, depth), tuple([_canon(s, depth) for s in state]))


def _pte(v, depth):
    _shared[0] = True
    return (type(v).__name__, repr(v))


def _name_only(v, depth):   # the world and its parts: described by the world text
    return (type(v).__name__,)


_PLAIN = frozenset((type(None), int, str, bytes, bool, float))
_BY_TYPE = {
    tuple: lambda v, d: ("tuple", *[_canon(x, d) for x in v]),
    list: _shared_seq,
    dict: _dict,
    Page: lambda v, d: ("page", v.pfn),
    StableNode: lambda v, d: ("node", v.serial),
    RmapItem: lambda v, d: ("item", v.mm.owner, v.address),
    MmStruct: lambda v, d: ("mm", v.owner),
    Vma: lambda v, d: ("vma", v.mm.owner, v.start),
    MmSlot: lambda v, d: ("slot", v.mm.owner),
    AnonVma: lambda v, d: ("anon_vma", v.serial),
    SwapSlot: lambda v, d: ("swap", v.entry),
    Tree: lambda v, d: ("tree", v.name),
    RwSem: lambda v, d: ("lock", v.name),
    Mutex: lambda v, d: ("lock", v.name),
    Point: lambda v, d: ("point", v.label),
    Blocked: lambda v, d: ("point", v.label),
    types.GeneratorType: lambda v, d: _gen(v, d),
    types.CellType: _cell,
    types.FunctionType: _function,
    type: lambda v, d: ("type", v.__qualname__),
    range: lambda v, d: ("range", v.start, v.stop, v.step),
    TaskState: lambda v, d: ("task", v.name),
    Present: _pte,
    SwapEntry: _pte,
    MigrationEntry: _pte,
}
_BY_TYPE.update(dict.fromkeys(_ITERATORS, _iterator))
_BY_TYPE.update(dict.fromkeys(_WHOLE + (_Head, KsmScan, KsmMapping, AnonMapping), _name_only))


_NOT_HELD = (types.CodeType, dict, types.ModuleType)  # the code, globals, builtins


def _gen(g, depth):
    frame = g.gi_frame
    if frame is None:
        return ("gen", g.__qualname__, "finished")
    name, qualname, code = g.__name__, g.__qualname__, g.gi_code
    refs = []
    for r in gc.get_referents(g):  # what the frame holds: locals and evaluation stack
        t = type(r)
        if t in _NOT_HELD or r is frame:
            continue
        if t is str and (r == name or r == qualname):
            continue
        if t is types.FunctionType and r.__code__ is code:
            continue
        refs.append(r if t in _PLAIN and depth <= 40 else _canon(r, depth))
    return ("gen", qualname, frame.f_lasti, tuple(refs))


def state_key(sched, last=True) -> tuple:
    """The full state of ``sched``: world text and every task's position and locals; with
    ``last``, also which task ran last (what the next step's preemption cost depends on)."""
    tasks = tuple(
        (name, t.done, _canon(t.event), _task_key(t) if not t.done else None)
        for name, t in sorted(sched.tasks.items())
    )
    last = sched._last.name if last and sched._last is not None else None
    return (tuple(sched.world.describe()), tasks, last, sched.oops is not None)


def _task_key(t):
    """The description of a suspended task's generator chain. It is kept until the task
    steps again (``TaskState.key``, cleared by each step) when everything its frames hold
    is immutable or named by identity (pages, nodes, locks...: their content is in the
    world text), since then only the task's own step can change it."""
    if t.key is not None:
        return t.key
    _shared[0] = False
    key = _gen(t.gen, 0)
    if not _shared[0]:
        t.key = key
    return key
