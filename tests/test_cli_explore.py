"""``python -m ksmlab explore`` and ``replay``: the verdict, the counterexample as a runs
table, its schedule and a replay command that reproduces it; exit status 1 for a violation,
0 for none within the bound, 2 with a single ``error:`` line for bad input."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import ksmlab
import ksmlab.__main__
from ksmlab import Fixes
from ksmlab.check.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "fork_behind_unmerge_cursor"
HEAD = [
    "scenario:  fork_behind_unmerge_cursor - Bug 1: a fork during run=2 lands behind the "
    "unmerge cursor",
    "property:  after run=2 returns, no live mm maps a KSM page and no stable node of a live "
    "KSM page remains; nothing written is lost",
]
FOUND = HEAD + [
    "fixes:     Fixes.none()",
    "explored:  4 schedules (0 already-seen states skipped), 276 steps, strategy dfs, bound 1",
    "window:    reached (the fork registered its child while the unmerge walk was in progress)",
    "verdict:   violation found with 1 preemption(s): C@0x7f0000000000 still maps KSM page 0x2 "
    "after run=2 returned",
    "",
    f"{'steps':>8}  {'task':<4} {'ends at':<48} why",
    f"{'1-3':>8}  U    {'unmerge_and_remove_all_rmap_items:up_read':<48} "
    "finished an mm, cursor moved on",
    f"{'4-5':>8}* F    {'done':<48} returned <mm of C>",
    f"{'6-15':>8}  U    {'done':<48} returned []",
    "",
    "schedule:  U*3 F*2 U*10",
    "replay:    python -m ksmlab replay fork_behind_unmerge_cursor 'U*3 F*2 U*10' --fixes none",
]
CLEAN = HEAD + [
    "fixes:     Fixes.all()",
    "explored:  36 schedules (2 already-seen states skipped), 945 steps, strategy dfs, bound 2",
    "window:    reached (the fork registered its child while the unmerge walk was in progress)",
    "verdict:   no violation within bound 2",
]
VIOLATION = "violation: C@0x7f0000000000 still maps KSM page 0x2 after run=2 returned"


def run(capsys, *argv):
    """main(argv) in-process: (exit status, stdout lines, stderr lines)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def replay_argv(lines) -> list:
    """The arguments of the printed replay command, after ``python -m ksmlab``."""
    (line,) = [x for x in lines if x.startswith("replay:")]
    argv = shlex.split(line[len("replay:") :])
    assert argv[:3] == ["python", "-m", "ksmlab"]
    return argv[3:]


def test_explore_finds_bug_1_before_the_fixes(capsys):
    status, out, err = run(capsys, "explore", SCENARIO, "--fixes", "none")
    assert (status, out, err) == (1, FOUND, [])


def test_the_printed_replay_command_reproduces_the_violation(capsys):
    _, out, _ = run(capsys, "explore", SCENARIO, "--fixes", "none")
    argv = replay_argv(out)
    assert argv == ["replay", SCENARIO, "U*3 F*2 U*10", "--fixes", "none"]
    status, lines, err = run(capsys, *argv)
    assert (status, err) == (1, [])
    assert lines[-2:] == ["", VIOLATION]
    cx = ksmlab.explore(SCENARIO, fixes=Fixes.none()).counterexample
    assert "\n".join(lines[:-2]) == str(cx.trace)
    assert len(lines) == 15 + 2
    assert (
        lines[3] == f"   4* F   {'__ksm_enter:alloc_mm_slot':<52} allocating the mm_slot may sleep"
    )


def test_explore_with_the_trace_option_prints_every_step(capsys):
    status, out, _ = run(capsys, "explore", SCENARIO, "--fixes", "none", "--trace")
    assert status == 1
    assert out[: len(FOUND)] == FOUND
    rep = ksmlab.replay(SCENARIO, "U*3 F*2 U*10", fixes=Fixes.none())
    assert out[len(FOUND) :] == [""] + str(rep.trace).splitlines()


def test_explore_with_every_fix_finds_nothing_within_bound_2(capsys):
    status, out, err = run(capsys, "explore", SCENARIO, "--fixes", "all")
    assert (status, out, err) == (0, CLEAN, [])
    assert run(capsys, "explore", SCENARIO) == (0, CLEAN, [])  # all is the default


@pytest.mark.parametrize(
    ("scenario", "fix", "schedule"),
    [
        ("fork_behind_unmerge_cursor", "cursor_insertion", "U*3 F*2 U*10"),
        ("swapin_after_unmerge_walk", "swapcache_copy_on_fault", "R*3 U*9 T"),
        ("migration_during_break_ksm", "follow_page_migration_wait", "M*4 U*2 M*2 U*8"),
        ("stale_stable_node_switch", "stable_node_removal", "W*16 R K*5"),
    ],
)
def test_each_bug_with_its_fix_off_round_trips_through_replay(capsys, scenario, fix, schedule):
    status, out, _ = run(capsys, "explore", scenario, "--fixes", f"without:{fix}")
    assert status == 1
    assert out[2] == f"fixes:     {Fixes.all().without(fix)}"
    res = ksmlab.explore(scenario, fixes=Fixes.all().without(fix))
    assert out[5] == f"verdict:   {res.verdict()}"
    assert f"schedule:  {schedule}" in out
    argv = replay_argv(out)
    assert argv == ["replay", scenario, schedule, "--fixes", f"without:{fix}"]
    status, lines, err = run(capsys, *argv)
    assert (status, err) == (1, [])
    assert lines[-1] == f"violation: {res.counterexample.violation}"
    assert "\n".join(lines[:-2]) == str(res.counterexample.trace)


def test_replay_of_a_clean_schedule(capsys):
    # with every fix the child C goes to the tail, so the walk takes four more steps for it
    status, out, err = run(capsys, "replay", SCENARIO, "U*3 F*2 U*14")  # fixes all
    assert (status, err) == (0, [])
    assert out[-2:] == ["", "no violation"]
    assert len(out) == 19 + 2
    assert out[13:16] == [
        f"  14  U   {'break_ksm:cond_resched':<52} cond_resched() before each look at the PTE",
        f"  15  U   {'do_wp_page:alloc_page':<52} allocating the private copy may sleep",
        f"  16  U   {'unmerge_and_remove_all_rmap_items:up_read':<52} finished an mm, cursor "
        "moved on",
    ]
    status, out, err = run(capsys, "replay", SCENARIO, "U*3 F*2 U*10")
    assert (status, out[-1], err) == (0, "no violation so far (some tasks have not finished)", [])


def test_exit_status_of_the_real_command():
    proc = subprocess.run(
        [sys.executable, "-m", "ksmlab", "explore", SCENARIO, "--fixes", "none"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stdout.splitlines(), proc.stderr) == (1, FOUND, "")
    proc = subprocess.run(
        [sys.executable, "-m", "ksmlab", "replay", SCENARIO, "F*9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        "error: step 3: task F has finished\n",
    )


KNOWN = ", ".join(ksmlab.scenarios.names())
FIX_NAMES = ", ".join(Fixes.names())


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["explore", "nosuch"], f"error: no scenario 'nosuch'; known: {KNOWN}"),
        (["replay", "nosuch", "U"], f"error: no scenario 'nosuch'; known: {KNOWN}"),
        (
            ["explore", SCENARIO, "--fixes", "bogus"],
            "error: bad --fixes 'bogus': use all, none, without:NAMES or only:NAMES",
        ),
        (
            ["explore", SCENARIO, "--fixes", "only:"],
            "error: bad --fixes 'only:': use all, none, without:NAMES or only:NAMES",
        ),
        (
            ["explore", SCENARIO, "--fixes", "without:bogus"],
            f"error: unknown fix 'bogus'; known: {FIX_NAMES}",
        ),
        (
            ["replay", SCENARIO, "U", "--fixes", "only:cursor_insertion,nope"],
            f"error: unknown fix 'nope'; known: {FIX_NAMES}",
        ),
        (
            ["replay", SCENARIO, "U*3 F**2"],
            "error: bad schedule token 'F**2': expected NAME or NAME*COUNT",
        ),
        (
            ["replay", SCENARIO, "U*0"],
            "error: bad schedule token 'U*0': expected NAME or NAME*COUNT",
        ),
        (["replay", SCENARIO, "U X"], "error: step 2: there is no task 'X' (tasks: F, U)"),
        (["replay", SCENARIO, "F*9"], "error: step 3: task F has finished"),
        (["explore", SCENARIO, "--bound", "-1"], "error: max_preemptions must be >= 0, not -1"),
    ],
)
def test_bad_input_gets_one_error_line_and_status_2(capsys, argv, error):
    assert run(capsys, *argv) == (2, [], [error])


def test_a_blocked_step_gets_one_error_line_too():
    proc = subprocess.run(
        [sys.executable, "-m", "ksmlab", "replay", "migration_during_break_ksm", "M*3 U*3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines() == [
        "error: step 6: task U is blocked at migration_entry_wait:wait_on_page_locked: "
        "page 0x1 is under migration by M"
    ]


def test_help_lists_the_commands(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exit_:
        ksmlab.__main__.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m ksmlab [-h] COMMAND ...\n")
    commands = [m[1] for m in re.finditer(r"^    (\S+)", out, re.MULTILINE)]
    assert commands == ["explore", "replay", "live-compare", "exercises", "workspace"]
    for argv, words in [
        (["explore", "--help"], ["--fixes", "--bound", "--strategy", "--trace", SCENARIO]),
        (["replay", "--help"], ["SCHEDULE", "NAME*N", "'U*3 F*2 U*10'", "--fixes"]),
    ]:
        with pytest.raises(SystemExit) as exit_:
            ksmlab.__main__.main(argv)
        assert exit_.value.code == 0
        text = capsys.readouterr().out
        assert text.startswith(f"usage: python -m ksmlab {argv[0]} ")
        for word in words + list(Fixes.names()):
            assert word in text, (argv, word)


def test_the_package_entry_point_runs_the_same_command(capsys):
    assert ksmlab.__main__.main(["explore", SCENARIO, "--fixes", "none"]) == 1
    assert capsys.readouterr().out.splitlines() == FOUND
