"""Owning /sys/kernel/mm/ksm for one live run, and giving it back as it was.

Nothing here touches ``/sys/kernel/mm/ksm`` unless the caller opts in
(``allow_sysfs_writes=True``; ``--live`` on the command line). A :class:`KsmGuard`:

1. checks that it can run at all (Linux, ``/sys/kernel/mm/ksm`` present, root, writable,
   not a read-only sysfs) and says exactly why not otherwise (:class:`LiveUnavailable`);
2. takes an exclusive ``flock`` on ``/run/lock/ksmlab-live.lock`` (``/tmp`` if there is no
   ``/run/lock``), so two runs never share ksmd;
3. saves every knob, and writes them next to the lock file together with every value it
   writes to a knob (before writing it) and what tells a stale record (the writer's pid,
   its start time and the boot id), so that a run killed with SIGKILL is undone by the
   next one: a knob that still holds a value the killed run wrote gets its saved value
   back; a knob changed since (by hand) is left as it is, and the run says so. A record
   from before the last boot is dropped (the boot reset the knobs). It refuses to start,
   before writing anything, if KSM is already in use (a counter is not 0, or another
   process is registered with KSM);
4. parks ksmd: ``run=0``, ``smart_scan=0``, ``use_zero_pages=0``, ``advisor_mode=none``,
   ``pages_to_scan=100000``, ``sleep_millisecs=60000``;
5. always (success, error, ^C, SIGTERM, SIGHUP) stops what it started (the driver's
   children), writes ``run=2`` once more (which unmerges whatever the run left merged and
   frees every rmap_item: the state it found, since it insists on an unused KSM),
   restores every other knob and then ``run``, checks that each knob reads back as saved,
   and lets go of the lock. Signals are blocked while it restores. Counters cannot be
   restored: ``full_scans`` reads 0 afterwards (``run=2`` resets it) and
   ``pages_scanned`` has grown.

SIGINT, SIGTERM and SIGHUP during a run raise :class:`LiveInterrupted` (a
KeyboardInterrupt) once everything is given back; a signal that lands while it gives
back waits for the end and is raised then. The command line prints one line and exits
with 128 + the signal's number.

Test hook: with ``KSMLAB_LIVE_SIGNAL_AT=POINT:SIGNAL`` (e.g. ``spawned:SIGTERM``) a run
sends itself SIGNAL when it reaches POINT (one of ``SIGNAL_POINTS``), so that each
moment can be tested without timing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import mmap
import numbers
import os
import platform
import signal
import sys
import threading
import time

from ..mm.page import PAGE_SIZE
from .observe import COUNTERS

__all__ = [
    "KSM_DIR",
    "LiveError",
    "LiveUnavailable",
    "LiveOptInRequired",
    "LiveBusy",
    "LiveFailure",
    "LiveRestoreError",
    "LiveInterrupted",
    "availability",
    "numa_nodes",
    "machine_info",
    "read_knobs",
    "KsmGuard",
    "WRITABLE_KNOBS",
    "lock_paths",
    "boot_id",
    "process_start",
    "signals_held",
    "signal_point",
    "SIGNAL_AT_ENV",
    "SIGNAL_POINTS",
]

KSM_DIR = "/sys/kernel/mm/ksm"
LOCK_DIRS = ("/run/lock", "/tmp")
LOCK_NAME = "ksmlab-live.lock"
STATE_NAME = "ksmlab-live.saved.json"
PAGES_TO_SCAN = 100_000
SLEEP_MS = (60_000, 60_001)  # alternated: a change wakes ksmd from its timed sleep
#: every knob a run may touch, saved before and checked after, in restore order (run last;
#: advisor_mode before pages_to_scan, since switching the advisor resets pages_to_scan)
WRITABLE_KNOBS = (
    "merge_across_nodes",
    "max_page_sharing",
    "stable_node_chains_prune_millisecs",
    "advisor_mode",
    "use_zero_pages",
    "smart_scan",
    "pages_to_scan",
    "sleep_millisecs",
    "run",
)
#: counters that must read 0 before a run: KSM holds nothing
IDLE_COUNTERS = (
    "pages_shared",
    "pages_sharing",
    "pages_unshared",
    "pages_volatile",
    "ksm_zero_pages",
    "stable_node_chains",
    "stable_node_dups",
)
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
BOOT_ID = "/proc/sys/kernel/random/boot_id"
SIGNAL_AT_ENV = "KSMLAB_LIVE_SIGNAL_AT"
#: where the test hook can send a signal: while waiting for another run's lock, after
#: taking the lock, after writing the
#: record, after parking ksmd, between creating the socket folder and recording it,
#: between starting a child and recording it, after a fork (before the new process
#: connects), while ksmd runs a pass, and in the teardown after run=2, before the other
#: knobs are restored
SIGNAL_POINTS = ("waiting", "locked", "saved", "parked", "mkdtemp", "spawned", "forked", "pass",
                 "restoring")


class LiveError(RuntimeError):
    """Something about the live kernel run."""


class LiveUnavailable(LiveError):
    """The live kernel cannot be used here; ``reason`` says exactly why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class LiveOptInRequired(LiveUnavailable):
    """The caller did not allow writes to /sys/kernel/mm/ksm."""


class LiveBusy(LiveUnavailable):
    """Another live run holds the lock."""


class LiveFailure(LiveError):
    """The run started but could not finish (a timeout, a child that died); every knob
    was restored and every child killed before this was raised."""


class LiveRestoreError(LiveError):
    """A knob could not be put back; the message lists each one and how to fix it."""


class LiveInterrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP (``signum``) stopped a live run; raised after the run
    gave everything back. ``outcome`` says how that went, in a few words."""

    def __init__(self, signum: int):
        super().__init__(f"signal {signal.Signals(signum).name}")
        self.signum = int(signum)
        self.outcome = "every knob restored"


def boot_id() -> str:
    """This boot's id (``/proc/sys/kernel/random/boot_id``; '' where there is none)."""
    try:
        with open(BOOT_ID) as f:
            return f.read().strip()
    except OSError:
        return ""


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc/PID/stat``), or
    None if there is no such process: a pid with its start time names one process."""
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            stat = f.read()
    except (OSError, ValueError):
        return None
    return stat[stat.rindex(")") + 2 :].split()[19]


@contextlib.contextmanager
def signals_held():
    """SIGINT, SIGTERM and SIGHUP wait until the block is done (in the main thread), so
    that what it creates is recorded before an interrupt can cut in."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def signal_point(point: str) -> None:
    """The test hook (see the module docstring): signal this process if
    ``KSMLAB_LIVE_SIGNAL_AT`` names ``point``."""
    spec = os.environ.get(SIGNAL_AT_ENV)
    if not spec:
        return
    where, _, name = spec.partition(":")
    if where not in SIGNAL_POINTS or not hasattr(signal, name or "?"):
        raise ValueError(f"{SIGNAL_AT_ENV}={spec!r}: use POINT:SIGNAL, POINT one of "
                         + ", ".join(SIGNAL_POINTS))
    if where == point:
        os.kill(os.getpid(), getattr(signal, name))


# -- what the machine offers -----------------------------------------------------------


def numa_nodes() -> int:
    """NUMA nodes with memory-capable entries in sysfs (1 without NUMA)."""
    try:
        names = os.listdir("/sys/devices/system/node")
    except OSError:
        return 1
    return max(1, sum(1 for n in names if n.startswith("node") and n[4:].isdigit()))


def availability(ksm_dir: str = KSM_DIR) -> str | None:
    """None if a live run can work here, else the exact reason it cannot."""
    if not sys.platform.startswith("linux"):
        return f"this is {sys.platform}, not Linux: there is no KSM to compare with"
    if mmap.PAGESIZE != PAGE_SIZE:
        return f"this machine's pages are {mmap.PAGESIZE} bytes; the model's are {PAGE_SIZE}"
    if not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
        return "the driver needs pidfds (Python 3.9 or later on Linux 5.3 or later)"
    if not os.path.isdir(ksm_dir):
        return (
            f"{ksm_dir} does not exist: the kernel was built without CONFIG_KSM, or sysfs "
            "is not mounted (a container without /sys?)"
        )
    missing = [n for n in ("run", "pages_to_scan", "sleep_millisecs", "full_scans", *COUNTERS[:4])
               if not os.path.exists(os.path.join(ksm_dir, n))]
    if missing:
        return f"{ksm_dir} lacks {', '.join(missing)}"
    if os.geteuid() != 0:
        return f"writing {ksm_dir} needs root; this process runs as uid {os.geteuid()}"
    try:
        if os.statvfs(ksm_dir).f_flag & os.ST_RDONLY:
            return f"{ksm_dir} is on a read-only sysfs (a container?)"
    except OSError as e:
        return f"cannot stat {ksm_dir}: {e}"
    if not os.access(os.path.join(ksm_dir, "run"), os.W_OK):
        return f"{ksm_dir}/run is not writable by this process (root in a user namespace?)"
    return None


def machine_info() -> dict:
    u = os.uname()
    return {
        "machine": u.nodename,
        "arch": u.machine,
        "kernel": u.release,
        "kernel_version": u.version,
        "numa_nodes": numa_nodes(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _read(ksm_dir, name) -> str:
    with open(os.path.join(ksm_dir, name)) as f:
        text = f.read().strip()
    if "[" in text:  # a choice knob such as advisor_mode: "[none] scan-time"
        text = text[text.index("[") + 1 : text.index("]")]
    return text


def read_knobs(ksm_dir: str = KSM_DIR) -> dict:
    """Every knob of WRITABLE_KNOBS this kernel has, as the text it reads back."""
    return {
        n: _read(ksm_dir, n) for n in WRITABLE_KNOBS if os.path.exists(os.path.join(ksm_dir, n))
    }


def _other_ksm_users() -> list:
    """Processes other than ours that are registered with KSM (or have rmap_items)."""
    users = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/ksm_stat") as f:
                stat = dict(line.replace(":", "").split()[:2] for line in f if line.strip())
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except (OSError, ValueError):
            continue
        if (
            stat.get("ksm_mergeable") == "yes"
            or stat.get("ksm_merge_any") == "yes"
            or int(stat.get("ksm_rmap_items", 0))
        ):
            users.append(f"{pid} ({comm})")
    return users


def lock_paths() -> tuple:
    """(lock file, saved-knobs file) in the first writable directory of LOCK_DIRS."""
    for d in LOCK_DIRS:
        if os.path.isdir(d) and os.access(d, os.W_OK):
            return os.path.join(d, LOCK_NAME), os.path.join(d, STATE_NAME)
    raise LiveUnavailable(f"no writable directory for the lock file ({', '.join(LOCK_DIRS)})")


class KsmGuard:
    """The sysfs side of a live run, as a context manager (see the module docstring).
    Subclasses start and stop what they need in ``_start()`` and ``_stop(problems)``."""

    def __init__(self, ksm_dir: str = KSM_DIR, lock_timeout: float = 30.0):
        if (isinstance(lock_timeout, bool) or not isinstance(lock_timeout, numbers.Real)
                or not math.isfinite(lock_timeout) or lock_timeout < 0):
            raise ValueError(f"lock_timeout must be a number of seconds >= 0, not "
                             f"{lock_timeout!r}")
        self.ksm_dir = ksm_dir
        self.lock_timeout = lock_timeout
        self.saved: dict | None = None
        self.recovered = False
        #: knobs a killed run had changed that were changed again since, and were left
        #: as found: name -> why (filled when the run starts)
        self.left: dict = {}
        self._written: dict | None = None  # knob -> the values this run wrote, in order
        self._lock_fd = None
        self._state_path = None
        self._sleep = 0
        self._base_full_scans = 0
        self._base_pages_scanned = 0
        self._old_handlers = None
        self._closing = False
        self._late_signal = None

    def _start(self):
        pass

    def _stop(self, problems):
        pass

    # -- sysfs -----------------------------------------------------------------------
    def _path(self, name):
        return os.path.join(self.ksm_dir, name)

    def knob(self, name) -> str:
        return _read(self.ksm_dir, name)

    def knob_int(self, name) -> int:
        return int(self.knob(name))

    def set_knob(self, name, value) -> None:
        """Write a knob; raises OSError (with the kernel's errno) if it refuses. A value
        this run has not written before goes into the record first."""
        value = str(value)
        if self._written is not None:  # also while restoring: run=2 is the lab's, too
            values = self._written.setdefault(name, [])
            if value not in values:
                values.append(value)
                self._write_record()
        with open(self._path(name), "w") as f:
            f.write(value)

    def write_raw(self, name, data: bytes) -> int:
        """One write(2) of ``data`` to a knob, as given (no retry of a short write);
        returns what write(2) returns, or raises OSError with the kernel's errno."""
        fd = os.open(self._path(name), os.O_WRONLY)
        try:
            return os.write(fd, data)
        finally:
            os.close(fd)

    def _has(self, name) -> bool:
        return os.path.exists(self._path(name))

    # -- setup -------------------------------------------------------------------------
    def __enter__(self):
        self._closing = False
        self._late_signal = None
        self._written = None
        reason = availability(self.ksm_dir)
        if reason:
            raise LiveUnavailable(reason)
        try:
            self._install_signals()
            self._take_lock()
            signal_point("locked")
            self._save_knobs()
            signal_point("saved")
            self._park()
            signal_point("parked")
            self._start()
        except BaseException as e:
            self._teardown(e)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self._closing = True
        self._teardown(exc)
        return False

    def _take_lock(self):
        path, self._state_path = lock_paths()
        with signals_held():  # the teardown closes it, also if a signal ends the wait
            fd = self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                    raise LiveBusy(
                        f"another live run holds {path} (pid {holder or '?'}) and did not "
                        f"finish within {self.lock_timeout:g} s"
                    ) from None
                signal_point("waiting")
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def _read_record(self) -> dict | None:
        """The record a run left behind that did not restore (None if there is none, or
        it is unreadable, or it dates from before this boot)."""
        try:
            with open(self._state_path) as f:
                rec = json.load(f)
            knobs = rec["knobs"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(knobs, dict):
            return None
        if "boot_id" in rec and rec["boot_id"] != boot_id():
            return None  # the boot since reset every knob: nothing of that run is left
        pid = rec.get("pid")
        if pid != os.getpid() and rec.get("start") is not None and process_start(
                pid) == rec["start"]:
            raise LiveBusy(f"{self._state_path} belongs to pid {pid}, which still runs")
        written = rec.get("written")  # None: a record of an older ksmlab, which kept none
        return {"knobs": knobs, "written": written if isinstance(written, dict) else None}

    def _recover(self, stale: dict, current: dict) -> dict:
        """What to restore after a killed run: its saved value where the knob still holds
        a value that run wrote (or its saved value); else the value found, with the knob
        named in ``self.left``. The values it wrote stay in this run's record, should
        this run be killed too."""
        saved = {}
        for name, now in current.items():
            was = str(stale["knobs"].get(name, now))
            if stale["written"] is None:
                wrote, said = [], "its record does not say what it wrote"
            else:
                wrote = [str(v) for v in stale["written"].get(name, ())]
                said = f"it wrote {', '.join(wrote)}" if wrote else "it never wrote it"
            if now == was or now in wrote:
                saved[name] = was
                if wrote:
                    self._written[name] = wrote
                continue
            saved[name] = now
            self.left[name] = (f"reads {now}, not a value the killed run wrote ({said}); it "
                               f"had saved {was}")
        return saved

    def _write_record(self):
        rec = {"pid": os.getpid(), "start": process_start(os.getpid()), "boot_id": boot_id(),
               "knobs": self.saved, "written": self._written}
        tmp = self._state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.replace(tmp, self._state_path)

    def _save_knobs(self):
        current = read_knobs(self.ksm_dir)
        stale = self._read_record()
        users = _other_ksm_users()
        if users:
            raise LiveUnavailable(
                "KSM is in use by other processes (" + ", ".join(users[:8]) + "): their pages "
                "would be counted too; run this where nothing else uses KSM"
            )
        if not stale:
            busy = {n: self.knob_int(n) for n in IDLE_COUNTERS if self._has(n)}
            busy = {n: v for n, v in busy.items() if v}
            if busy:
                raise LiveUnavailable(
                    "KSM already holds pages ("
                    + ", ".join(f"{n}={v}" for n, v in busy.items())
                    + "); the comparison needs an unused KSM: `echo 2 > "
                    f"{self.ksm_dir}/run` unmerges everything (then restore run)"
                )
        # Nothing is written before this point. A run killed before it could restore left
        # its record behind: the knobs it changed get their saved values back, and its
        # leftovers are ours to drop.
        self.left = {}
        self._written = {}
        self.saved = self._recover(stale, current) if stale else current
        self.recovered = bool(stale)
        self._write_record()
        for name, why in self.left.items():
            print(f"ksmlab live: left {name} as found: it {why}", file=sys.stderr)

    def _park(self):
        if self.recovered:
            self._unmerge_all()
        self.set_knob("run", 0)
        if self._has("advisor_mode") and self.knob("advisor_mode") != "none":
            self.set_knob("advisor_mode", "none")
        for name, value in (("smart_scan", 0), ("use_zero_pages", 0)):
            if self._has(name):
                self.set_knob(name, value)
        self.set_knob("pages_to_scan", PAGES_TO_SCAN)
        self._toggle_sleep()
        self._toggle_sleep()
        self._base_full_scans = self.knob_int("full_scans")
        self._base_pages_scanned = self.knob_int("pages_scanned") if self._has(
            "pages_scanned") else 0

    def _toggle_sleep(self):
        self._sleep ^= 1
        self.set_knob("sleep_millisecs", SLEEP_MS[self._sleep])

    def _unmerge_all(self):
        """run=2 afresh: unmerge every KSM page and free every rmap_item."""
        if self.knob("run") == "2":
            self.set_knob("run", 0)
        self.set_knob("run", 2)

    # -- signals ---------------------------------------------------------------------
    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return

        def interrupt(signum, frame):
            if self._closing:  # once teardown has begun, nothing may cut it short
                self._late_signal = self._late_signal or signum
                return
            raise LiveInterrupted(signum)

        self._old_handlers = {s: signal.signal(s, interrupt) for s in _SIGNALS}

    # -- teardown --------------------------------------------------------------------
    def _teardown(self, exc):
        """Give everything back; ``exc`` is the exception that ends the run (None on
        success)."""
        self._closing = True
        main = threading.current_thread() is threading.main_thread()
        if main:
            old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        problems = []
        changed = self.saved is not None
        try:
            self._stop(problems)
            if self.saved is not None:
                self._restore_knobs(problems)
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None
        finally:
            if main:
                for sig in set(signal.sigpending()) & set(_SIGNALS):  # landed meanwhile
                    signal.sigtimedwait([sig], 0)
                    self._late_signal = self._late_signal or sig
                if self._old_handlers:
                    for sig, h in self._old_handlers.items():
                        signal.signal(sig, h)
                    self._old_handlers = None
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        interrupted = exc if isinstance(exc, LiveInterrupted) else None
        if interrupted is None and exc is None and self._late_signal:
            interrupted = LiveInterrupted(self._late_signal)
        if interrupted is not None:
            interrupted.outcome = ("some knobs were not restored (see above)" if problems
                                   else "every knob restored" if changed
                                   else "no knob had been changed")
        if problems:
            err = LiveRestoreError("; ".join(problems))
            if exc is None and interrupted is None:
                raise err
            print(f"ksmlab live: {err}", file=sys.stderr)
        if interrupted is not None and interrupted is not exc:
            raise interrupted

    def _restore_knobs(self, problems):
        saved = self.saved
        try:
            self._unmerge_all()
        except OSError as e:
            problems.append(f"run=2 failed ({e}); KSM may still hold pages of this run")
        signal_point("restoring")
        for name in WRITABLE_KNOBS:
            if name not in saved or name == "run":
                continue
            try:
                if self.knob(name) != saved[name]:
                    self.set_knob(name, saved[name])
            except OSError as e:
                problems.append(f"{name}: could not write back {saved[name]!r} ({e})")
        try:
            if self.knob("run") != saved["run"]:
                self.set_knob("run", saved["run"])
        except OSError as e:
            problems.append(f"run: could not write back {saved['run']!r} ({e})")
        now = read_knobs(self.ksm_dir)
        for name, value in saved.items():
            if now.get(name) != value:
                problems.append(
                    f"{name} reads {now.get(name)!r}, was {value!r}: "
                    f"`echo {value} > {self._path(name)}`"
                )
        if not problems:
            with contextlib.suppress(OSError):
                os.unlink(self._state_path)
            self.saved = None
