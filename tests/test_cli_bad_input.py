"""Bad command lines, run as a user runs them (``python -m ksmlab ...`` in a subprocess):
each gets one line on stderr naming the problem and exit status 2, never a traceback,
and fails at once (the subprocess timeout is the bound: the slowest used to take a minute
and 2.3 GB before it failed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ksmlab.check.cli import MAX_REPLAY_STEPS

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "fork_behind_unmerge_cursor"
TOO_LONG = (f"error: the schedule asks for more than {MAX_REPLAY_STEPS:,} steps; every "
            "scenario ends in under a hundred")


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
    "schedule",
    [
        "U*9999999999999999",  # was a MemoryError
        "U*99999999999999999999999",  # was an OverflowError
        "U*99999999",  # was 62 s and 2.3 GB
        "U*" + "9" * 5000,  # more digits than int() takes from a str
        "U*3 F*2 U*9990 U*6",  # the steps of the runs add up
    ],
)
def test_replay_refuses_more_steps_than_any_scenario_takes(schedule):
    assert_one_error_line(["replay", SCENARIO, schedule], TOO_LONG)


def test_replay_takes_a_schedule_up_to_the_limit():
    """At the limit the schedule is parsed and run: it fails at the first step a task
    cannot take, as any schedule does."""
    status, out, err = ksmlab("replay", SCENARIO, f"U*{MAX_REPLAY_STEPS}")
    assert (status, out) == (2, "")
    assert err == "error: step 15: task U has finished\n"


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
    assert f"at most {MAX_REPLAY_STEPS:,}" in text
    assert "Exit status: 0 when no violation occurred" in text
