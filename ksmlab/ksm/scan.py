"""ksmd: walking the cursor over every registered mm, a batch at a time."""

from ..mm.memory import follow_page_get
from ..mm.mm_types import ksm_test_exit
from ..mm.page import PAGE_SIZE, put_page
from ..sched.plain import kernel_path
from ..sched.points import Blocked, Point
from .merge import cmp_and_merge_page
from .rmap_item import get_next_rmap_item, remove_trailing_rmap_items
from .stable import get_ksm_page
from .state import KSM_RUN_MERGE

__all__ = ["scan_get_next_rmap_item", "ksm_do_scan", "ksmd_batch", "ksm_scan_thread"]

_DRAIN = Point(
    "scan_get_next_rmap_item:lru_add_drain_all",
    "start of a pass: draining the per-CPU LRU batches waits on every CPU",
)
_PRUNE_NEXT = Point("scan_get_next_rmap_item:prune_migrate_nodes", "one exile checked")
_NEXT_ADDR = Point("scan_get_next_rmap_item:cond_resched", "between addresses")
_MM_DONE = Point("scan_get_next_rmap_item:up_read", "finished an mm and moved the cursor on")
_DO_SCAN = Point("ksm_do_scan:cond_resched", "between pages, still holding ksm_thread_mutex")
_SLEEP = Point(
    "ksm_scan_thread:schedule_timeout",
    "ksmd sleeps sleep_millisecs between batches, ksm_thread_mutex let go",
)


@kernel_path
def scan_get_next_rmap_item(w):
    """scan_get_next_rmap_item(): advance the cursor to the next present anonymous page
    in a mergeable area; returns (item, page) with a reference on page, or (None, None)
    at the end of a full pass (or when there is nothing to scan)."""
    ksm = w.ksm
    scan = ksm.ksm_scan
    head = ksm.head
    if not ksm.mm_list:
        return None, None
    slot = scan.mm_slot
    if slot is head:
        yield _DRAIN
        if not ksm.merge_across_nodes and w.fixes.stable_node_removal:
            for node in list(ksm.migrate_nodes):  # prune stale exiles once a pass
                page = yield from get_ksm_page(w, node, False)
                if page is not None:
                    put_page(w.mem, page)
                yield _PRUNE_NEXT
        # only the roots of the layout in force (3.9, ef53d16cded7): with
        # merge_across_nodes=1 the other nodes' roots keep whatever they held
        for tree in ksm.root_unstable_tree[: ksm.ksm_nr_node_ids]:
            tree.clear()
        slot = ksm.list_next(head)  # [ksm_mmlist_lock]
        scan.mm_slot = slot
        if slot is head:
            return None, None
        scan.address = 0
        scan.rmap_list = 0
    while True:  # next_mm:
        mm = slot.mm
        yield from mm.mmap_sem.down_read(w, "scan_get_next_rmap_item:down_read")
        for vma in mm.vmas if mm.users else ():  # find_vma(), unless ksm_test_exit()
            if vma.end <= scan.address or not vma.mergeable:
                continue
            if scan.address < vma.start:
                scan.address = vma.start
            if vma.anon_vma is None:
                scan.address = vma.end
            while scan.address < vma.end:
                if not mm.users:
                    break
                addr = scan.address
                page = follow_page_get(vma, addr)
                if page is not None:
                    item = yield from get_next_rmap_item(w, slot, addr)
                    scan.rmap_list += 1
                    scan.address = addr + PAGE_SIZE
                    mm.mmap_sem.up_read(w)
                    return item, page
                scan.address = addr + PAGE_SIZE
                if w.interleaved:
                    yield _NEXT_ADDR
        if ksm_test_exit(mm):
            scan.address = 0
            scan.rmap_list = 0
        # nuke the items above the last address visited: their VMAs are gone
        yield from remove_trailing_rmap_items(w, slot, scan.rmap_list)
        nxt = ksm.list_next(slot)  # [ksm_mmlist_lock]
        scan.mm_slot = nxt
        if scan.address == 0:
            # no mergeable area left (or exiting): do what __ksm_exit would
            del ksm.mm_slots_hash[mm]
            ksm.mm_list.remove(slot)
            mm.vm_mergeable = False
        mm.mmap_sem.up_read(w)
        yield _MM_DONE
        slot = nxt
        if slot is head:
            break
        scan.address = 0
        scan.rmap_list = 0
    scan.seqnr += 1
    return None, None


@kernel_path
def ksm_do_scan(w, scan_npages):
    """ksm_do_scan(): up to ``scan_npages`` pages; a batch stops at the end of a pass.
    Returns how many pages went through cmp_and_merge_page."""
    done = 0
    for _ in range(scan_npages):
        if w.interleaved:
            yield _DO_SCAN
        item, page = yield from scan_get_next_rmap_item(w)
        if item is None:
            break
        w.ksm.pages_scanned += 1
        yield from cmp_and_merge_page(w, page, item)
        put_page(w.mem, page)
        done += 1
    return done


@kernel_path
def ksmd_batch(w, npages):
    """One wake-up of ksm_scan_thread(): take the mutex, scan a batch if run=1, let go.

    With stable node chains (4.13) the model's logical clock (``ksm.jiffies``, in ms)
    moves on by ``sleep_millisecs`` at each wake-up: chain pruning runs on it (see
    ``ksm/chain.py``)."""
    ksm = w.ksm
    if w.changes.stable_node_chains:
        ksm.jiffies += ksm.sleep_millisecs
    yield from ksm.ksm_thread_mutex.lock(w, "ksm_scan_thread:mutex_lock")
    try:
        if ksm.run & KSM_RUN_MERGE and ksm.mm_list:
            return (yield from ksm_do_scan(w, npages))
        return 0
    finally:
        ksm.ksm_thread_mutex.unlock(w)


class _RunMerge:
    """What a sleeping ksmd waits for: run has the MERGE bit."""

    __slots__ = ("ksm",)

    def __init__(self, ksm):
        self.ksm = ksm

    def available(self) -> bool:
        return bool(self.ksm.run & KSM_RUN_MERGE)

    def __repr__(self) -> str:
        return "run=1"


@kernel_path
def ksm_scan_thread(w, passes=1, batches=None):
    """ksm_scan_thread(): sleep until run=1, then batches of pages_to_scan until
    ``passes`` full passes are done (or nothing is registered), or after ``batches``
    batches if that comes first; between two batches it sleeps without the mutex (a
    sysfs write can come in there). Returns pages scanned.

    Simplification: the sleep is a yield point, not sleep_millisecs of time."""
    ksm = w.ksm
    total = 0
    done = 0
    for _ in range(passes):
        seqnr = ksm.ksm_scan.seqnr
        while True:
            if done:
                yield _SLEEP
            while not ksm.run & KSM_RUN_MERGE:
                yield Blocked("ksm_scan_thread:wait_event", _RunMerge(ksm),
                              "ksmd sleeps until run=1 is written")
            if not ksm.mm_list:
                return total
            total += yield from ksmd_batch(w, ksm.pages_to_scan)
            done += 1
            if ksm.ksm_scan.seqnr != seqnr or done == batches:
                break
        if done == batches:
            break
    return total
