"""ksmlab.bench on small worlds: each measured pass leaves exactly the expected counters,
the report's targets and exit codes, and (as root, with KSM) the real ksmd's passes leave
the same counters as the model's. Timings are never checked, only what each pass did."""

from __future__ import annotations

import json

import pytest

from ksmlab import PAGE_SIZE, bench
from ksmlab.bench import scan
from ksmlab.live.child import bench_page

PAGES = 2_048

MERGED = {"pages_shared": scan.DISTINCT, "pages_sharing": PAGES - scan.DISTINCT,
          "pages_unshared": 0, "pages_volatile": 0}
EXPECTED = {
    "checksum": {"pages_shared": 0, "pages_sharing": 0, "pages_unshared": 0,
                 "pages_volatile": PAGES},
    "merging": MERGED,
    "unique": {"pages_shared": 0, "pages_sharing": 0, "pages_unshared": PAGES,
               "pages_volatile": 0},
    "steady": MERGED,
}


@pytest.mark.parametrize("kind", list(scan.PASSES))
def test_each_measured_pass_does_what_its_kind_says(kind):
    samples = scan.measure(kind, PAGES, repeats=2)
    assert len(samples) == 2
    for s in samples:
        assert s["scanned"] == PAGES
        assert s["seconds"] > 0
        assert s["counters"] == EXPECTED[kind]


def test_the_pages_are_full_pages_the_live_side_writes_too():
    k = scan.build(8, distinct=3)
    p = k.process("bench")
    base = k.world.mms[0].vmas[0].start
    assert [p.read(base + i * PAGE_SIZE) for i in range(8)] == [bench_page(i % 3)
                                                                for i in range(8)]
    assert len(bench_page(7)) == PAGE_SIZE and bench_page(7) != bench_page(8)
    assert k.sysfs.read("pages_to_scan") == 100  # never below the default


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown pass kind 'nonsense'"):
        scan.measure("nonsense", 16)


def test_one_prints_json(capsys):
    assert bench.main(["--one", "unique", "--pages", "256"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert (r["kind"], r["pages"]) == ("unique", 256)
    assert r["counters"]["pages_unshared"] == 256
    assert r["pages_per_s"] > 0 and r["cpu_pages_per_s"] > 0 and r["peak_kib"] > 0


def _recording(tmp_path, rate, pages=128):
    counters = {"checksum": {**EXPECTED["checksum"], "pages_volatile": pages},
                "unique": {**EXPECTED["unique"], "pages_unshared": pages}}
    rec = {"format": "ksmlab-bench-recording/1", "pages": pages, "repeats": 1,
           "recorded": {"date": "2026-01-01T00:00:00Z", "machine": "m", "kernel": "k"},
           "ksmd": {kind: {"pages_per_cpu_s": rate, "pages_per_s": rate,
                           "counters": counters.get(kind, {})} for kind in scan.PASSES}}
    path = tmp_path / "rec.json"
    path.write_text(json.dumps(rec))
    return str(path)


def test_targets_and_exit_codes(tmp_path, capsys):
    """A report exits 0 on a missed target; --check makes it 1."""
    fast = _recording(tmp_path, 10.0**12)
    assert bench.main(["--only", "scan", "--pages", "128", "--recording", fast]) == 0
    out = capsys.readouterr().out
    assert out.count("MISSED") == 4 and "recorded 2026-01-01T00:00:00Z on m (k)" in out
    assert bench.main(["--only", "scan", "--pages", "128", "--recording", fast,
                       "--check"]) == 1
    capsys.readouterr()
    slow = _recording(tmp_path, 1.0)
    assert bench.main(["--only", "scan", "--pages", "128", "--recording", slow,
                       "--check"]) == 0
    out = capsys.readouterr().out
    assert "MISSED" not in out and "0 target(s) missed" in out
    # the recorded counters of the checksum and unique passes are the model's at 128 pages
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert lines["checksum"].endswith("same") and lines["unique"].endswith("same")
    assert lines["merging"].endswith("DIFFER")


@pytest.mark.parametrize("argv, message", [
    (["--record", "x.json"], "--record needs --live"),
    (["--live", "--record", "/nonexistent-dir/r.json"], "--record: no folder"),
    (["--live", "--recording", "r.json"], "--recording is for runs without --live"),
    (["--pages", "0"], "--pages must be at least 1"),
    (["--only", "scan", "--recording", "/nonexistent.json"], "--recording: "),
])
def test_bad_command_lines(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_a_file_that_is_not_a_recording(tmp_path, capsys):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(SystemExit):
        bench.main(["--only", "scan", "--recording", str(path)])
    assert "is not a ksmlab-bench-recording/1 file" in capsys.readouterr().err


def test_the_shipped_recording():
    rec = bench.load_recording()
    pages, k = rec["pages"], rec["ksmd"]
    assert set(k) == set(scan.PASSES)
    assert rec["recorded"]["kernel"] and rec["recorded"]["date"] and rec["recorded"]["command"]
    merged = {"pages_shared": scan.DISTINCT, "pages_sharing": pages - scan.DISTINCT,
              "pages_unshared": 0, "pages_volatile": 0}
    assert k["merging"]["counters"] == k["steady"]["counters"] == merged
    assert k["unique"]["counters"]["pages_unshared"] == pages
    assert k["checksum"]["counters"]["pages_volatile"] == pages


def test_a_notebook_executed_cold_on_one_cpu(tmp_path):
    import nbformat

    from ksmlab.bench import notebooks

    path = tmp_path / "tiny.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = bytearray(50 << 20)")])
    nbformat.write(nb, path)
    assert notebooks.notebook_paths(str(tmp_path)) == [str(path)]
    r = notebooks.run(str(path))
    assert r["notebook"] == str(path) and r["seconds"] > 0
    assert r["peak_kib"] > 50 << 10  # the kernel's 50 MiB, seen through RUSAGE_CHILDREN


def test_the_notebook_section_skips_without_notebooks(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert bench.main(["--only", "notebooks", "--check"]) == 0
    assert "notebooks: skipped" in capsys.readouterr().out


def test_the_clicks_section_clicks_each_textbook_schedule_once_a_step(capsys):
    """One (wall, CPU) pair a click, for each step of each bug's shortest schedule
    (U*3 F*2 U*10, and so on), and a row each in the report."""
    from ksmlab.bench import clicks

    out = clicks.widget_clicks()
    assert {name: len(t) for name, t in out.items()} == {
        "fork_behind_unmerge_cursor": 15,
        "swapin_after_unmerge_walk": 13,
        "migration_during_break_ksm": 16,
        "stale_stable_node_switch": 22,
    }
    for times in out.values():
        assert all(wall > 0 and cpu >= 0 for wall, cpu in times)
    assert clicks.report(None) in (0, 1, 2, 3, 4)
    rows = capsys.readouterr().out.splitlines()
    header = ["scenario", "clicks", "median", "p95", "max", "cpu", "med", "cpu", "p95"]
    assert rows[1].split() == header
    assert [r.split()[:2] for r in rows[2:]] == [[n, str(len(t))] for n, t in out.items()]
