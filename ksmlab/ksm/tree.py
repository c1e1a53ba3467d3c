"""The content-ordered trees KSM keeps (stable and unstable): ``lib/rbtree.c``.

A tree is a red-black tree with the kernel's algorithms (3.9's lib/rbtree.c, unchanged
since Michel Lespinasse's rewrite for 3.7): the caller descends from ``rb_node`` itself,
comparing live page contents, and links the new node at the leaf it reached
(:meth:`Tree.link` is ``rb_link_node()`` + ``rb_insert_color()``); :meth:`Tree.erase` is
``rb_erase()`` (the successor takes a two-child node's place, then
``__rb_erase_color()`` rebalances), :meth:`Tree.replace` is ``rb_replace_node()`` and
iteration is ``rb_first()``/``rb_next()``. So the shape, and with it the nodes a descent
meets, is the kernel's for the same sequence of inserts and erases.

As in the kernel, the tree node is embedded in the object it orders (``struct
stable_node`` and ``struct rmap_item`` each hold a ``struct rb_node``): those classes
carry the slots in :data:`RB_SLOTS`. Each object also remembers which tree really holds
it, so erasing a node from a tree that does not contain it (the 3.8+NUMA bug) is caught as
the oops it would cause, before any pointer is touched.

>>> class N:
...     __slots__ = ("key", "tree") + RB_SLOTS
...     def __init__(self, key):
...         self.key, self.tree = key, None
...         rb_init(self)
>>> t = Tree("t")
>>> for k in (1, 2, 3):       # each descent goes right: 3 makes 1-2-3 a line, rotated
...     parent = t.rb_node
...     while parent is not None and parent.rb_right is not None:
...         parent = parent.rb_right
...     t.link(N(k), parent, False)
>>> t.shape(lambda n: str(n.key))
'((1/r) 2/b (3/r))'
>>> [n.key for n in t]
[1, 2, 3]
"""

from ..errors import KernelOops

__all__ = ["Tree", "RB_SLOTS", "rb_init", "rb_next"]

#: the ``struct rb_node`` fields, embedded in StableNode and RmapItem
RB_SLOTS = ("rb_parent", "rb_left", "rb_right", "rb_red")


def rb_init(node) -> None:
    """A node in no tree (its rb fields cleared)."""
    node.rb_parent = node.rb_left = node.rb_right = None
    node.rb_red = False


def rb_next(node):
    """rb_next(): the in-order successor of ``node``, or None after the last."""
    child = node.rb_right
    if child is not None:
        while child.rb_left is not None:
            child = child.rb_left
        return child
    parent = node.rb_parent
    while parent is not None and node is parent.rb_right:
        node, parent = parent, parent.rb_parent
    return parent


class Tree:
    """One tree root (``struct rb_root``); iterating gives the nodes in content order."""

    __slots__ = ("name", "rb_node", "count")

    def __init__(self, name: str):
        self.name = name
        self.rb_node = None  # the root node, where every descent starts
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.rb_node is not None

    def __iter__(self):
        node = self.first()
        while node is not None:
            yield node
            node = rb_next(node)

    @property
    def nodes(self) -> list:
        """Every node in content order (an rb_first()/rb_next() walk)."""
        return list(self)

    def root(self):
        """The node a descent starts from (``root->rb_node``), or None when empty."""
        return self.rb_node

    def first(self):
        """rb_first(): the leftmost node, or None when empty."""
        node = self.rb_node
        if node is not None:
            while node.rb_left is not None:
                node = node.rb_left
        return node

    # -- helpers of lib/rbtree.c -----------------------------------------------------
    def _change_child(self, old, new, parent) -> None:
        """__rb_change_child(): whatever pointed at ``old`` from above now points at ``new``."""
        if parent is None:
            self.rb_node = new
        elif parent.rb_left is old:
            parent.rb_left = new
        else:
            parent.rb_right = new

    def _rotate_set_parents(self, old, new, red: bool) -> None:
        """__rb_rotate_set_parents(): ``new`` takes ``old``'s parent and colour; ``old``
        goes under ``new`` with colour ``red``."""
        parent = old.rb_parent
        new.rb_parent = parent
        new.rb_red = old.rb_red
        old.rb_parent = new
        old.rb_red = red
        self._change_child(old, new, parent)

    # -- the operations KSM uses -------------------------------------------------------
    def link(self, node, parent, left: bool) -> None:
        """rb_link_node() + rb_insert_color(): hang ``node`` (red) as ``parent``'s left or
        right child (the leaf a descent ended on; ``parent`` None: the empty root), then
        restore the red-black rules by recolouring and at most two rotations."""
        node.rb_parent = parent
        node.rb_left = node.rb_right = None
        node.rb_red = True
        if parent is None:
            self.rb_node = node
        elif left:
            parent.rb_left = node
        else:
            parent.rb_right = node
        node.tree = self
        self.count += 1
        self._insert_color(node)

    def _insert_color(self, node) -> None:
        parent = node.rb_parent
        while True:  # node is red
            if parent is None:
                node.rb_red = False  # the root is black
                return
            if not parent.rb_red:
                return
            gparent = parent.rb_parent  # exists: a red parent is never the root
            uncle = gparent.rb_right
            if parent is not uncle:  # parent is gparent's left child
                if uncle is not None and uncle.rb_red:
                    # case 1: flip colours, and go on from the grandparent
                    uncle.rb_red = parent.rb_red = False
                    gparent.rb_red = True
                    node = gparent
                    parent = node.rb_parent
                    continue
                tmp = parent.rb_right
                if node is tmp:
                    # case 2: rotate left at parent, so node is on parent's outer side
                    tmp = node.rb_left
                    parent.rb_right = tmp
                    node.rb_left = parent
                    if tmp is not None:
                        tmp.rb_parent = parent
                    parent.rb_parent = node
                    parent = node
                    tmp = node.rb_right
                # case 3: rotate right at gparent; parent goes up, black
                gparent.rb_left = tmp
                parent.rb_right = gparent
                if tmp is not None:
                    tmp.rb_parent = gparent
                self._rotate_set_parents(gparent, parent, True)
                return
            uncle = gparent.rb_left  # mirror image: parent is gparent's right child
            if uncle is not None and uncle.rb_red:
                uncle.rb_red = parent.rb_red = False
                gparent.rb_red = True
                node = gparent
                parent = node.rb_parent
                continue
            tmp = parent.rb_left
            if node is tmp:
                tmp = node.rb_right
                parent.rb_left = tmp
                node.rb_right = parent
                if tmp is not None:
                    tmp.rb_parent = parent
                parent.rb_parent = node
                parent = node
                tmp = node.rb_left
            gparent.rb_right = tmp
            parent.rb_left = gparent
            if tmp is not None:
                tmp.rb_parent = gparent
            self._rotate_set_parents(gparent, parent, True)
            return

    def erase(self, node) -> None:
        """rb_erase(): the node must be in this tree, or the kernel would corrupt memory."""
        if node.tree is not self:
            where = node.tree.name if node.tree is not None else "no tree"
            raise KernelOops(
                f"BUG: unable to handle kernel paging request in rb_erase: "
                f"{node!r} erased from {self.name} but it is linked in {where}",
                [node],
            )
        rebalance = self._erase(node)
        if rebalance is not None:
            self._erase_color(rebalance)
        node.tree = None
        rb_init(node)
        self.count -= 1

    def _erase(self, node):
        """__rb_erase(): unlink ``node``; returns the parent under which one black is
        missing (the rebalancing starts there), or None."""
        child, left = node.rb_right, node.rb_left
        parent = node.rb_parent
        if left is None:
            # at most one child (the right one, red): it takes node's place and colour
            self._change_child(node, child, parent)
            if child is not None:
                child.rb_parent, child.rb_red = parent, node.rb_red
                return None
            return None if node.rb_red else parent
        if child is None:
            # only a left child (red): the same, on the other side
            left.rb_parent, left.rb_red = parent, node.rb_red
            self._change_child(node, left, parent)
            return None
        # two children: the successor (leftmost on the right) takes node's place
        successor = child
        tmp = child.rb_left
        if tmp is None:
            # the successor is node's right child
            sparent = successor
            child2 = successor.rb_right
        else:
            while tmp is not None:
                sparent = successor
                successor = tmp
                tmp = tmp.rb_left
            child2 = successor.rb_right
            sparent.rb_left = child2
            successor.rb_right = child
            child.rb_parent = successor
        successor.rb_left = left
        left.rb_parent = successor
        self._change_child(node, successor, parent)
        was_red = successor.rb_red
        successor.rb_parent, successor.rb_red = parent, node.rb_red
        if child2 is not None:
            child2.rb_parent, child2.rb_red = sparent, False
            return None
        return None if was_red else sparent

    def _erase_color(self, parent) -> None:
        """__rb_erase_color(): paths through ``parent`` on the side ``node`` hangs (None
        at first) have one black fewer than the others; recolour and rotate until not."""
        node = None
        while True:
            sibling = parent.rb_right
            if node is not sibling:  # node is parent's left child
                if sibling.rb_red:
                    # case 1: rotate left at parent; the new sibling is black
                    tmp1 = sibling.rb_left
                    parent.rb_right = tmp1
                    sibling.rb_left = parent
                    tmp1.rb_parent, tmp1.rb_red = parent, False
                    self._rotate_set_parents(parent, sibling, True)
                    sibling = tmp1
                tmp1 = sibling.rb_right
                if tmp1 is None or not tmp1.rb_red:
                    tmp2 = sibling.rb_left
                    if tmp2 is None or not tmp2.rb_red:
                        # case 2: the sibling turns red; a red parent absorbs the
                        # missing black, a black one passes it up
                        sibling.rb_red = True
                        if parent.rb_red:
                            parent.rb_red = False
                        else:
                            node = parent
                            parent = node.rb_parent
                            if parent is not None:
                                continue
                        return
                    # case 3: rotate right at sibling, so its red child is outside
                    tmp1 = tmp2.rb_right
                    sibling.rb_left = tmp1
                    tmp2.rb_right = sibling
                    parent.rb_right = tmp2
                    if tmp1 is not None:
                        tmp1.rb_parent, tmp1.rb_red = sibling, False
                    sibling.rb_parent = tmp2
                    tmp1 = sibling
                    sibling = tmp2
                # case 4: rotate left at parent; sibling takes parent's colour
                tmp2 = sibling.rb_left
                parent.rb_right = tmp2
                sibling.rb_left = parent
                tmp1.rb_parent, tmp1.rb_red = sibling, False
                if tmp2 is not None:
                    tmp2.rb_parent = parent
                self._rotate_set_parents(parent, sibling, False)
                return
            sibling = parent.rb_left  # mirror image: node is parent's right child
            if sibling.rb_red:
                tmp1 = sibling.rb_right
                parent.rb_left = tmp1
                sibling.rb_right = parent
                tmp1.rb_parent, tmp1.rb_red = parent, False
                self._rotate_set_parents(parent, sibling, True)
                sibling = tmp1
            tmp1 = sibling.rb_left
            if tmp1 is None or not tmp1.rb_red:
                tmp2 = sibling.rb_right
                if tmp2 is None or not tmp2.rb_red:
                    sibling.rb_red = True
                    if parent.rb_red:
                        parent.rb_red = False
                    else:
                        node = parent
                        parent = node.rb_parent
                        if parent is not None:
                            continue
                    return
                tmp1 = tmp2.rb_left
                sibling.rb_right = tmp1
                tmp2.rb_left = sibling
                parent.rb_left = tmp2
                if tmp1 is not None:
                    tmp1.rb_parent, tmp1.rb_red = sibling, False
                sibling.rb_parent = tmp2
                tmp1 = sibling
                sibling = tmp2
            tmp2 = sibling.rb_right
            parent.rb_left = tmp2
            sibling.rb_right = parent
            tmp1.rb_parent, tmp1.rb_red = sibling, False
            if tmp2 is not None:
                tmp2.rb_parent = parent
            self._rotate_set_parents(parent, sibling, False)
            return

    def replace(self, old, new) -> None:
        """rb_replace_node(): ``new`` takes ``old``'s place, children and colour."""
        parent = old.rb_parent
        self._change_child(old, new, parent)
        for child in (old.rb_left, old.rb_right):
            if child is not None:
                child.rb_parent = new
        new.rb_parent, new.rb_left, new.rb_right = parent, old.rb_left, old.rb_right
        new.rb_red = old.rb_red
        new.tree = self
        old.tree = None
        rb_init(old)

    def clear(self) -> None:
        """``root = RB_ROOT``: forget every node without rebalancing (unstable tree)."""
        for node in self.nodes:
            node.tree = None
            rb_init(node)
        self.rb_node = None
        self.count = 0

    def shape(self, label) -> str:
        """The tree as text: ``(LEFT label(node)/COLOUR RIGHT)``, empty sides left out,
        ``r``/``b`` for red/black; "" when empty. Two trees with the same text have the
        same shape, colours and nodes."""

        def sub(n):
            if n is None:
                return ""
            left, right = sub(n.rb_left), sub(n.rb_right)
            me = label(n) + ("/r" if n.rb_red else "/b")
            return "(" + (left + " " if left else "") + me + (" " + right if right else "") + ")"

        return sub(self.rb_node)
