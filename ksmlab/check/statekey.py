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


def _canon(v, depth=0):
    if depth > 40:
        raise TypeError("state key: object graph too deep")
    t = type(v)
    if v is None or t in (int, str, bytes, bool, float):
        return v
    if t is tuple or t is list:
        return (t.__name__,) + tuple(_canon(x, depth + 1) for x in v)
    if t is dict:
        return ("dict",) + tuple(
            sorted((repr(_canon(k, depth + 1)), _canon(x, depth + 1)) for k, x in v.items())
        )
    if t is Page:
        return ("page", v.pfn)
    if t is StableNode:
        return ("node", v.serial)
    if t is RmapItem:
        return ("item", v.mm.owner, v.address)
    if t is MmStruct:
        return ("mm", v.owner)
    if t is Vma:
        return ("vma", v.mm.owner, v.start)
    if t is MmSlot:
        return ("slot", v.mm.owner)
    if t is AnonVma:
        return ("anon_vma", v.serial)
    if t is SwapSlot:
        return ("swap", v.entry)
    if t is Tree:
        return ("tree", v.name)
    if t is _Head or t is KsmScan:
        return (t.__name__,)
    if t is RwSem or t is Mutex:
        return ("lock", v.name)
    if t is Point or t is Blocked:
        return ("point", v.label)
    if t is types.GeneratorType:
        return _gen(v, depth + 1)
    if t is types.CellType:
        try:
            return ("cell", _canon(v.cell_contents, depth + 1))
        except ValueError:
            return ("cell",)
    if t is types.FunctionType:
        cells = tuple(_canon(c.cell_contents, depth + 1) for c in (v.__closure__ or ()))
        return ("fn", v.__qualname__, cells)
    if t in _ITERATORS:
        fn, args, *state = v.__reduce__()
        return ("iter", _canon(args, depth + 1), tuple(_canon(s, depth + 1) for s in state))
    if t is type:
        return ("type", v.__qualname__)
    if t is range:
        return ("range", v.start, v.stop, v.step)
    if t is TaskState:
        return ("task", v.name)
    if t in _WHOLE:           # the world and its parts: described by the world text
        return (t.__name__,)
    if t is KsmMapping or t is AnonMapping:
        return (t.__name__,)
    if t is Present or t is SwapEntry or t is MigrationEntry:
        return (t.__name__, repr(v))
    raise TypeError(f"state key: cannot describe a {t.__name__}")


def _gen(g, depth):
    frame = g.gi_frame
    if frame is None:
        return ("gen", g.__qualname__, "finished")
    refs = []
    for r in gc.get_referents(g):
        if type(r) in (types.CodeType, dict, types.ModuleType) or r is g.gi_frame:
            continue
        if type(r) is str and r in (g.__name__, g.__qualname__):
            continue
        if type(r) is types.FunctionType and r.__code__ is g.gi_code:
            continue
        refs.append(_canon(r, depth))
    return ("gen", g.__qualname__, frame.f_lasti, tuple(refs))


def state_key(sched) -> tuple:
    """The full state of ``sched``: world text and every task's position and locals."""
    tasks = tuple(
        (name, t.done, _canon(t.event), _gen(t.gen, 0) if not t.done else None)
        for name, t in sorted(sched.tasks.items())
    )
    last = sched._last.name if sched._last is not None else None
    return (tuple(sched.world.describe()), tasks, last, sched.oops is not None)
