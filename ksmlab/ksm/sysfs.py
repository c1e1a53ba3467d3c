"""/sys/kernel/mm/ksm: knobs and counters, parsed and refused as the kernel does."""

import errno

from ..changes import has_file
from ..errors import KernelError
from ..mm.page import PAGE_SIZE
from ..sched.plain import kernel_path
from ..sched.points import Point
from .stable import remove_all_stable_nodes
from .state import KSM_RUN_UNMERGE, RMAP_ITEM_SIZE
from .unmerge import unmerge_and_remove_all_rmap_items

__all__ = [
    "KNOBS",
    "ADVISOR_KNOBS",
    "COUNTERS",
    "NOT_MODELLED",
    "NOT_MODELLED_6_18",
    "knobs",
    "counters",
    "not_modelled",
    "kstrtoul",
    "kstrtoint",
    "kstrtobool",
    "sysfs_read",
    "sysfs_store",
    "sysfs_write_file",
    "SYSFS_WRITE_MAX",
]

UINT_MAX = 2**32 - 1
ULONG_MAX = 2**64 - 1

#: every knob and counter the model knows; a kernel has those its profile has (``knobs``,
#: ``counters``): 3.9's, and with the 6.18 sysfs the later ones (changes.ADDED_AFTER_3_9)
KNOBS = (
    "run",
    "pages_to_scan",
    "sleep_millisecs",
    "merge_across_nodes",
    "max_page_sharing",
    "use_zero_pages",
    "smart_scan",
    "stable_node_chains_prune_millisecs",
)
COUNTERS = (
    "pages_shared",
    "pages_sharing",
    "pages_unshared",
    "pages_volatile",
    "full_scans",
    "pages_scanned",
    "pages_skipped",
    "general_profit",
    "ksm_zero_pages",
    "stable_node_chains",
    "stable_node_dups",
)
#: the scan-time advisor's knobs (6.8, 66790e9a735b): only with the 6.18 sysfs
ADVISOR_KNOBS = (
    "advisor_mode",
    "advisor_max_cpu",
    "advisor_min_pages_to_scan",
    "advisor_max_pages_to_scan",
    "advisor_target_scan_time",
)
#: Accepted with the kernel's validation but without effect, on 3.9's sysfs (the later
#: knobs it does not have).
NOT_MODELLED = ("sleep_millisecs",)
#: The same on the 6.18 profile: parsed and validated as 6.18 does, no other effect
#: (max_page_sharing and the prune interval are modelled by ``stable_node_chains``).
NOT_MODELLED_6_18 = ("use_zero_pages", "smart_scan", "sleep_millisecs") + ADVISOR_KNOBS

#: fill_write_buffer() (3.9 fs/sysfs/file.c) keeps at most PAGE_SIZE - 1 bytes of a write
SYSFS_WRITE_MAX = PAGE_SIZE - 1
#: kernfs (3.14 on) keeps PAGE_SIZE bytes
KERNFS_WRITE_MAX = PAGE_SIZE

DEFAULT_PAGES_TO_SCAN = 100


def knobs(w) -> tuple:
    """The knobs of ``w``'s kernel: 3.9's, and the later ones its changes bring."""
    return tuple(n for n in KNOBS + ADVISOR_KNOBS if has_file(w.changes, n))


def counters(w) -> tuple:
    """The counters of ``w``'s kernel: 3.9's, and the later ones its changes bring."""
    return tuple(n for n in COUNTERS if has_file(w.changes, n))


def not_modelled(w) -> tuple:
    """The knobs of ``w``'s kernel that are validated but have no effect."""
    if not w.changes.sysfs_6_18:
        return NOT_MODELLED
    if w.changes.stable_node_chains:
        return NOT_MODELLED_6_18
    return NOT_MODELLED_6_18 + ("max_page_sharing", "stable_node_chains_prune_millisecs")

_RUN_DONE = Point("run_store:mutex_unlock", "the run store is done")


def kstrtoull(text: str) -> int:
    """kstrtoull(s, 10): optional '+', decimal digits, at most one trailing newline."""
    s = text[:-1] if text.endswith("\n") else text
    if s.startswith("+"):
        s = s[1:]
    if not s or not s.isascii() or not s.isdigit():
        raise KernelError(errno.EINVAL, f"{text!r} is not a decimal number")
    value = int(s)
    if value > ULONG_MAX:
        raise KernelError(errno.ERANGE, f"{text!r} is out of range")
    return value


kstrtoul = kstrtoull


def kstrtoint(text: str) -> int:
    """kstrtoint(s, 10): as kstrtoull, also taking a leading '-'; must fit an int."""
    if text.startswith("-"):
        value = -kstrtoull(text[1:])
    else:
        value = kstrtoull(text)
    if not -(2**31) <= value < 2**31:
        raise KernelError(errno.ERANGE, f"{text!r} is out of range for an int")
    return value


def kstrtobool(text: str, enable_disable: bool = False) -> bool:
    """kstrtobool(): 1/y/Y/t/T/on true, 0/n/N/f/F/off false, by the first one or two chars;
    6.18's also takes e/E (enable) as true and d/D (disable) as false."""
    c = text[:1]
    if c in ("1", "y", "Y", "t", "T") or (enable_disable and c in ("e", "E")):
        return True
    if c in ("0", "n", "N", "f", "F") or (enable_disable and c in ("d", "D")):
        return False
    if c in ("o", "O"):
        c2 = text[1:2]
        if c2 in ("n", "N"):
            return True
        if c2 in ("f", "F"):
            return False
    raise KernelError(errno.EINVAL, f"{text!r} is not a boolean")


def _unsigned(text: str, name: str) -> int:
    """The stores that map every parse failure, and values over UINT_MAX, to EINVAL."""
    try:
        value = kstrtoul(text)
    except KernelError as e:
        raise KernelError(errno.EINVAL, f"{name}: {e.reason}") from None
    if value > UINT_MAX:
        raise KernelError(errno.EINVAL, f"{name}: {value} is above UINT_MAX")
    return value


def sysfs_read(w, name: str):
    """The ``*_show()`` of ``name``, whatever files ``w``'s profile has (the facade refuses
    a missing one; the live lab reads the model's value of every counter it compares).
    Counters of features not modelled (pages_skipped, ksm_zero_pages; without chains also
    stable_node_chains, stable_node_dups) read 0. ``advisor_mode`` reads as its text, the
    current choice in brackets."""
    ksm = w.ksm
    if name == "advisor_mode":
        return "[none] scan-time" if ksm.advisor_mode == "none" else "none [scan-time]"
    if name in ADVISOR_KNOBS:
        return getattr(ksm, name)
    if name in ("stable_node_chains", "stable_node_dups") and w.changes.stable_node_chains:
        return getattr(ksm, name)
    if name == "full_scans":
        return ksm.ksm_scan.seqnr
    if name == "pages_volatile":
        return ksm.pages_volatile
    if name == "general_profit":
        return ksm.pages_sharing * 4096 - ksm.rmap_items * RMAP_ITEM_SIZE
    if name in ("pages_skipped", "ksm_zero_pages", "stable_node_chains", "stable_node_dups"):
        return 0
    return getattr(ksm, name)


@kernel_path
def sysfs_write_file(w, name: str, buf: bytes):
    """sysfs_write_file() (3.9 fs/sysfs/file.c): write(2) of ``buf`` to knob ``name``.

    fill_write_buffer() copies at most PAGE_SIZE - 1 bytes into a zeroed page and ends
    them with a NUL; a 0-byte write stops there and succeeds; otherwise the store sees
    the text up to the first NUL (the kstrto*() parsers stop there). Returns what
    write(2) returns: the bytes taken, fewer than ``len(buf)`` for a longer buffer (a
    short write). With the 6.18 sysfs (``sysfs_6_18``) the write goes through kernfs
    (3.14 on), which keeps PAGE_SIZE bytes instead.
    """
    count = min(len(buf), KERNFS_WRITE_MAX if w.changes.sysfs_6_18 else SYSFS_WRITE_MAX)
    if count == 0:
        return 0
    text = bytes(buf[:count]).split(b"\0", 1)[0].decode("latin-1")
    yield from sysfs_store(w, name, text)
    return count


@kernel_path
def sysfs_store(w, name: str, text: str):
    """The store method of knob ``name`` (a generator: run=2 and the knob switches take
    ksm_thread_mutex and walk everything). Raises KernelError as the write would fail."""
    ksm = w.ksm
    v618 = w.changes.sysfs_6_18
    if name == "run":
        return (yield from run_store(w, _unsigned(text, name)))
    if name == "pages_to_scan" and v618 and ksm.advisor_mode != "none":
        # 6.8 (66790e9a735b): while the advisor runs it owns pages_to_scan
        raise KernelError(errno.EINVAL, "pages_to_scan: the advisor is on (advisor_mode)")
    if name in ("pages_to_scan", "sleep_millisecs", "stable_node_chains_prune_millisecs"):
        setattr(ksm, name, _unsigned(text, name))
        return
    if name in ("use_zero_pages", "smart_scan"):
        try:
            setattr(ksm, name, int(kstrtobool(text, enable_disable=v618)))
        except KernelError as e:
            raise KernelError(errno.EINVAL, f"{name}: {e.reason}") from None
        return
    if name in ADVISOR_KNOBS:
        return advisor_store(w, name, text)
    if name == "merge_across_nodes":
        knob = kstrtoul(text)
        if knob > 1:
            raise KernelError(errno.EINVAL, f"merge_across_nodes must be 0 or 1, not {knob}")
        return (yield from merge_across_nodes_store(w, knob))
    if name == "max_page_sharing":
        knob = kstrtoint(text)
        if knob < 2:
            raise KernelError(errno.EINVAL, f"max_page_sharing must be at least 2, not {knob}")
        return (yield from max_page_sharing_store(w, knob))
    raise AssertionError(name)


def advisor_store(w, name: str, text: str) -> None:
    """The advisor's stores (6.8, 66790e9a735b), validated as 6.18 does; the advisor
    itself is not modelled. Choosing another mode resets pages_to_scan to the mode's
    start (set_advisor_defaults(): 100 for none, advisor_min_pages_to_scan for
    scan-time)."""
    ksm = w.ksm
    if name == "advisor_mode":
        choice = text[:-1] if text.endswith("\n") else text  # sysfs_streq()
        if choice not in ("none", "scan-time"):
            raise KernelError(errno.EINVAL, f"advisor_mode: {text!r} is not none or scan-time")
        if choice != ksm.advisor_mode:
            ksm.advisor_mode = choice
            ksm.pages_to_scan = (
                DEFAULT_PAGES_TO_SCAN if choice == "none" else ksm.advisor_min_pages_to_scan
            )
        return
    try:
        value = kstrtoul(text)
    except KernelError as e:
        raise KernelError(errno.EINVAL, f"{name}: {e.reason}") from None
    if name == "advisor_target_scan_time" and value < 1:
        raise KernelError(errno.EINVAL, "advisor_target_scan_time must be at least 1")
    if name in ("advisor_max_cpu", "advisor_target_scan_time"):
        value &= UINT_MAX  # stored in an unsigned int
    setattr(ksm, name, value)


@kernel_path
def run_store(w, flags: int):
    """run_store(): 0 stop, 1 merge, 2 stop and unmerge everything (under the mutex)."""
    ksm = w.ksm
    if flags > KSM_RUN_UNMERGE:
        raise KernelError(errno.EINVAL, f"run must be 0, 1 or 2, not {flags}")
    yield from ksm.ksm_thread_mutex.lock(w, "run_store:mutex_lock")
    err = 0
    try:
        if ksm.run != flags:
            ksm.run = flags
            if flags & KSM_RUN_UNMERGE:
                err = yield from unmerge_and_remove_all_rmap_items(w)
                if err:
                    ksm.run = 0
    finally:
        ksm.ksm_thread_mutex.unlock(w)
    if err:
        raise KernelError(-err, "unmerging failed")
    yield _RUN_DONE


@kernel_path
def merge_across_nodes_store(w, knob: int):
    """merge_across_nodes_store(): switch only while KSM holds no pages.

    3.9 first empties every tree (remove_all_stable_nodes) and refuses with EBUSY if it
    cannot; 3.8+NUMA only checked pages_shared, so stale nodes survived the switch.
    """
    ksm = w.ksm
    yield from ksm.ksm_thread_mutex.lock(w, "merge_across_nodes_store:mutex_lock")
    try:
        if ksm.merge_across_nodes != knob:
            if ksm.pages_shared:
                raise KernelError(
                    errno.EBUSY, f"KSM still shares {ksm.pages_shared} pages: write 2 to run first"
                )
            if w.fixes.stable_node_removal and (yield from remove_all_stable_nodes(w)):
                raise KernelError(
                    errno.EBUSY,
                    "some stable nodes could not be removed (their KSM pages are still mapped)",
                )
            ksm.merge_across_nodes = knob
    finally:
        ksm.ksm_thread_mutex.unlock(w)


@kernel_path
def max_page_sharing_store(w, knob: int):
    """max_page_sharing_store() (4.13+): validated and switched like merge_across_nodes;
    the limit itself is not modelled (3.9 had no stable node chains)."""
    ksm = w.ksm
    yield from ksm.ksm_thread_mutex.lock(w, "max_page_sharing_store:mutex_lock")
    try:
        if ksm.max_page_sharing != knob:
            if ksm.pages_shared or (yield from remove_all_stable_nodes(w)):
                raise KernelError(errno.EBUSY, "KSM still holds pages: write 2 to run first")
            ksm.max_page_sharing = knob
    finally:
        ksm.ksm_thread_mutex.unlock(w)
