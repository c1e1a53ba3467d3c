"""A broken property as a value: the message, and the objects it is about.

A :class:`Violation` is the message text itself (a ``str``: traces, counterexamples and
feedback print it unchanged) with ``culprits``, the objects it names, each as a plain
tuple that does not hold the object:

- ``("page", pfn)``, ``("stable", serial)``, ``("rmap", owner, address)``,
- ``("pte", owner, address)``, ``("swap", entry)``, ``("mm", owner)``,
  ``("vma", owner, start)``, ``("mm_slot", owner)``, ``("tree", name)``.

Two violations are equal when their messages are (the message names its culprits), so
they hash and compare as the old messages did.
"""

from ..ksm.state import MmSlot, RmapItem, StableNode
from ..ksm.tree import Tree
from ..mm.mm_types import MmStruct, Vma
from ..mm.page import Page

__all__ = ["Violation", "culprit", "pte", "swap_slot"]


class Violation(str):
    """What is broken: ``str(v)`` is the message; ``v.culprits`` the objects it names,
    sorted. Build with ``Violation(message, objects)``: each object a model object
    (page, stable node, rmap_item, mm, VMA, mm_slot, tree) or a named tuple from
    :func:`pte` / :func:`swap_slot`."""

    __slots__ = ("culprits",)

    def __new__(cls, message, objects=()):
        if not isinstance(message, str):
            raise TypeError(f"a violation's message is a str, not {type(message).__name__}")
        self = super().__new__(cls, message)
        self.culprits = tuple(sorted({culprit(o) for o in objects}))
        return self

    @property
    def message(self) -> str:
        return str.__str__(self)

    def __str__(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Violation({self.message!r}, culprits={self.culprits!r})"

    def __reduce__(self):
        return (_rebuild, (self.message, self.culprits))

    def prefixed(self, prefix: str) -> "Violation":
        """The same culprits under a longer message (``invariant NAME: ...``)."""
        return _rebuild(prefix + self.message, self.culprits)


def _rebuild(message, culprits):
    v = str.__new__(Violation, message)
    v.culprits = tuple(culprits)
    return v


def pte(mm, address: int) -> tuple:
    """The PTE of ``mm`` (an MmStruct or its owner's name) at ``address``."""
    owner = mm if isinstance(mm, str) else mm.owner
    return ("pte", owner, address)


def swap_slot(entry: int) -> tuple:
    return ("swap", entry)


def culprit(obj) -> tuple:
    """The culprit tuple naming model object ``obj`` (a tuple is taken as named)."""
    t = type(obj)
    if t is tuple:
        return obj
    if t is Page:
        return ("page", obj.pfn)
    if t is StableNode:
        return ("stable", obj.serial)
    if t is RmapItem:
        return ("rmap", obj.mm.owner, obj.address)
    if t is MmStruct:
        return ("mm", obj.owner)
    if t is Vma:
        return ("vma", obj.mm.owner, obj.start)
    if t is MmSlot:
        return ("mm_slot", obj.mm.owner)
    if t is Tree:
        return ("tree", obj.name)
    raise TypeError(f"a violation cannot name {t.__name__} objects as culprits")
