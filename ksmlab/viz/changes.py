"""What a picture should point at: the boxes a step changed, and the boxes a violation
names. The first compares the graphs; the second maps a Violation's culprits (see
ksmlab.check.violation) to the node ids the drawers give those objects: ``page:0x2``,
``stable:3``, ``rmap:P:0x7f..`` (trees), ``pte:P:0x7f..``, ``swap:1``, ``mm:P``,
``vma:P:0x7f..`` (memory map), ``slot:P`` (ring), ``root:stable tree 0`` (trees).
"""

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


_NODE_ID = {
    "page": lambda pfn: f"page:{pfn:#x}",
    "stable": lambda serial: f"stable:{serial}",
    "rmap": lambda owner, addr: f"rmap:{owner}:{addr:#x}",
    "pte": lambda owner, addr: f"pte:{owner}:{addr:#x}",
    "swap": lambda entry: f"swap:{entry}",
    "mm": lambda owner: f"mm:{owner}",
    "vma": lambda owner, start: f"vma:{owner}:{start:#x}",
    "mm_slot": lambda owner: f"slot:{owner}",
    "tree": lambda name: f"root:{name}",
}


def culprit_nodes(violation) -> set:
    """The node ids (memory map, trees and ring alike) of the objects ``violation``
    (a Violation, or None) names in its ``culprits``; its message is not read."""
    if not violation:
        return set()
    return {_NODE_ID[kind](*key) for kind, *key in violation.culprits}
