"""The live-kernel lab: the same workloads on the model and on this machine's real KSM.

Tests marked ``live`` need root and a writable /sys/kernel/mm/ksm. Where that is missing
they skip with the reason, except under ``KSMLAB_REQUIRE_LIVE=1`` (set by .ci/run), where
they fail (the ``live`` fixture, in conftest.py). The other tests (workload validation,
the opt-in, the recording, the command line) run everywhere and never write to sysfs.
"""

from __future__ import annotations

import copy
import errno
import io
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout

import pytest
from ksmtest import live_unavailable as _unavailable

from ksmlab.__main__ import main as cli
from ksmlab.live import (
    COUNTERS,
    SHOWS,
    STATS,
    WORKLOADS,
    Comparison,
    LiveBusy,
    LiveFailure,
    LiveOptInRequired,
    LiveUnavailable,
    Workload,
    WorkloadError,
    all_workloads,
    availability,
    compare,
    get,
    load_recording,
    run_kernel,
    validate,
)
from ksmlab.live import driver as live_driver
from ksmlab.live import guard as live_guard
from ksmlab.live.driver import LiveSession, child_pids
from ksmlab.live.guard import KSM_DIR, WRITABLE_KNOBS, lock_paths, read_knobs

#: knobs as they were when this module was imported (None: no KSM here)
KNOBS_AT_START = read_knobs() if availability() is None else None


def _compare_live(name):
    try:
        return compare(name, allow_sysfs_writes=True)
    except LiveUnavailable as e:  # e.g. another process uses KSM
        _unavailable(e.reason)


@pytest.mark.live
def test_the_profiles_list_the_files_of_this_kernels_ksm_directory(live):
    """The profile picked for this kernel has exactly the files of its /sys/kernel/mm/ksm
    (nothing is written); the 3.9 profile has only the 3.9 ones among them."""
    from ksmlab import Kernel
    from ksmlab.live import pick_version

    version = pick_version(os.uname().release)
    if version == "3.9":
        _unavailable(f"kernel {os.uname().release} is older than the newest profile")
    here = set(os.listdir(KSM_DIR))
    assert set(Kernel(version=version).sysfs.names()) == here
    old = set(Kernel(version="3.9").sysfs.names())
    assert old < here and old == {"run", "pages_to_scan", "sleep_millisecs",
                                  "merge_across_nodes", "pages_shared", "pages_sharing",
                                  "pages_unshared", "pages_volatile", "full_scans"}


# -- the workloads, on both sides -------------------------------------------------------


def test_enough_workloads():
    assert len(WORKLOADS) >= 8
    steps = {s[0] for w in WORKLOADS.values() for s in w.steps}
    assert steps == {
        "spawn", "write", "madvise", "fork", "exit", "pass", "batch", "sysfs", "read"}
    assert any(sum(s[2] for s in w.steps if s[0] == "spawn") > 1000 for w in WORKLOADS.values())


@pytest.mark.live
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_model_equals_kernel(live, name):
    c = _compare_live(name)
    assert c.source == "live"
    assert len(c.model) == len(c.kernel) == len(c.workload.steps) + 1
    for m, k in zip(c.model, c.kernel, strict=True):
        assert m.result == k.result, (m.text, m.result, k.result)
        assert m.counters == k.counters, (m.step, m.text)
        assert m.read == k.read, (m.step, m.text)
        assert set(m.procs) == set(k.procs)
        for proc in m.procs:
            for s in STATS:
                assert m.procs[proc][s] == k.procs[proc][s], (m.step, m.text, proc, s)
            assert m.page_digests[proc] == k.page_digests[proc], (m.step, m.text, proc)
    assert c.differences == [] and c.agree
    # the workloads really do something on the kernel
    assert c.kernel[-1].counters["full_scans"] >= 1


@pytest.mark.live
@pytest.mark.parametrize("name", list(SHOWS))
def test_a_change_shows_on_the_39_profile_and_not_on_618(live, name):
    """Each workload of SHOWS agrees with the 6.18 kernel on the 6.18 profile (the
    version picked for it), and the kernel's observations differ from the 3.9 model's."""
    from ksmlab.live.model import run_model

    c = _compare_live(name)
    assert c.version == "6.18" and c.agree, c.text()
    old = Comparison(c.workload, run_model(c.workload, version="3.9"), c.kernel, "live",
                     c.info, version="3.9")
    assert old.differences and not old.agree


@pytest.mark.live
def test_one_wake_is_one_pass(live):
    """pages_scanned grows by exactly the present mergeable pages per pass."""
    w = get("big")
    kernel, info = _run_kernel(w)
    model = [o for o in compare(w, recording=None).model]
    for m, k in zip(model, kernel, strict=True):
        assert m.counters["full_scans"] == k.counters["full_scans"]
        assert m.counters["pages_scanned"] == k.counters["pages_scanned"]
    assert len(info["pass_seconds"]) == w.passes
    assert max(info["pass_seconds"]) < 1.0


@pytest.mark.live
def test_a_lost_wakeup_is_nudged(live, monkeypatch):
    """Without the sleep_millisecs change after pass 1, ksmd stays in its 60 s sleep and
    misses the next run=1; the driver wakes it through sleep_millisecs and still gets
    exactly one pass."""
    original = LiveSession._toggle_sleep
    calls = []

    def toggle(self):
        calls.append(len(self.pass_seconds))
        if len(calls) != 3:  # two while parking, then the one after pass 1
            original(self)

    monkeypatch.setattr(LiveSession, "_toggle_sleep", toggle)
    w = get("duplicates")
    kernel, info = _run_kernel(w)
    assert info["nudges"] <= 1
    if info["nudges"]:
        assert info["pass_seconds"][1] >= live_driver.NUDGE
    model = compare(w, recording=None).model
    assert [o.counters for o in model] == [o.counters for o in kernel]


def _run_kernel(w, **kw):
    try:
        return run_kernel(w, allow_sysfs_writes=True, **kw)
    except LiveUnavailable as e:
        _unavailable(e.reason)


# -- skipping, and failing under KSMLAB_REQUIRE_LIVE=1 -------------------------------------

_NO_KSM = """
import ksmlab.live, ksmlab.live.guard
def _no(ksm_dir=None):
    return "no KSM here (simulated)"
ksmlab.live.guard.availability = _no
ksmlab.live.availability = _no
"""


@pytest.mark.parametrize("require", ["", "1"])
def test_unavailable_skips_or_fails(tmp_path, require):
    (tmp_path / "ksmlab_no_ksm.py").write_text(_NO_KSM)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "KSMLAB_REQUIRE_LIVE": require}
    node = f"{__file__}::test_model_equals_kernel[duplicates]"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "ksmlab_no_ksm", "-q", "-rsf", node],
        cwd=os.path.dirname(os.path.dirname(__file__)),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if require:
        assert done.returncode == 1, done.stdout  # a failure, reported from the fixture
        assert "1 error" in done.stdout or "1 failed" in done.stdout
        assert "KSMLAB_REQUIRE_LIVE=1 but the live kernel cannot be used: no KSM here" in (
            done.stdout)
    else:
        assert done.returncode == 0, done.stdout
        assert "1 skipped" in done.stdout
        assert "live kernel unavailable: no KSM here (simulated)" in done.stdout


# -- safety ----------------------------------------------------------------------------


def test_opt_in_is_required(monkeypatch):
    def touched(*a, **k):
        raise AssertionError("the kernel was touched")

    monkeypatch.setattr(LiveSession, "__enter__", touched)
    monkeypatch.setattr(live_driver, "machine_info", touched)
    with pytest.raises(LiveOptInRequired, match="allow_sysfs_writes=True"):
        run_kernel(get("duplicates"))
    c = compare("duplicates")  # no opt-in: the model, and the recording at most
    assert c.source in ("recorded", None)


@pytest.mark.parametrize(
    "steps, message",
    [
        ([("spawn", "a", 2), ("frobnicate", "a")], "unknown step 'frobnicate'"),
        ([("spawn", "a", 2), ("write", "a", 2, "X")], "page 2 is out of range"),
        ([("spawn", "a", 2), ("write", "a", -1, "X")], "page -1 is out of range"),
        ([("spawn", "a", 2), ("madvise", "a", 1, 2, "mergeable")], "page 2 is out of range"),
        ([("spawn", "a", 2), ("write", "b", 0, "X")], "unknown process 'b'"),
        ([("spawn", "a", 2), ("fork", "z", "b")], "unknown process 'z'"),
        ([("spawn", "a", 2), ("exit", "a"), ("read", "a", 0, 1)], "'a' has exited"),
        ([("spawn", "a", 2), ("spawn", "a", 2)], "already called 'a'"),
        ([("spawn", "a", 2), ("fork", "a", "a")], "already called 'a'"),
        ([("spawn", "a", 0)], "npages must be a positive int"),
        ([("spawn", "a", 2), ("pass",)], "no live process has a mergeable page"),
        ([("spawn", "a", 2), ("batch", 3)], "no live process has a mergeable page"),
        (
            [("spawn", "a", 2), ("madvise", "a", 0, 2, "mergeable"), ("batch", 0)],
            "a batch is 1..16384 pages, not 0",
        ),
        (
            [("spawn", "a", 2), ("madvise", "a", 0, 2, "mergeable"), ("batch", "3")],
            "a batch is 1..16384 pages, not '3'",
        ),
        (
            [("spawn", "a", 2), ("madvise", "a", 0, 2, "mergeable"), ("sysfs", "run", 2),
             ("batch", 1)],
            "does not scan while run=2",
        ),
        (
            [("spawn", "a", 2), ("madvise", "a", 0, 2, "mergeable"), ("sysfs", "run", 0),
             ("pass",)],
            "does not scan while run=0",
        ),
        ([("sysfs", "pages_to_scan", 5)], "the driver owns the others"),
        ([("sysfs", "run", -1)], "non-negative int"),
        ([("spawn", "a", 2), ("madvise", "a", 0, 2, "sideways")], "advice 'sideways'"),
        ([("spawn", "a", 2), ("write", "a", 0, "X" * 4097)], "do not fit in a page"),
        ([("spawn", "a", 2), ("write", "a", 0, 7)], "must be str or bytes"),
        ([("spawn", "a", 2), ("exit",)], "takes 1 arguments, not 0"),
        ([("spawn", "a", 20000)], "at most 16384"),
        ([()], "non-empty tuple"),
    ],
)
def test_bad_workloads_are_rejected_before_the_kernel(monkeypatch, steps, message):
    def touched(*a, **k):
        raise AssertionError("the kernel was touched")

    monkeypatch.setattr(LiveSession, "__enter__", touched)
    monkeypatch.setattr(live_guard, "availability", touched)
    w = Workload("bad", "", steps)
    with pytest.raises(WorkloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate(w)
    with pytest.raises(WorkloadError):
        run_kernel(w, allow_sysfs_writes=True)
    with pytest.raises(WorkloadError):
        compare(w, allow_sysfs_writes=True)


def test_unavailable_says_why(monkeypatch, tmp_path):
    assert "does not exist" in availability(str(tmp_path / "nope"))
    fake = tmp_path / "ksm"
    fake.mkdir()
    for name in ("run", "pages_to_scan", "sleep_millisecs", "full_scans", *COUNTERS[:4]):
        (fake / name).write_text("0\n")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert availability(str(fake)) == (
        f"writing {fake} needs root; this process runs as uid 1000"
    )
    (fake / "run").unlink()
    assert availability(str(fake)) == f"{fake} lacks run"
    with pytest.raises(LiveUnavailable, match="lacks run"):
        run_kernel(get("uniques"), allow_sysfs_writes=True, ksm_dir=str(fake))


@pytest.mark.live
def test_lock_serialises_runs(live):
    with LiveSession():
        with pytest.raises(LiveBusy, match=f"pid {os.getpid()}"):
            with LiveSession(lock_timeout=0.2):
                pass
    with LiveSession():  # free again
        pass


@pytest.mark.live
def test_refuses_while_another_process_uses_ksm(live):
    code = (
        "import mmap, sys, time\n"
        "m = mmap.mmap(-1, 4 * 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)\n"
        "m.madvise(mmap.MADV_MERGEABLE)\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert other.stdout.readline() == b"ready\n"
        before = read_knobs()
        with pytest.raises(LiveUnavailable, match=rf"in use by other processes \({other.pid} "):
            with LiveSession():
                pass
        assert read_knobs() == before
    finally:
        other.kill()
        other.wait()


@pytest.mark.live
@pytest.mark.parametrize("how", ["exception", "SIGINT", "SIGTERM"])
def test_interrupted_run_restores_everything(live, how):
    def on_step(i, obs):
        if obs.counters["pages_sharing"]:  # stop with pages merged and children alive
            assert child_pids()
            if how == "exception":
                raise KeyboardInterrupt
            os.kill(os.getpid(), getattr(signal, how))
            time.sleep(5)  # the signal arrives first
            raise AssertionError("no signal")

    old = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        _run_kernel(get("fork-cow"), on_step=on_step)
    assert signal.getsignal(signal.SIGTERM) == old
    # the live fixture checks knobs, children and counters


@pytest.mark.live
def test_failed_run_restores_everything(live, monkeypatch):
    original = LiveSession.proc_state

    def dying(self, name):
        if len(self.pass_seconds) == 2:
            os.kill(self.children[name].pid, signal.SIGKILL)
        return original(self, name)

    monkeypatch.setattr(LiveSession, "proc_state", dying)
    with pytest.raises(LiveFailure, match="process a died during observe"):
        _run_kernel(get("duplicates"))


@pytest.mark.live
def test_a_record_of_an_older_ksmlab_is_trusted_only_where_it_holds(live, capfd):
    """A record without the values its run wrote (as ksmlab kept it before): a knob that
    reads as saved is kept; one that does not is left as found, and named, since nothing
    says the lab set it (the SIGKILL tests in test_live_signals.py cover today's record)."""
    before = read_knobs()
    by_hand = "4242" if before["pages_to_scan"] != "4242" else "4243"
    _, state = lock_paths()
    with open(state, "w") as f:
        json.dump({"pid": 1, "knobs": before}, f)
    try:
        with open(os.path.join(KSM_DIR, "pages_to_scan"), "w") as f:
            f.write(by_hand)
        with LiveSession() as s:
            assert s.recovered
        why = (f"reads {by_hand}, not a value the killed run wrote (its record does not say "
               f"what it wrote); it had saved {before['pages_to_scan']}")
        assert s.left == {"pages_to_scan": why}
        assert capfd.readouterr().err == f"ksmlab live: left pages_to_scan as found: it {why}\n"
        assert read_knobs() == {**before, "pages_to_scan": by_hand}
        assert not os.path.exists(state)
    finally:
        if read_knobs() != before:
            with open(os.path.join(KSM_DIR, "pages_to_scan"), "w") as f:
                f.write(before["pages_to_scan"])
        if os.path.exists(state):
            os.unlink(state)


# -- the recording ---------------------------------------------------------------------


def test_recording_is_labelled_and_covers_every_workload():
    rec = load_recording()
    for key in ("machine", "arch", "kernel", "date", "command"):
        assert rec["recorded"][key]
    assert "--live --record" in rec["recorded"]["command"]
    assert set(rec["workloads"]) == set(all_workloads())


@pytest.mark.parametrize("name", list(all_workloads()))
def test_model_agrees_with_the_recording(name):
    c = compare(name)  # no opt-in: the recorded kernel
    assert c.source == "recorded"
    assert c.label.startswith("kernel: RECORDED on ")
    assert c.agree, c.text()
    assert "RECORDED" in c.html() and "RECORDED" in c.text()


# -- rendering and the command line -------------------------------------------------------


def test_differences_are_marked():
    c = compare("merge-into-existing", version="3.9")  # the 3.9 model, the 6.18 recording
    assert c.kernel is not None and c.version == "3.9" and not c.agree
    assert [(d.step, d.field) for d in c.differences] == [
        (8, "pages_sharing"), (8, "pages_volatile"), (8, "general_profit"),
        (8, "b.ksm_merging_pages"), (8, "b.ksm_process_profit")]
    text, page = c.text(), c.html()
    assert "2≠1" in text and "model: Linux 3.9 profile (as asked)" in text
    assert "#f8c0c0" in page
    same = compare("merge-into-existing")  # the recording's kernel picks 6.18
    assert same.version == "6.18" and same.agree and same.differences == []
    assert "not newer than the recorded kernel, 6.18" in same.text()
    kernel = copy.deepcopy(same.kernel)
    kernel[4].counters["pages_shared"] += 1
    hacked = Comparison(same.workload, same.model, kernel, "recorded", same.info,
                        version="6.18")
    assert not hacked.agree
    assert [d.field for d in hacked.differences] == ["pages_shared"]
    assert "\n!" in hacked.text() and "#f8c0c0" in hacked.html()


def test_plot():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    fig = compare("duplicates").plot()
    assert len(fig.axes[0].lines) >= 8


def _cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = cli(list(argv))
        except SystemExit as e:
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def test_cli_help_and_list():
    rc, out, _ = _cli("--help")
    assert rc == 0 and "live-compare" in out
    rc, out, _ = _cli("live-compare", "--help")
    assert rc == 0 and "--live" in out and "--record" in out and "--list" in out
    rc, out, _ = _cli("live-compare", "--list")
    assert rc == 0
    for name in all_workloads():
        assert name in out


def test_cli_errors():
    assert _cli("live-compare")[0] == 2
    rc, _, err = _cli("live-compare", "no-such-workload")
    assert rc == 2 and "no workload 'no-such-workload'" in err
    rc, _, err = _cli("live-compare", "uniques", "--record", "/tmp/x.json")
    assert rc == 2 and "--record needs --live" in err


def test_cli_version():
    """The version is picked from the recording's kernel and named; --version overrides
    it, and on the 3.9 profile a workload that shows a change differs (exit status 1)."""
    rc, out, _ = _cli("live-compare", "merge-into-existing")
    assert rc == 0
    assert "model: Linux 6.18 profile (the newest modelled version not newer than the " \
           "recorded kernel, 6.18" in out
    rc, out, _ = _cli("live-compare", "merge-into-existing", "--version", "3.9")
    assert rc == 1 and "model: Linux 3.9 profile (as asked)" in out and "\n!" in out
    rc, _, err = _cli("live-compare", "uniques", "--version", "5.0")
    assert rc == 2 and "invalid choice: '5.0'" in err
    rc, out, _ = _cli("live-compare", "--list")
    assert "[stale_node_restart, id not verified, 4.5]" in out


def test_compare_picks_the_version_from_the_kernel_side():
    from ksmlab.live import pick_version

    assert [pick_version(r) for r in ("3.9.0", "4.12.14", "6.17.1", "6.18.44-fc", "7.1")] == [
        "3.9", "3.9", "3.9", "6.18", "6.18"]
    with pytest.raises(ValueError, match="not a kernel release"):
        pick_version("unknown")
    with pytest.raises(ValueError, match="unknown kernel version '5.4'"):
        compare("uniques", version="5.4")
    rec = load_recording()
    assert rec["recorded"]["kernel"].startswith("6.18")
    rec = copy.deepcopy(rec)
    rec["recorded"]["kernel"] = "5.15.0-91-generic"
    c = compare("merge-into-existing", recording=rec)
    assert c.version == "3.9" and "not newer than the recorded kernel, 5.15.0" in c.model_label


def test_cli_recorded(tmp_path):
    rc, out, _ = _cli("live-compare", "exit", "--html", str(tmp_path / "t.html"))
    assert rc == 0
    assert "kernel: RECORDED on" in out and "agree after every one" in out
    assert "<table" in (tmp_path / "t.html").read_text()


@pytest.mark.live
def test_cli_live_record(live, tmp_path):
    path = tmp_path / "rec.json"
    rc, out, err = _cli("live-compare", "uniques", "--live", "--record", str(path))
    if rc == 2 and "cannot run on the live kernel" in err:
        _unavailable(err)
    assert rc == 0, out + err
    assert "kernel: live" in out and "kernel side:" in out
    rec = json.loads(path.read_text())
    assert list(rec["workloads"]) == ["uniques"]
    assert rec["recorded"]["kernel"] == os.uname().release
    c = compare("uniques", recording=str(path))
    assert c.source == "recorded" and c.agree


# -- last: the machine is as it was -------------------------------------------------------


@pytest.mark.live
def test_zz_every_knob_reads_as_before_and_no_child_is_left():
    if KNOBS_AT_START is None:
        _unavailable(availability() or "no KSM when the tests started")
    assert read_knobs() == KNOBS_AT_START
    assert set(KNOBS_AT_START) >= {"run", "pages_to_scan", "sleep_millisecs", "smart_scan"}
    assert set(KNOBS_AT_START) <= set(WRITABLE_KNOBS)
    assert child_pids() == []
    _, state = lock_paths()
    assert not os.path.exists(state)


# -- the benchmark's real-ksmd side -------------------------------------------------------


@pytest.mark.live
def test_bench_real_ksmd_passes_leave_the_models_counters(live):
    """``python -m ksmlab.bench --live`` on a small world: every measured pass of the real
    ksmd ends with exactly the counters the model's pass of the same kind ends with."""
    from ksmlab.bench import scan
    from ksmlab.bench.ksmd import measure_live

    pages = 2_048
    live_samples = measure_live(pages, repeats=1)
    assert set(live_samples) == set(scan.PASSES)
    for kind, samples in live_samples.items():
        assert len(samples) == 1, kind
        model = scan.measure(kind, pages, repeats=1)[0]
        assert samples[0]["counters"] == model["counters"], kind
        assert samples[0]["scanned"] == model["scanned"] == pages, kind
        assert samples[0]["cpu_seconds"] > 0, kind


# -- sysfs writes, byte for byte ----------------------------------------------------------

#: the knobs, each from a value the model and the kernel both start from
RAW_KNOBS = {
    "run": 0,
    "pages_to_scan": 33,
    "sleep_millisecs": 33,
    "merge_across_nodes": 1,
    "max_page_sharing": 256,
    "stable_node_chains_prune_millisecs": 2000,
    "use_zero_pages": 0,
    "smart_scan": 0,
}
RAW_WRITES = [
    b"", b"\0", b"1\0junk", b"0\n", b"1", b"2", b"12", b"+1", b"-1", b" 1", b"1 ", b"1\n\n",
    b"y", b"on", b"off", b"x", b"\xff", b"4294967296", b"99999999999999999999",
    b"0" * 4096 + b"1", b"0" * 4094 + b"12", b"0" * 4094 + b"1\n",
]


def _model_write(name, start, data, version="6.18"):
    """The model's write(2) of ``data``: (count or errno, value read back). The 6.18
    profile takes it as kernfs does (3.14): PAGE_SIZE bytes instead of 3.9's one fewer."""
    from ksmlab import Kernel, KernelError

    k = Kernel(nodes=1, version=version)
    k.sysfs.write(name, start)
    try:
        out = {"count": k.sysfs.write(name, data)}
    except KernelError as e:
        out = {"errno": e.errno}
    out["value"] = k.sysfs.read(name)
    return out


@pytest.mark.live
def test_sysfs_writes_byte_for_byte(live):
    """One write(2) of each buffer to each knob, on the 6.18 model and on the kernel: the
    count returned (or the errno) and the value read back agree (the 6.18 profile cuts a
    long write where kernfs, 3.14, does: one byte later than 3.9's sysfs did)."""
    seen = 0
    try:
        with live_guard.KsmGuard() as g:
            for name, start in RAW_KNOBS.items():
                if not os.path.exists(os.path.join(g.ksm_dir, name)):
                    continue
                for data in RAW_WRITES:
                    g.set_knob(name, start)
                    try:
                        got = {"count": g.write_raw(name, data)}
                    except OSError as e:
                        got = {"errno": e.errno}
                    got["value"] = g.knob_int(name)
                    assert got == _model_write(name, start, data), (name, data[:16])
                    seen += 1
                g.set_knob(name, start)
            from ksmlab import Kernel, KernelError
            from ksmlab.ksm.sysfs import COUNTERS as MODEL_COUNTERS

            for name in MODEL_COUNTERS:  # refused at open(), whatever is written
                if not os.path.exists(os.path.join(g.ksm_dir, name)):
                    continue
                for data in (b"", b"0"):
                    with pytest.raises(OSError) as kernel_err:
                        g.write_raw(name, data)
                    with pytest.raises(KernelError) as model_err:
                        Kernel(nodes=1, version="6.18").sysfs.write(name, data)
                    assert kernel_err.value.errno == model_err.value.errno == errno.EACCES
                    seen += 1
    except LiveUnavailable as e:
        _unavailable(e.reason)
    present = [n for n in (*RAW_KNOBS, *MODEL_COUNTERS) if os.path.exists(os.path.join(KSM_DIR, n))]
    knobs = sum(n in RAW_KNOBS for n in present)
    assert knobs >= 5 and seen == knobs * len(RAW_WRITES) + 2 * (len(present) - knobs)


def test_the_39_profile_cuts_a_long_sysfs_write_one_byte_before_kernfs():
    """The 3.9 profile differs from the 6.18 one (kernfs) exactly at the 4,096th byte."""
    long = b"0" * 4094 + b"12"
    assert _model_write("pages_to_scan", 33, long, "3.9") == {"count": 4095, "value": 1}
    assert _model_write("pages_to_scan", 33, long) == {"count": 4096, "value": 12}
    for data in RAW_WRITES:
        if len(data) < 4096:
            assert _model_write("pages_to_scan", 33, data, "3.9") == _model_write(
                "pages_to_scan", 33, data)


#: (knob, bytes written) in order: 6.18's parsers and the advisor's rules
PARSER_WRITES = [
    ("smart_scan", b"e"), ("smart_scan", b"d"), ("smart_scan", b"E\n"), ("smart_scan", b"D"),
    ("smart_scan", b"on"), ("smart_scan", b"of"), ("smart_scan", b"o"), ("smart_scan", b"x"),
    ("smart_scan", b""), ("smart_scan", b"0"),
    ("use_zero_pages", b"enable"), ("use_zero_pages", b"disable"), ("use_zero_pages", b"2"),
    ("advisor_max_cpu", b"55"), ("advisor_max_cpu", b"-1"), ("advisor_max_cpu", b"x"),
    ("advisor_target_scan_time", b"0"), ("advisor_target_scan_time", b"150\n"),
    ("advisor_min_pages_to_scan", b"400"), ("advisor_max_pages_to_scan", b"+20000"),
    ("advisor_mode", b"bogus"), ("advisor_mode", b"scan-time\n"),
    ("pages_to_scan", b"77"), ("advisor_mode", b"scan-time"), ("advisor_mode", b"none"),
    ("pages_to_scan", b"77"),
    ("max_page_sharing", b"1"), ("max_page_sharing", b"-5"), ("max_page_sharing", b"x"),
    ("max_page_sharing", b"300"), ("stable_node_chains_prune_millisecs", b"x"),
    ("stable_node_chains_prune_millisecs", b"0"),
]


@pytest.mark.live
def test_sysfs_parsers_of_618(live):
    """The same writes, in the same order, on the 6.18 model and on the kernel: each
    write's count (or errno), and then every knob, read the same. (KSM holds nothing, so
    max_page_sharing may change.)"""
    from ksmlab import Kernel, KernelError

    k = Kernel(nodes=1, version="6.18")
    names = sorted({n for n, _ in PARSER_WRITES} | {"pages_to_scan"})
    try:
        with live_guard.KsmGuard() as g:
            g.set_knob("advisor_mode", "none")
            for n in names:  # the model's start: the kernel defaults
                if n != "advisor_mode":
                    g.set_knob(n, k.sysfs.read(n))
            for name, data in PARSER_WRITES:
                try:
                    got = g.write_raw(name, data)
                except OSError as e:
                    got = -e.errno
                try:
                    want = k.sysfs.write(name, data)
                except KernelError as e:
                    want = -e.errno
                assert got == want, (name, data)
                # the guard reads a choice knob as the choice in brackets
                model = {n: str(k.sysfs.read(n)) for n in names}
                model["advisor_mode"] = model["advisor_mode"].split("[")[1].split("]")[0]
                assert {n: g.knob(n) for n in names} == model, (name, data)
    except LiveUnavailable as e:
        _unavailable(e.reason)
