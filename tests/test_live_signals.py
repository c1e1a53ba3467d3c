"""The live lab under signals, SIGKILL and what killed runs leave behind.

Each signal is sent at a chosen moment by the run itself (``KSMLAB_LIVE_SIGNAL_AT``, see
``ksmlab.live.guard``), never by timing. The tests marked ``live`` run
``python -m ksmlab live-compare fork-cow --live`` (a spawn, a fork and passes of ksmd)
as a user runs it, or a LiveSession in this process; the ``live`` fixture (conftest.py)
checks afterwards that every knob reads as before, no child is left and KSM holds
nothing. Where there is no usable KSM they skip, or fail under KSMLAB_REQUIRE_LIVE=1.
"""

from __future__ import annotations

import glob
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from ksmtest import live_unavailable

from ksmlab.__main__ import main as cli
from ksmlab.live import LiveBusy, LiveInterrupted
from ksmlab.live.driver import LiveSession, child_pids, remove_leftover_folders
from ksmlab.live.guard import (
    BOOT_ID,
    KSM_DIR,
    PAGES_TO_SCAN,
    SIGNAL_AT_ENV,
    SIGNAL_POINTS,
    boot_id,
    lock_paths,
    process_start,
    read_knobs,
    signal_point,
)

ROOT = Path(__file__).resolve().parent.parent
EXIT = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


def start_live(at: str | None, workload: str = "fork-cow") -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != SIGNAL_AT_ENV}
    if at:
        env[SIGNAL_AT_ENV] = at
    return subprocess.Popen(
        [sys.executable, "-m", "ksmlab", "live-compare", workload, "--live"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(proc) -> tuple:
    """(exit status, stdout, stderr), once the run and everything that holds its output
    (a child it left would) are done."""
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 2 and "cannot run on the live kernel" in err:
        live_unavailable(err.strip())
    return proc.returncode, out, err


def folders_of(pid: int) -> list:
    return sorted(glob.glob(os.path.join(tempfile.gettempdir(), f"ksmlab-live-{pid}-*")))


def write_knob(name, value):
    with open(os.path.join(KSM_DIR, name), "w") as f:
        f.write(str(value))


def until_no_child_is_left():
    """The children of a SIGKILLed run exit when its socket closes: wait for that (at
    most 10 s), as the next run would otherwise find them registered with KSM."""
    deadline = time.monotonic() + 10
    while child_pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert child_pids() == []


# -- SIGINT, SIGTERM, SIGHUP: one line, 128 + N, nothing left -----------------------------


@pytest.mark.live
@pytest.mark.parametrize("sig", list(EXIT))
@pytest.mark.parametrize("point", [p for p in SIGNAL_POINTS if p != "waiting"])
def test_a_signal_at_any_moment_restores_everything(live, point, sig):
    """Also inside Popen() (``spawned``: the child exists, the session has not recorded it
    yet), between mkdtemp() and recording the folder, between a fork and the new process's
    hello, while ksmd runs a pass, and once the teardown has begun (it finishes first)."""
    _, state = lock_paths()
    proc = start_live(f"{point}:{sig}")
    status, out, err = finish(proc)
    assert "Traceback" not in err
    outcome = "no knob had been changed" if point == "locked" else "every knob restored"
    assert (status, out, err) == (EXIT[sig], "", f"interrupted: {outcome}\n")
    assert folders_of(proc.pid) == []
    assert not os.path.exists(state)
    # the live fixture: every knob as before, no child left, KSM idle


@pytest.mark.live
def test_a_signal_while_waiting_for_the_lock_lets_go_of_it(live, monkeypatch):
    fds = len(os.listdir("/proc/self/fd"))
    with LiveSession():
        monkeypatch.setenv(SIGNAL_AT_ENV, "waiting:SIGTERM")
        with pytest.raises(LiveInterrupted) as stop:
            with LiveSession(lock_timeout=30):
                pass
        monkeypatch.delenv(SIGNAL_AT_ENV)
        assert (stop.value.signum, stop.value.outcome) == (signal.SIGTERM,
                                                           "no knob had been changed")
        with pytest.raises(LiveBusy):  # the first run still holds the lock
            with LiveSession(lock_timeout=0):
                pass
    assert len(os.listdir("/proc/self/fd")) == fds  # the waiting run closed its lock file
    with LiveSession(lock_timeout=0):  # and the lock is free again
        pass


@pytest.mark.live
def test_the_same_run_uninterrupted_agrees_and_exits_0(live):
    """The same run without the hook: it agrees with the model and exits 0."""
    status, out, err = finish(start_live(None))
    assert (status, err) == (0, "")
    assert "kernel: live" in out and "agree after every one" in out


@pytest.mark.live
def test_a_run_that_fails_is_one_line_too(live, monkeypatch, capsys):
    """A child that dies under the driver ends the run with LiveFailure (after every knob
    is restored): the command says so in one line, status 2."""
    original = LiveSession.proc_state

    def dying(self, name):
        if len(self.pass_seconds) == 1:
            os.kill(self.children[name].pid, signal.SIGKILL)
        return original(self, name)

    monkeypatch.setattr(LiveSession, "proc_state", dying)
    status = cli(["live-compare", "duplicates", "--live"])
    out, err = capsys.readouterr()
    if status == 2 and "cannot run on the live kernel" in err:
        live_unavailable(err.strip())
    assert (status, out) == (2, "")
    # "... during observe", and the OS's words when the write saw the death first
    assert err.startswith("live-compare: the live run failed: process a died during observe")
    assert err.count("\n") == 1 and "Traceback" not in err


# -- SIGKILL: the next run undoes what the killed one left -----------------------------------


@pytest.mark.live
@pytest.mark.parametrize(("point", "folders"), [("mkdtemp", 1), ("pass", 1), ("restoring", 0)])
def test_after_a_sigkill_the_next_run_restores_the_knobs_and_removes_the_folder(
        live, point, folders):
    before = read_knobs()
    _, state = lock_paths()
    proc = start_live(f"{point}:SIGKILL")
    status, out, err = finish(proc)
    assert (status, out, err) == (-signal.SIGKILL, "", "")
    with open(state) as f:
        record = json.load(f)
    with open(BOOT_ID) as f:
        this_boot = f.read().strip()
    assert (record["pid"], record["boot_id"], record["knobs"]) == (proc.pid, this_boot, before)
    assert record["written"]["pages_to_scan"] == [str(PAGES_TO_SCAN)]
    assert record["written"]["sleep_millisecs"] == ["60001", "60000"]
    assert record["written"]["run"] == {"mkdtemp": ["0"], "pass": ["0", "1"],
                                        "restoring": ["0", "1", "2"]}[point]
    assert read_knobs()["pages_to_scan"] == str(PAGES_TO_SCAN)  # as the killed run left it
    left_behind = folders_of(proc.pid)
    assert len(left_behind) == folders
    until_no_child_is_left()
    with LiveSession() as s:
        assert s.recovered
        assert s.left == {}
        assert s.leftovers == left_behind
    assert read_knobs() == before
    assert folders_of(proc.pid) == []
    assert not os.path.exists(state)


@pytest.mark.live
def test_a_knob_changed_by_hand_after_a_sigkill_is_left_and_named(live, capfd):
    before = read_knobs()
    by_hand = "517" if before["pages_to_scan"] != "517" else "518"
    status, _, _ = finish(start_live("parked:SIGKILL"))
    assert status == -signal.SIGKILL
    try:
        write_knob("pages_to_scan", by_hand)  # the administrator, before the next run
        capfd.readouterr()
        with LiveSession() as s:
            assert s.recovered
        why = (f"reads {by_hand}, not a value the killed run wrote (it wrote {PAGES_TO_SCAN}); "
               f"it had saved {before['pages_to_scan']}")
        assert s.left == {"pages_to_scan": why}
        assert capfd.readouterr().err == f"ksmlab live: left pages_to_scan as found: it {why}\n"
        # every other knob the killed run had changed is back; this one is as found
        assert read_knobs() == {**before, "pages_to_scan": by_hand}
    finally:
        write_knob("pages_to_scan", before["pages_to_scan"])


@pytest.mark.live
def test_a_record_from_before_the_last_boot_is_dropped(live):
    """The boot reset every knob: the values in the record are no one's to restore."""
    before = read_knobs()
    _, state = lock_paths()
    with open(state, "w") as f:
        json.dump({"pid": 4_000_000, "start": "1", "boot_id": "an-earlier-boot",
                   "knobs": {**before, "pages_to_scan": "77"},
                   "written": {"pages_to_scan": [before["pages_to_scan"]]}}, f)
    try:
        with LiveSession() as s:
            assert not s.recovered
        assert read_knobs() == before
        assert not os.path.exists(state)
    finally:
        if os.path.exists(state):
            os.unlink(state)


@pytest.mark.live
def test_the_record_of_a_process_still_running_is_not_taken_over(live):
    before = read_knobs()
    _, state = lock_paths()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    record = {"pid": sleeper.pid, "start": process_start(sleeper.pid), "boot_id": boot_id(),
              "knobs": before, "written": {}}
    try:
        with open(state, "w") as f:
            json.dump(record, f)
        with pytest.raises(LiveBusy, match=f"belongs to pid {sleeper.pid}, which still runs"):
            with LiveSession():
                pass
        with open(state) as f:
            assert json.load(f) == record  # untouched, as is every knob
    finally:
        sleeper.kill()
        sleeper.wait()
        os.unlink(state)


# -- without the kernel: the pieces ----------------------------------------------------------


def test_only_folders_of_dead_runs_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(gone.stdout)
    assert process_start(dead) is None
    names = {
        "empty": f"ksmlab-live-{dead}-abcd1234",
        "socket": f"ksmlab-live-{dead}-efgh_567",
        "more": f"ksmlab-live-{dead}-ijkl9012",  # holds more than the socket: not ours
        "alive": "ksmlab-live-1-mnop3456",  # pid 1 runs
        "mine": f"ksmlab-live-{os.getpid()}-qrst7890",
        "unnamed": "ksmlab-live-uvwx1234",  # no pid in the name: not this kind
    }
    for name in names.values():
        (tmp_path / name).mkdir()
    (tmp_path / names["socket"] / "s").write_text("")
    (tmp_path / names["more"] / "notes.txt").write_text("keep me")
    (tmp_path / f"ksmlab-live-{dead}-yzab5678").symlink_to(tmp_path / names["more"])
    (tmp_path / f"ksmlab-live-{dead}-cdef9012").write_text("a file")
    removed = remove_leftover_folders()
    assert sorted(removed) == sorted(str(tmp_path / names[k]) for k in ("empty", "socket"))
    assert sorted(os.listdir(tmp_path)) == sorted(
        [names[k] for k in ("more", "alive", "mine", "unnamed")]
        + [f"ksmlab-live-{dead}-yzab5678", f"ksmlab-live-{dead}-cdef9012"])


@pytest.mark.parametrize("timeout", [math.nan, -1, math.inf, -math.inf, True, "5"])
def test_a_lock_timeout_is_a_finite_number_of_seconds(timeout):
    with pytest.raises(ValueError, match=r"lock_timeout must be a number of seconds >= 0"):
        LiveSession(lock_timeout=timeout)


@pytest.mark.parametrize("spec", ["nowhere:SIGINT", "pass:SIGNOPE", "pass", ":SIGINT"])
def test_a_misspelt_signal_point_is_an_error(monkeypatch, spec):
    monkeypatch.setenv(SIGNAL_AT_ENV, spec)
    with pytest.raises(ValueError, match=f"{SIGNAL_AT_ENV}={spec!r}: use POINT:SIGNAL"):
        signal_point("pass")


def test_a_signal_point_signals_only_at_its_point(monkeypatch):
    got = []
    old = signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    try:
        monkeypatch.setenv(SIGNAL_AT_ENV, "forked:SIGUSR1")
        signal_point("pass")
        assert got == []
        signal_point("forked")
        assert got == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, old)
