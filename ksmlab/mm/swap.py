"""Swap slots and the swap cache."""

from .page import put_page

__all__ = ["SwapSlot", "SwapSpace"]


class SwapSlot:
    """One swap slot: the data written to it, how many PTEs point at it (swap_map count),
    and the swap-cache page for it, if any."""

    __slots__ = ("entry", "content", "count", "page")

    def __init__(self, entry: int):
        self.entry = entry
        self.content = None
        self.count = 0
        self.page = None


class SwapSpace:
    """The swap device. Simplification: unlimited, and writeback completes at once."""

    def __init__(self):
        self.slots = {}
        self._next = 1

    def add_to_swap(self, page) -> SwapSlot:
        """add_to_swap(): give the page a slot and put it in the swap cache (+1 reference)."""
        slot = SwapSlot(self._next)
        self._next += 1
        self.slots[slot.entry] = slot
        slot.page = page
        page.swapcache = True
        page.swap_entry = slot.entry
        page.refcount += 1
        return slot

    def lookup_swap_cache(self, entry: int):
        slot = self.slots.get(entry)
        return slot.page if slot is not None else None

    def delete_from_swap_cache(self, mem, page) -> None:
        """Take the page out of the swap cache and drop the cache's reference."""
        slot = self.slots[page.swap_entry]
        slot.content = page.content  # written back before it leaves the cache
        slot.page = None
        page.swapcache = False
        page.swap_entry = None
        if slot.count == 0:
            del self.slots[slot.entry]
        put_page(mem, page)

    def swap_duplicate(self, entry: int) -> None:
        self.slots[entry].count += 1

    def swap_free(self, entry: int) -> None:
        """swap_free(): one PTE less points at the slot; the slot goes once nothing uses it."""
        slot = self.slots[entry]
        slot.count -= 1
        if slot.count == 0 and slot.page is None:
            del self.slots[entry]

    def free_swap_and_cache(self, mem, entry: int) -> None:
        """free_swap_and_cache(): as swap_free(), and drop an unused swap-cache page too."""
        slot = self.slots[entry]
        slot.count -= 1
        page = slot.page
        if slot.count == 0:
            if page is None:
                del self.slots[entry]
            elif page.mapcount == 0 and page.lock_owner is None:
                self.delete_from_swap_cache(mem, page)
