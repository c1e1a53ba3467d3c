"""The kernel side of the live lab: the same workload on this machine's real KSM.

:class:`LiveSession` is a :class:`~ksmlab.live.guard.KsmGuard` (which owns
``/sys/kernel/mm/ksm`` for the run and gives it back as it was) that also drives one child
process per workload process (``child.py``, over a Unix socket) and makes ksmd run exactly
one full pass per ``pass`` step: write ``run=1`` (ksmd is parked waiting for it), wait (at
most 10 s) until ``full_scans`` moves, write ``run=0`` (which waits for ksmd's batch to
end), then change ``sleep_millisecs`` so that ksmd leaves its timed sleep, sees ``run=0``
and parks again. A batch never crosses a pass boundary and ``pages_to_scan`` is far above
the pages present, so one wake-up is one pass; the driver checks that ``full_scans`` moved
by exactly one. Should a wake-up be lost, another change of ``sleep_millisecs`` after
half a second wakes ksmd (counted in ``nudges``).

A workload's ``run=1`` is kept as ``run=0`` on the kernel between passes (ksmd would
otherwise start a pass of its own, e.g. when the first mm registers); nothing else in KSM
depends on the difference. Children that exit are waited for (their mm is gone when they
are); all children are killed when the session ends, whatever the reason and whenever a
signal lands. The socket folder is named by the driver's pid, so that the next run can
remove what a run killed with SIGKILL left behind (:func:`remove_leftover_folders`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

from .guard import (
    KSM_DIR,
    PAGES_TO_SCAN,
    KsmGuard,
    LiveFailure,
    LiveOptInRequired,
    machine_info,
    process_start,
    signal_point,
    signals_held,
)
from .observe import COUNTERS, STATS, execute
from .workload import validate

__all__ = ["LiveSession", "run_kernel", "child_pids", "remove_leftover_folders", "CHILD", "WAIT"]

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
WAIT = 10.0  # seconds: the bound on every wait for ksmd or a child
NUDGE = 0.5  # seconds without a pass before the wake-up is repeated through sleep_millisecs
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
#: the socket folder of a run: tempfile's folder, ksmlab-live-PID-RANDOM
FOLDER_PREFIX = "ksmlab-live-"
_FOLDER = re.compile(r"ksmlab-live-([0-9]+)-[a-z0-9_]{8}")


def child_pids() -> list:
    """Pids of every process running child.py (the test for leftovers)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if CHILD.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


def _parent(pid) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def remove_leftover_folders() -> list:
    """Remove the socket folders that runs killed before they could clean up left behind:
    only folders of this kind (named by a pid, owned by this user, holding nothing but
    the socket) whose run is gone. Returns their paths."""
    removed = []
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        m = _FOLDER.fullmatch(name)
        path = os.path.join(tmp, name)
        if not m or int(m[1]) == os.getpid() or process_start(int(m[1])) is not None:
            continue
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
                continue
            if not set(os.listdir(path)) <= {"s"}:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(path, "s"))
            os.rmdir(path)
        except OSError:
            continue
        removed.append(path)
    return removed


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _get_subreaper() -> int:
    v = ctypes.c_int(0)
    _libc().prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(v), 0, 0, 0)
    return v.value


def _set_subreaper(on: int) -> None:
    _libc().prctl(PR_SET_CHILD_SUBREAPER, on, 0, 0, 0)


class _Child:
    __slots__ = ("name", "pid", "pidfd", "sock", "stream", "popen", "alive")

    def __init__(self, name, pid, sock, stream, popen=None):
        self.name = name
        self.pid = pid
        self.sock = sock
        self.stream = stream
        self.popen = popen
        self.pidfd = os.pidfd_open(pid)
        self.alive = True


class LiveSession(KsmGuard):
    """A live run: the guard, the children, and the kernel backend for
    :func:`ksmlab.live.observe.execute`."""

    side = "kernel"

    def __init__(self, ksm_dir: str = KSM_DIR, lock_timeout: float = 30.0, wait: float = WAIT):
        super().__init__(ksm_dir, lock_timeout)
        self.wait = wait
        self.children: dict = {}
        self.run_logical = 1
        self.pass_seconds: list = []
        self.nudges = 0
        self._tmp = None
        self._listener = None
        self._subreaper = None
        self._spawned: list = []  # every Popen of this session, also those not connected
        self.leftovers: list = []

    def _start(self):
        self._subreaper = _get_subreaper()
        _set_subreaper(1)  # orphaned grandchildren come back to us, to be reaped
        self.leftovers = remove_leftover_folders()
        with signals_held():  # the folder is ours to remove from the moment it exists
            tmp = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")
            signal_point("mkdtemp")  # held until the folder is recorded
            self._tmp = tmp
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(os.path.join(self._tmp, "s"))
        self._listener.listen(64)
        self._listener.settimeout(self.wait)

    def _stop(self, problems):
        self._kill_children(problems)
        if self._subreaper is not None:  # _start ran: children of ours may have forked
            self._kill_orphans(problems)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if self._subreaper is not None:
            _set_subreaper(self._subreaper)
            self._subreaper = None

    def _kill_children(self, problems):
        for c in self.children.values():
            if c.alive:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(c.pidfd, signal.SIGKILL)
        for c in self.children.values():
            if c.alive and not self._wait_dead(c):
                problems.append(f"child {c.name} (pid {c.pid}) did not die")
            self._reap(c)
        self.children.clear()
        for popen in self._spawned:  # started, but stopped before it said hello
            if popen.poll() is None:
                popen.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=self.wait)
            if popen.returncode is None:
                problems.append(f"child pid {popen.pid} did not die")
        self._spawned.clear()

    def _kill_orphans(self, problems):
        """Kill the processes forked by a child but stopped before they said hello: they
        came back to us (the subreaper) when their parent died, and their pids cannot be
        reused before we reap them."""
        for _ in range(8):
            unknown = [p for p in child_pids() if _parent(p) == os.getpid()]
            if not unknown:
                break
            for pid in unknown:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            for pid in unknown:
                with contextlib.suppress(OSError):
                    fd = os.pidfd_open(pid)
                    if not select.select([fd], [], [], self.wait)[0]:
                        problems.append(f"child pid {pid} did not die")
                    os.close(fd)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def _wait_dead(self, c) -> bool:
        ready, _, _ = select.select([c.pidfd], [], [], self.wait)
        return bool(ready)

    def _reap(self, c):
        c.alive = False
        if c.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.popen.wait(timeout=self.wait)
        else:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(c.pid, os.WNOHANG)
        for closer in (c.stream.close, c.sock.close, lambda: os.close(c.pidfd)):
            with contextlib.suppress(OSError):
                closer()

    # -- the backend interface ---------------------------------------------------------
    def clock(self):
        return time.monotonic()

    def _accept(self, name, pid=None):
        try:
            sock, _ = self._listener.accept()
        except TimeoutError:
            raise LiveFailure(f"process {name} did not connect within {self.wait:g} s") from None
        sock.settimeout(self.wait)
        stream = sock.makefile("rwb")
        try:
            hello = json.loads(stream.readline() or b"{}")
        except (OSError, ValueError) as e:
            hello = {"error": str(e)}
        if hello.get("hello") != name or (pid is not None and hello.get("pid") != pid):
            stream.close()
            sock.close()
            raise LiveFailure(f"expected process {name} to connect, got {hello!r}")
        return sock, stream, hello["pid"]

    def _request(self, who, **cmd) -> dict:
        c = self.children[who]
        try:
            c.stream.write(json.dumps(cmd).encode() + b"\n")
            c.stream.flush()
            line = c.stream.readline()
        except TimeoutError:
            raise LiveFailure(f"process {who} did not answer {cmd['op']} within "
                              f"{self.wait:g} s") from None
        except OSError as e:
            raise LiveFailure(f"process {who} died during {cmd['op']} ({e})") from None
        if not line:
            raise LiveFailure(f"process {who} died during {cmd['op']}")
        reply = json.loads(line)
        if "error" in reply:
            raise LiveFailure(f"process {who} failed {cmd['op']}: {reply['error']}")
        return reply

    def spawn(self, name, npages):
        sock_path = os.path.join(self._tmp, "s")
        with signals_held():  # every child started is known, whenever a signal lands
            popen = subprocess.Popen(
                [sys.executable, "-I", "-S", CHILD, sock_path, name, str(npages)],
                stdin=subprocess.DEVNULL,
            )
            signal_point("spawned")  # as if inside Popen(): held until the child is known
            self._spawned.append(popen)
        sock, stream, pid = self._accept(name, popen.pid)
        self.children[name] = _Child(name, pid, sock, stream, popen)

    def fork(self, parent, child):
        reply = self._request(parent, op="fork", child=child)
        signal_point("forked")
        sock, stream, pid = self._accept(child, reply["pid"])
        self.children[child] = _Child(child, pid, sock, stream)

    def exit(self, name):
        self._request(name, op="exit")
        c = self.children[name]
        if not self._wait_dead(c):
            raise LiveFailure(f"process {name} did not exit within {self.wait:g} s")
        self._reap(c)
        del self.children[name]

    def fill(self, name, npages, distinct):
        """Pages 0..npages-1 of ``name`` hold the benchmark's contents (see child.py)."""
        self._request(name, op="fill", n=npages, distinct=distinct)

    def madvise(self, name, first, npages, advice):
        return self._request(name, op="madvise", first=first, n=npages, advice=advice).get(
            "errno", 0)

    def read(self, name, first, npages):
        pages = self._request(name, op="read", first=first, n=npages)["pages"]
        return [bytes.fromhex(p) for p in pages]

    def write(self, name, first, datas):
        self._request(name, op="write", first=first, data=[d.hex() for d in datas])

    def ksm_pass(self):
        """Exactly one full pass of the real ksmd."""
        before = self.knob_int("full_scans")
        t0 = time.monotonic()
        self._one_batch(lambda: self.knob_int("full_scans") != before,
                        f"finish a pass (full_scans stayed {before})")
        self.pass_seconds.append(time.monotonic() - t0)
        after = self.knob_int("full_scans")
        if after != before + 1:
            raise LiveFailure(f"ksmd made {after - before} passes instead of one")

    def ksm_batch(self, npages):
        """Exactly one batch (ksm_do_scan) of at most ``npages`` pages: ``pages_to_scan``
        is ``npages`` while ksmd is woken once; after the batch ksmd is in its 60 s sleep,
        so it cannot start another before run=0 parks it. The batch has run once
        ``pages_scanned`` (added after the batch) or ``full_scans`` (a pass ended) moved."""
        if not self._has("pages_scanned"):
            raise LiveFailure("this kernel has no pages_scanned counter: a batch cannot be seen")
        before = (self.knob_int("pages_scanned"), self.knob_int("full_scans"))
        self.set_knob("pages_to_scan", npages)
        try:
            self._one_batch(
                lambda: (self.knob_int("pages_scanned"), self.knob_int("full_scans")) != before,
                f"run a batch (pages_scanned and full_scans stayed {before})",
            )
        finally:
            self.set_knob("pages_to_scan", PAGES_TO_SCAN)
        scanned = self.knob_int("pages_scanned") - before[0]
        if scanned > npages:
            raise LiveFailure(f"ksmd scanned {scanned} pages in a batch of {npages}")

    def _one_batch(self, moved, what):
        """Wake ksmd for one batch and wait (at most ``wait`` s) until ``moved()``; then park
        it again."""
        t0 = time.monotonic()
        self.set_knob("run", 1)  # wakes ksmd from its wait for run
        signal_point("pass")
        nudge = t0 + NUDGE
        delay = 0.0002
        while not moved():
            now = time.monotonic()
            if now - t0 > self.wait:
                raise LiveFailure(f"ksmd did not {what} within {self.wait:g} s")
            if now > nudge:  # ksmd was still in a timed sleep: a sleep_millisecs change wakes it
                self.nudges += 1
                self._toggle_sleep()
                nudge = now + NUDGE
            time.sleep(delay)
            delay = min(delay * 2, 0.005)
        self.set_knob("run", 0)  # takes ksm_thread_mutex: the batch is over
        self._toggle_sleep()  # out of the timed sleep; run=0 parks it in its wait for run

    def sysfs_write(self, knob, value):
        if knob == "run" and value in (0, 1):
            self.run_logical = value
            if self.knob("run") != "0":
                self.set_knob("run", 0)  # 1 is parked as 0 between passes
            return 0
        try:
            self.set_knob(knob, value)
        except OSError as e:
            return e.errno
        if knob == "run" and value == 2:
            self.run_logical = 2
            self._base_full_scans = 0  # run=2 resets full_scans, on both sides
        return 0

    def counters(self) -> dict:
        out = {}
        for name in COUNTERS:
            if name == "pages_scanned" and not self._has(name):
                out[name] = None
                continue
            out[name] = self.knob_int(name)
        out["full_scans"] -= self._base_full_scans
        if out["pages_scanned"] is not None:
            out["pages_scanned"] -= self._base_pages_scanned
        return out

    def proc_state(self, name):
        reply = self._request(name, op="observe")
        d = reply["digests"]
        pages = [d[i : i + 16] for i in range(0, len(d), 16)]
        stat = reply["ksm_stat"]
        return {s: stat.get(s) for s in STATS}, pages


def run_kernel(
    workload,
    *,
    allow_sysfs_writes: bool = False,
    ksm_dir: str = KSM_DIR,
    lock_timeout: float = 30.0,
    on_step=None,
):
    """Run ``workload`` on this machine's KSM; returns ``(observations, info)``.

    The workload is validated first, and nothing is touched unless ``allow_sysfs_writes``
    is true. ``info`` describes the machine and the timings.
    """
    validate(workload)
    if not allow_sysfs_writes:
        raise LiveOptInRequired(
            f"the live kernel run writes {ksm_dir}: pass allow_sysfs_writes=True "
            "(--live on the command line) to allow it"
        )
    t0 = time.monotonic()
    with LiveSession(ksm_dir, lock_timeout) as session:
        observations = execute(workload, session, on_step)
        info = machine_info()
        info.update(
            pass_seconds=[round(x, 6) for x in session.pass_seconds],
            nudges=session.nudges,
            recovered=session.recovered,
            left=dict(session.left),
        )
    info["seconds"] = round(time.monotonic() - t0, 3)
    return observations, info
