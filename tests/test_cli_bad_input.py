"""Bad command lines, run as a user runs them (``python -m ksmlab ...`` in a subprocess):
each gets one line on stderr naming the problem and exit status 2, never a traceback,
and fails at once (the subprocess timeout is the bound: the slowest used to take a minute
and 2.3 GB before it failed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "fork_behind_unmerge_cursor"


def ksmlab(*argv, timeout=30):
    """(exit status, stdout, stderr) of ``python -m ksmlab ARGV``."""
    done = subprocess.run(
        [sys.executable, "-m", "ksmlab", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stdout, done.stderr


def assert_one_error_line(argv, line):
    status, out, err = ksmlab(*argv)
    assert "Traceback" not in err
    assert (status, out, err) == (2, "", line + "\n")


@pytest.mark.parametrize(
    "schedule, refusal",
    [
        # U finishes after 14 steps: a longer run fails at once, at the 15th step
        ("U*9999999999999999", "step 15: task U has finished"),  # was a MemoryError
        ("U*99999999999999999999999", "step 15: task U has finished"),  # an OverflowError
        ("U*99999999", "step 15: task U has finished"),  # was 62 s and 2.3 GB
        ("U*3 F*2 U*9990 U*6", "task U has finished"),  # the runs add up
        ("U*" + "9" * 5000, "a repeat count of 5000 digits"),  # never int() a long str
    ],
)
def test_replay_refuses_more_steps_than_the_task_can_run_at_once(schedule, refusal):
    status, out, err = ksmlab("replay", SCENARIO, schedule, timeout=20)
    assert "Traceback" not in err
    assert (status, out) == (2, "")
    assert err.startswith("error: ") and err.count("\n") == 1 and refusal in err


@pytest.mark.parametrize("schedule", ["", "   ", ",,,", " , "])
def test_replay_of_an_empty_schedule_is_an_error(schedule):
    assert_one_error_line(
        ["replay", SCENARIO, schedule],
        f"error: the schedule {schedule!r} is empty: name at least one step, e.g. "
        "'U*3 F*2 U*10'",
    )


def test_replay_help_says_what_an_empty_schedule_means():
    status, out, err = ksmlab("replay", "--help")
    assert (status, err) == (0, "")
    text = " ".join(out.split())
    assert "an empty schedule is an error, not a run" in text
    assert "a count larger than the task can run fails at the first step" in text
    assert "Exit status: 0 when no violation occurred" in text


# -- live-compare: every option is checked before anything runs ------------------------------

FORMAT = "ksmlab-live-recording/1"


def recording_file(tmp_path, name, content) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def shipped() -> dict:
    return json.loads((ROOT / "ksmlab" / "data" / "live-recorded.json").read_text())


@pytest.mark.parametrize(
    ("make", "line"),
    [
        (lambda d: "/nonexistent/rec.json", "--recording {p}: No such file or directory"),
        (lambda d: str(d), "--recording {p}: Is a directory"),
        (lambda d: recording_file(d, "list.json", [1, 2]),
         "--recording: {p} is not a " + FORMAT + " file"),
        (lambda d: recording_file(d, "text.json", "not json"),
         "--recording: {p} is not a " + FORMAT + " file (Expecting value: line 1 column 1 "
         "(char 0))"),
        (lambda d: recording_file(d, "no-workloads.json", {"format": FORMAT, "recorded": {}}),
         "--recording: {p} is a " + FORMAT + " file without its 'workloads' table"),
        (lambda d: recording_file(d, "other.json", {**shipped(), "workloads": {}}),
         "--recording {p}: the recording has no workload 'duplicates'"),
        (lambda d: recording_file(d, "damaged.json", {**shipped(), "workloads": {
            "duplicates": {k: v for k, v in shipped()["workloads"]["duplicates"].items()
                           if k != "kernel"}}}),
         "--recording {p}: the recording of 'duplicates' is damaged (KeyError: 'kernel')"),
    ],
    ids=["missing", "folder", "json-list", "not-json", "no-workloads", "no-such-workload",
         "damaged"],
)
def test_a_recording_that_cannot_be_used_is_named(tmp_path, make, line):
    path = make(tmp_path)
    assert_one_error_line(["live-compare", "duplicates", "--recording", path],
                          "live-compare: " + line.format(p=path))


def test_a_good_recording_named_on_the_command_line_is_used(tmp_path):
    path = recording_file(tmp_path, "copy.json", shipped())
    status, out, err = ksmlab("live-compare", "duplicates", "--recording", path)
    assert (status, err) == (0, "")
    assert "kernel: RECORDED on" in out and "agree after every one" in out


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--html", "/nonexistent/t.html"],
         "--html /nonexistent/t.html: there is no folder /nonexistent"),
        (["--plot", "/nonexistent/p.png"],
         "--plot /nonexistent/p.png: there is no folder /nonexistent"),
        (["--html", "{tmp}"], "--html {tmp}: is a folder; name a file"),
        (["--lock-timeout", "nan"], "--lock-timeout takes a number of seconds >= 0, not nan"),
        (["--lock-timeout", "-1"], "--lock-timeout takes a number of seconds >= 0, not -1.0"),
        (["--lock-timeout", "inf"], "--lock-timeout takes a number of seconds >= 0, not inf"),
        (["--live", "--recording", "{tmp}/r.json"],
         "--recording is for runs without --live (the kernel column is then live)"),
    ],
    ids=["html-folder-missing", "plot-folder-missing", "html-is-a-folder", "nan", "negative",
         "inf", "recording-with-live"],
)
def test_a_bad_option_is_named(tmp_path, argv, line):
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert_one_error_line(["live-compare", "duplicates", *argv],
                          "live-compare: " + line.format(tmp=tmp_path))


def test_a_plot_needs_a_format_it_can_write(tmp_path):
    pytest.importorskip("matplotlib")
    for name in ("x.unknownext", "x"):
        path = str(tmp_path / name)
        status, out, err = ksmlab("live-compare", "duplicates", "--plot", path)
        assert (status, out) == (2, "")
        assert err.startswith(f"live-compare: --plot {path}: name the image format by its "
                              "extension, one of ")
        assert "png" in err and "svg" in err and err.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_a_live_record_into_a_missing_folder_stops_before_the_kernel_is_touched():
    """Had it reached the lock, the hook would have killed it (exit status -9): the folder
    is checked first, also on a machine without KSM."""
    env = {**os.environ, "KSMLAB_LIVE_SIGNAL_AT": "locked:SIGKILL"}
    done = subprocess.run(
        [sys.executable, "-m", "ksmlab", "live-compare", "duplicates", "--live", "--record",
         "/nonexistent/dir/r.json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", "live-compare: --record /nonexistent/dir/r.json: there is no folder "
        "/nonexistent/dir\n")
