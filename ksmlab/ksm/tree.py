"""The content-ordered trees KSM keeps (stable and unstable).

Simplification: the kernel's red-black tree is modelled as a sorted array walked by
bisection: the same order, the same O(log n) descent from a root, a different shape.
Each node remembers which tree really holds it, so erasing a node from a tree that does
not contain it (the 3.8+NUMA bug) is caught as the oops it would cause.
"""

from ..errors import KernelOops

__all__ = ["Tree"]


class Tree:
    """One tree root (``struct rb_root``); ``nodes`` in content order."""

    __slots__ = ("name", "nodes")

    def __init__(self, name: str):
        self.name = name
        self.nodes = []

    def __len__(self) -> int:
        return len(self.nodes)

    def __bool__(self) -> bool:
        return bool(self.nodes)

    def __iter__(self):
        return iter(self.nodes)

    def root(self):
        """The node a descent starts from (``root->rb_node``), or None when empty."""
        n = self.nodes
        return n[(len(n) - 1) // 2] if n else None

    def link(self, pos: int, node) -> None:
        """rb_link_node() + rb_insert_color() at the leaf position a descent ended on."""
        self.nodes.insert(pos, node)
        node.tree = self

    def erase(self, node) -> None:
        """rb_erase(): the node must be in this tree, or the kernel would corrupt memory."""
        if node.tree is not self:
            where = node.tree.name if node.tree is not None else "no tree"
            raise KernelOops(
                f"BUG: unable to handle kernel paging request in rb_erase: "
                f"{node!r} erased from {self.name} but it is linked in {where}"
            )
        self.nodes.remove(node)
        node.tree = None

    def replace(self, old, new) -> None:
        """rb_replace_node(): ``new`` takes ``old``'s place."""
        self.nodes[self.nodes.index(old)] = new
        old.tree = None
        new.tree = self

    def clear(self) -> None:
        """``root = RB_ROOT``: forget every node without touching them (unstable tree)."""
        for node in self.nodes:
            node.tree = None
        self.nodes = []
