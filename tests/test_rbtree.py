"""The stable and unstable trees are lib/rbtree.c's red-black trees: shapes after given
insert/erase sequences (worked by hand below), the red-black rules after any sequence,
and the model's descents starting at the rb root."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksmlab import MADV_MERGEABLE, PAGE_SIZE, Kernel
from ksmlab.errors import KernelOops
from ksmlab.ksm.tree import RB_SLOTS, Tree, rb_init
from ksmlab.live.model import run_model
from ksmlab.live.workloads import get


class Node:
    __slots__ = ("key", "tree") + RB_SLOTS

    def __init__(self, key):
        self.key = key
        self.tree = None
        rb_init(self)

    def __repr__(self):
        return f"Node({self.key})"


def insert(tree, key):
    """The descent every KSM tree insert makes: from the root, left when smaller."""
    parent, left, node = None, False, tree.rb_node
    while node is not None:
        parent = node
        node, left = (node.rb_left, True) if key < node.key else (node.rb_right, False)
    new = Node(key)
    tree.link(new, parent, left)
    return new


def find(tree, key):
    node = tree.rb_node
    while node is not None and node.key != key:
        node = node.rb_left if key < node.key else node.rb_right
    return node


def build(*keys):
    t = Tree("t")
    for k in keys:
        insert(t, k)
    return t


def shape(tree):
    return tree.shape(lambda n: str(n.key))


def check_rb(tree):
    """The red-black rules and the links; returns the black height."""
    root = tree.rb_node
    assert root is None or (root.rb_parent is None and not root.rb_red), "the root is black"

    def walk(n, lo, hi):
        if n is None:
            return 1
        assert n.tree is tree
        assert lo is None or n.key > lo, "in-order is key order"
        assert hi is None or n.key < hi, "in-order is key order"
        for c in (n.rb_left, n.rb_right):
            if c is not None:
                assert c.rb_parent is n, f"{c} does not point back at {n}"
                assert not (n.rb_red and c.rb_red), f"red {c} under red {n}"
        left = walk(n.rb_left, lo, n.key)
        right = walk(n.rb_right, n.key, hi)
        assert left == right, f"black heights differ under {n}"
        return left + (0 if n.rb_red else 1)

    height = walk(root, None, None)
    assert len(tree) == len(tree.nodes)
    return height


def test_ascending_inserts():
    # 1: the root, black. 2: right of 1, red under black: done.
    # 3: right of 2, red under red, uncle (1's left) empty, 3 on the outside: rotate left
    #    at 1 -> 2 black on top, 1 and 3 red.
    # 4: right of 3; parent 3 red and uncle 1 red: flip (1, 3 black, 2 red), then 2 is the
    #    root and turns black again.
    # 5: right of 4, uncle (3's left) empty: rotate left at 3 -> 4 black over 3, 5 red.
    # 6: right of 5, uncle 3 red: flip (3, 5 black, 4 red); 4's parent 2 is black: done.
    # 7: right of 6, uncle (5's left) empty: rotate left at 5 -> 6 black over 5, 7 red.
    t = build(1, 2, 3, 4, 5, 6, 7)
    assert shape(t) == "((1/b) 2/b ((3/b) 4/r ((5/r) 6/b (7/r))))"
    assert t.root().key == 2  # a bisection of the seven would start at 4
    assert [n.key for n in t] == [1, 2, 3, 4, 5, 6, 7]
    assert check_rb(t) == 3


def test_descending_and_zigzag_inserts():
    # 3, 2, 1: the mirror image of 1, 2, 3 (rotate right at 3).
    assert shape(build(3, 2, 1)) == "((1/r) 2/b (3/r))"
    # 3, 1, 2: 2 is the inner grandchild: rotate left at 1 (case 2), then right at 3
    # (case 3); the middle key ends on top either way.
    assert shape(build(3, 1, 2)) == "((1/r) 2/b (3/r))"
    # 1, 3, 2: the mirror zig-zag.
    assert shape(build(1, 3, 2)) == "((1/r) 2/b (3/r))"
    # 2, 1, 3, 4: 4 goes right of 3 with red uncle 1: a colour flip only.
    assert shape(build(2, 1, 3, 4)) == "((1/b) 2/b (3/b (4/r)))"


def test_erase_root_with_two_children_then_a_black_leaf():
    t = build(1, 2, 3, 4, 5, 6, 7)
    # Erase 2 (root, two children): its successor is the leftmost node under 4, which
    # is 3; 3 takes 2's place and colour (black), 4's left becomes 3's right child
    # (none). 3 was black and left nothing behind, so 4's left side is a black short:
    # rebalance at 4 with node None on the left. The sibling 6 is black with a red
    # right child 7: case 4, rotate left at 4: 6 takes 4's place and colour (red), 4
    # goes black under it keeping 5 (red) as its right child, 7 turns black.
    t.erase(find(t, 2))
    assert shape(t) == "((1/b) 3/b ((4/b (5/r)) 6/r (7/b)))"
    assert check_rb(t) == 3
    # Erase 1 (a black leaf): 3's left side is short. The sibling 6 is red: case 1,
    # rotate left at 3 (6 black on top, 3 red, 3's new right child 4 black); the new
    # sibling 4 has a red right child 5: case 4, rotate left at 3: 4 takes 3's place
    # and colour (red), 3 goes black, 5 turns black.
    t.erase(find(t, 1))
    assert shape(t) == "(((3/b) 4/r (5/b)) 6/b (7/b))"
    assert check_rb(t) == 3


def test_erase_cases_without_rotation():
    # A node with only a left (red) child: the child takes its place and its colour.
    t = build(2, 1)
    t.erase(find(t, 2))
    assert shape(t) == "(1/b)"
    # A red leaf goes without any rebalancing.
    t = build(2, 1, 3)
    t.erase(find(t, 3))
    assert shape(t) == "((1/r) 2/b)"
    # A black leaf whose sibling is black with black (empty) children and whose parent is
    # red: case 2, the sibling turns red and the parent black.
    t = build(1, 2, 3, 4, 5, 6)  # ((1/b) 2/b ((3/b) 4/r (5/b (6/r))))
    t.erase(find(t, 6))  # a red leaf first: ((1/b) 2/b ((3/b) 4/r (5/b)))
    t.erase(find(t, 5))
    assert shape(t) == "((1/b) 2/b ((3/r) 4/b))"
    assert check_rb(t) == 3
    # The successor is the right child itself (case 2 of __rb_erase): it moves up with
    # its own right child and takes the node's colour.
    t = build(2, 1, 3, 4)  # ((1/b) 2/b (3/b (4/r)))
    t.erase(find(t, 2))
    assert shape(t) == "((1/b) 3/b (4/b))"
    t.erase(find(t, 3))
    assert shape(t) == "((1/r) 4/b)"
    t.erase(find(t, 4))
    t.erase(find(t, 1))
    assert shape(t) == "" and not t and len(t) == 0


def test_replace_keeps_the_shape_and_colour():
    t = build(1, 2, 3, 4, 5, 6, 7)
    old = find(t, 4)
    new = Node(4)
    t.replace(old, new)
    assert shape(t) == "((1/b) 2/b ((3/b) 4/r ((5/r) 6/b (7/r))))"
    assert find(t, 4) is new and new.tree is t and old.tree is None
    assert old.rb_parent is None and old.rb_left is None and old.rb_right is None
    check_rb(t)


def test_erase_from_the_wrong_tree_is_the_oops():
    a, b = build(1, 2), Tree("other")
    node = find(a, 1)
    before = shape(a)
    with pytest.raises(KernelOops, match="erased from other but it is linked in t"):
        b.erase(node)
    assert shape(a) == before  # nothing was touched


def test_clear_forgets_every_node():
    t = build(5, 3, 8, 1)
    nodes = t.nodes
    t.clear()
    assert not t and len(t) == 0 and t.nodes == []
    assert all(n.tree is None and n.rb_parent is None and n.rb_left is None for n in nodes)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=80))
def test_red_black_rules_hold_after_any_sequence(ops):
    t = Tree("t")
    keys = set()
    for is_insert, key in ops:
        if is_insert and key not in keys:
            insert(t, key)
            keys.add(key)
        elif not is_insert and keys:
            k = sorted(keys)[key % len(keys)]
            t.erase(find(t, k))
            keys.discard(k)
        check_rb(t)
        assert [n.key for n in t] == sorted(keys)
    # the height bound that the rules buy: at most 2 log2(n + 1)
    def depth(n):
        return 0 if n is None else 1 + max(depth(n.rb_left), depth(n.rb_right))
    assert depth(t.rb_node) <= 2 * (len(keys) + 1).bit_length()


# -- the model's trees ---------------------------------------------------------------------


def _six(contents, pages_to_scan=3):
    k = Kernel(nodes=1)
    p = k.spawn("a")
    base = p.mmap(6)
    for i, c in enumerate(contents):
        p.write(base + i * PAGE_SIZE, c)
    p.madvise(base, 6, MADV_MERGEABLE)
    k.sysfs.write("pages_to_scan", pages_to_scan)
    k.sysfs.write("run", 1)
    return k, p, base


def test_unstable_tree_is_red_black_and_in_content_order():
    k, p, base = _six([b"F", b"E", b"D", b"C", b"B", b"A"], pages_to_scan=6)
    k.ksmd.passes(2)
    (tree,) = k.ksm.root_unstable_tree[:1]
    assert k.sysfs.read("pages_unshared") == 6
    # inserted in the order F E D C B A (each one left of everything): the mirror image of
    # inserting 1..6 in test_ascending_inserts, so E is the root, not the middle of six.
    def label(item):
        return p.read(item.address).rstrip(b"\0").decode()

    assert tree.shape(label) == "((((A/r) B/b) C/r (D/b)) E/b (F/b))"
    assert [label(i) for i in tree] == ["A", "B", "C", "D", "E", "F"]


def test_changed_unstable_page_workload_after_every_batch():
    """The live lab's changed-unstable-page on the model: the counters the live 6.18
    kernel shows after each step (a bisection of the sorted items, the model before the
    red-black tree, read 0/0/6 after the second batch: it never met B at the root)."""
    w = get("changed-unstable-page")
    obs = run_model(w)
    seen = [
        (o.text, *(o.counters[c] for c in ("pages_shared", "pages_sharing",
                                           "pages_unshared", "pages_volatile", "full_scans")))
        for o in obs if o.text.startswith(("ksmd", "a: write 0 "))
    ]
    assert seen == [
        ("ksmd: one full pass", 0, 0, 0, 6, 1),
        ("ksmd: one batch of 3 pages", 0, 0, 3, 3, 1),
        ("a: write 0 = D", 0, 0, 3, 3, 1),
        ("ksmd: one batch of 3 pages", 1, 1, 4, 0, 1),
        ("ksmd: one batch of 3 pages", 1, 1, 4, 0, 2),  # only ends the pass
        ("ksmd: one full pass", 2, 2, 1, 1, 3),
        ("ksmd: one full pass", 2, 2, 2, 0, 4),
    ]


def test_changed_page_hides_a_match():
    # The same steps by hand, looking at the tree. Batch 1 inserts A, B, C (pages 0-2):
    # ((A) B (C)), B black on top. Page 0 becomes D. Batch 2: page 3 (A) goes left of B,
    # then left of page 0 (live content D): red under red with a red uncle, a colour flip
    # only. Page 4 (B) matches the root and merges; erasing page 1 puts its successor,
    # page 2 (C), at the root with nothing on its right, one black short there: page 0's
    # red left child lets case 4 rotate right, and page 0 (D) becomes the root. Page 5 (C)
    # compares with D, goes left, then right of page 3 (A), and is inserted: the first C
    # is on the other side of D.
    k, p, base = _six([b"A", b"B", b"C", b"A", b"B", b"C"])
    k.ksmd.full_scan()
    k.ksmd.scan(3)
    tree = k.ksm.root_unstable_tree[0]

    def label(item):
        n = (item.address - base) // PAGE_SIZE
        return f"{n}:{p.read(item.address).rstrip(bytes(1)).decode()}"

    assert tree.shape(label) == "((0:A/r) 1:B/b (2:C/r))"
    p.write(base, b"D")
    k.ksmd.scan(3)
    assert tree.shape(label) == "((3:A/b (5:C/r)) 0:D/b (2:C/b))"
    assert [label(i) for i in tree] == ["3:A", "5:C", "0:D", "2:C"]  # order broken by D
    assert (k.sysfs.read("pages_shared"), k.sysfs.read("pages_unshared")) == (1, 4)
    k.check()


def test_world_description_tells_shapes_apart():
    # The explorer's state key is the world's description: two unstable trees with the
    # same items in the same content order but different shapes are different states.
    def world(order):
        k, p, base = _six([b"A", b"B", b"C", b"D", b"E", b"F"], pages_to_scan=6)
        k.ksmd.full_scan()
        for i in order:  # build the tree by hand, in this order
            tree = k.ksm.root_unstable_tree[0]
            item = next(it for it in k.ksm.rmap_items_of() if it.address == base + i * PAGE_SIZE)
            parent, left, node = None, False, tree.rb_node
            while node is not None:
                parent = node
                node, left = ((node.rb_left, True) if item.address < node.address
                              else (node.rb_right, False))
            tree.link(item, parent, left)
        return k

    # 0 1 2 3: 1 goes right of 0, 2 rotates 1 to the top, 3 flips the colours:
    # ((0/b) 1/b (2/b (3/r))). 1 0 3 2: 2 goes left of 3, flips: ((0/b) 1/b
    # ((2/r) 3/b)).
    a, b = world([0, 1, 2, 3]), world([1, 0, 3, 2])
    assert [i.address for i in a.ksm.root_unstable_tree[0]] == [
        i.address for i in b.ksm.root_unstable_tree[0]]
    lines = [[x for x in k.ksm.describe() if x.startswith(" unstable tree 0")] for k in (a, b)]
    assert lines[0] == [" unstable tree 0: ((a@0x7f0000000000/b) a@0x7f0000001000/b "
                        "(a@0x7f0000002000/b (a@0x7f0000003000/r)))"]
    assert lines[1] == [" unstable tree 0: ((a@0x7f0000000000/b) a@0x7f0000001000/b "
                        "((a@0x7f0000002000/r) a@0x7f0000003000/b))"]
