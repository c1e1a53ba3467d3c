"""KSM's structures (``struct stable_node``, ``rmap_item``, ``mm_slot``, ``ksm_scan``) and
its global state: trees, the mm_slot list, counters, knobs and ``ksm_thread_mutex``.

Simplifications: the slab allocations (alloc_rmap_item, alloc_stable_node, alloc_mm_slot)
never fail; ``mm_slots_hash`` is a dict and the mm_slot list a Python list.
"""

from ..sched.locks import Mutex
from .tree import RB_SLOTS, Tree, rb_init

__all__ = [
    "StableNode",
    "RmapItem",
    "MmSlot",
    "KsmScan",
    "KsmState",
    "KSM_RUN_STOP",
    "KSM_RUN_MERGE",
    "KSM_RUN_UNMERGE",
    "SEQNR_MASK",
]

KSM_RUN_STOP = 0
KSM_RUN_MERGE = 1
KSM_RUN_UNMERGE = 2
SEQNR_MASK = 0xFF
RMAP_ITEM_SIZE = 64  # sizeof(struct rmap_item) on 64-bit, for the profit figures


class StableNode:
    """``struct stable_node``: one per KSM page; does not pin the page (see get_ksm_page)."""

    __slots__ = ("serial", "kpfn", "nid", "hlist", "exiled", "tree") + RB_SLOTS

    def __init__(self, serial: int, kpfn: int, nid: int):
        self.serial = serial
        self.kpfn = kpfn
        self.nid = nid  # the tree it is linked in (3.9); see stable_node_removal
        self.hlist = []  # rmap_items sharing the page, most recent first
        self.exiled = False  # ``head == &migrate_nodes``
        self.tree = None  # which Tree really holds it (for the oops check only)
        rb_init(self)  # ``struct rb_node node``

    def __repr__(self) -> str:
        n = len(self.hlist)
        return f"StableNode#{self.serial}(kpfn={self.kpfn:#x}, nid={self.nid}, items={n})"


class RmapItem:
    """``struct rmap_item``: KSM's record of one (mm, address) it has visited.

    The kernel packs STABLE_FLAG, UNSTABLE_FLAG and the seqnr into the low bits of
    ``address`` and overlays the unstable and stable fields; the model keeps separate
    fields (``tree`` only serves the oops checks)."""

    __slots__ = (
        "mm",
        "address",
        "oldchecksum",
        "stable",
        "unstable",
        "seqnr",
        "nid",
        "head",
        "anon_vma",
        "tree",
    ) + RB_SLOTS

    def __init__(self, mm, address: int):
        self.mm = mm
        self.address = address
        self.oldchecksum = 0
        self.stable = False  # STABLE_FLAG
        self.unstable = False  # UNSTABLE_FLAG
        self.seqnr = 0  # low 8 bits of the pass that put it in the unstable tree
        self.nid = 0
        self.head = (
            None  # stable node; 3.9 leaves it set after removal (see remove_rmap_item_from_tree)
        )
        self.anon_vma = None
        self.tree = None
        rb_init(self)  # ``struct rb_node node`` (the unstable tree)

    def __repr__(self) -> str:
        state = "stable" if self.stable else "unstable" if self.unstable else "volatile"
        return f"RmapItem({self.mm.owner}@{self.address:#x} {state})"


class MmSlot:
    """``struct mm_slot``: a registered mm and its rmap_items, sorted by address."""

    __slots__ = ("mm", "rmap_list")

    def __init__(self, mm):
        self.mm = mm
        self.rmap_list = []

    def __repr__(self) -> str:
        return f"MmSlot({self.mm.owner})"


class _Head:
    """``ksm_mm_head``: the list anchor; the cursor sits here between passes."""

    mm = None

    def __repr__(self) -> str:
        return "ksm_mm_head"


class KsmScan:
    """``struct ksm_scan``: the one cursor shared by ksmd and the unmerge walk.

    ``rmap_list`` is an index into ``mm_slot.rmap_list`` (the kernel keeps a pointer to
    the link there).
    """

    __slots__ = ("mm_slot", "address", "rmap_list", "seqnr")

    def __init__(self, head):
        self.mm_slot = head
        self.address = 0
        self.rmap_list = 0
        self.seqnr = 0


class KsmState:
    """Everything global in mm/ksm.c."""

    def __init__(self, nodes: int):
        self.nr_node_ids = nodes
        self.head = _Head()
        self.mm_list = []  # slots after the head, in list order
        self.mm_slots_hash = {}  # mm -> MmSlot
        self.ksm_scan = KsmScan(self.head)
        self.root_stable_tree = [Tree(f"stable tree {i}") for i in range(nodes)]
        self.root_unstable_tree = [Tree(f"unstable tree {i}") for i in range(nodes)]
        self.migrate_nodes = []
        self.ksm_thread_mutex = Mutex("ksm_thread_mutex")
        self.run = KSM_RUN_STOP
        self.pages_to_scan = 100
        self.sleep_millisecs = 20
        self.merge_across_nodes = 1
        self.max_page_sharing = 256
        self.use_zero_pages = 0
        self.smart_scan = 1
        self.stable_node_chains_prune_millisecs = 2000
        self.best_effort_removal = False   # a what-if (see remove_all_stable_nodes)
        self.pages_shared = 0
        self.pages_sharing = 0
        self.pages_unshared = 0
        self.rmap_items = 0
        self.pages_scanned = 0

    # -- layout --------------------------------------------------------------------
    @property
    def ksm_nr_node_ids(self) -> int:
        return 1 if self.merge_across_nodes else self.nr_node_ids

    def get_kpfn_nid(self, w, kpfn: int) -> int:
        """get_kpfn_nid(): which tree a page at ``kpfn`` belongs in under the current knob."""
        return 0 if self.merge_across_nodes else w.mem.pfn_to_nid(kpfn)

    # -- the mm_slot list ------------------------------------------------------------
    def list_next(self, slot):
        """The slot after ``slot`` on the circular list (the head after the last)."""
        lst = self.mm_list
        i = 0 if slot is self.head else lst.index(slot) + 1
        return lst[i] if i < len(lst) else self.head

    def insert_before(self, slot, where) -> None:
        """list_add_tail(slot, where): put ``slot`` just before ``where`` (tail if head)."""
        if where is self.head:
            self.mm_list.append(slot)
        else:
            self.mm_list.insert(self.mm_list.index(where), slot)

    def insert_after(self, slot, where) -> None:
        """list_add(slot, where): put ``slot`` just after ``where``."""
        i = 0 if where is self.head else self.mm_list.index(where) + 1
        self.mm_list.insert(i, slot)

    # -- what is where -----------------------------------------------------------------
    def stable_nodes(self) -> list:
        """Every stable node: the trees in index order, then ``migrate_nodes``."""
        out = []
        for t in self.root_stable_tree:
            out.extend(t.nodes)
        out.extend(self.migrate_nodes)
        return out

    def rmap_items_of(self, slot=None):
        slots = [slot] if slot is not None else self.mm_list
        for s in slots:
            yield from s.rmap_list

    @property
    def pages_volatile(self) -> int:
        v = self.rmap_items - self.pages_shared - self.pages_sharing - self.pages_unshared
        return max(v, 0)

    def describe(self):
        ks = self.ksm_scan
        cur = ks.mm_slot
        yield (
            f"ksm run={self.run} knobs={self.pages_to_scan},{self.sleep_millisecs},"
            f"{self.merge_across_nodes},{self.max_page_sharing},{self.use_zero_pages},"
            f"{self.smart_scan},{self.stable_node_chains_prune_millisecs} "
            f"mutex={self.ksm_thread_mutex.owner} seqnr={ks.seqnr} "
            f"best_effort={int(self.best_effort_removal)} "
            f"cursor={cur!r}@{ks.address:#x}/{ks.rmap_list} counters={self.pages_shared},"
            f"{self.pages_sharing},{self.pages_unshared},{self.rmap_items},{self.pages_scanned}"
        )
        for slot in self.mm_list:
            yield f" slot {slot.mm.owner}"
            for it in slot.rmap_list:
                yield (
                    f"  item {it.address:#x} c{it.oldchecksum:08x} "
                    f"s{int(it.stable)} u{int(it.unstable)} q{it.seqnr} n{it.nid} "
                    f"h{it.head.serial if it.head else '-'} "
                    f"a{it.anon_vma.serial if it.anon_vma else '-'} "
                    f"t{it.tree.name if it.tree else '-'}"
                )
        for t in self.root_stable_tree:  # the shape too: it decides what a descent meets
            yield f" {t.name}: " + t.shape(
                lambda n: f"{n.serial}:{n.kpfn:#x}:{n.nid}:"
                + ",".join(f"{i.mm.owner}@{i.address:#x}" for i in n.hlist)
            )
        for t in self.root_unstable_tree:
            yield f" {t.name}: " + t.shape(lambda i: f"{i.mm.owner}@{i.address:#x}")
        yield " migrate_nodes: " + " ".join(
            f"{n.serial}:{n.kpfn:#x}:{n.nid}:"
            + ",".join(f"{i.mm.owner}@{i.address:#x}" for i in n.hlist)
            for n in self.migrate_nodes
        )
