"""What a picture should point at: the boxes a step changed, and the boxes a violation
names. Both read only what the graphs and the violation text already say.

The violation texts are the model's own (invariants and scenario properties) and name
things the way the pictures' node ids do: ``P@0x7f0000001000`` is a PTE,
``page 0x2`` or ``KSM page 0x2`` a frame, ``StableNode#3`` a stable node, ``swap slot
1`` a slot, ``RmapItem(P@0x...)`` an rmap_item in a tree.
"""

import re

__all__ = ["changed_nodes", "culprit_nodes"]


def changed_nodes(before, after) -> set:
    """Nodes of graph ``after`` that are new or differ from ``before`` in what they show
    (label, kind) or in where their edges go."""
    if before is None:
        return set()
    out = set()
    for n, d in after.nodes(data=True):
        if n not in before:
            out.add(n)
            continue
        b = before.nodes[n]
        if b.get("label") != d.get("label") or b.get("kind") != d.get("kind"):
            out.add(n)
        elif set(before.successors(n)) != set(after.successors(n)):
            out.add(n)
    return out


_PTE = re.compile(r"\b([A-Za-z][\w-]*)@(0x[0-9a-f]+)")
_PAGE = re.compile(r"\b(?:KSM page|page|frame) (0x[0-9a-f]+)")
_STABLE = re.compile(r"StableNode#(\d+)")
_SLOT = re.compile(r"\bswap slot (\d+)")


def culprit_nodes(violation) -> set:
    """The node ids (memory map and trees alike) that the violation text names."""
    if not violation:
        return set()
    out = set()
    for owner, addr in _PTE.findall(violation):
        out.add(f"pte:{owner}:{addr}")
        out.add(f"rmap:{owner}:{addr}")
    for pfn in _PAGE.findall(violation):
        out.add(f"page:{pfn}")
    for serial in _STABLE.findall(violation):
        out.add(f"stable:{serial}")
    for slot in _SLOT.findall(violation):
        out.add(f"swap:{slot}")
    return out
