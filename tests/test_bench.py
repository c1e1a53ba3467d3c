"""ksmlab.bench on a small world: the passes it times leave exactly the expected counters.

Timings are not checked, only what each measured pass did.
"""

from __future__ import annotations

import json

import pytest

from ksmlab import bench

PAGES = 2_048


def _check_samples(samples, expected):
    assert len(samples) == bench.REPEATS
    for s in samples:
        assert s["scanned"] == PAGES
        assert s["seconds"] > 0
        assert s["counters"] == expected


def test_merging_pass_merges_everything():
    expected = {
        "pages_shared": bench.DISTINCT,
        "pages_sharing": PAGES - bench.DISTINCT,
        "pages_unshared": 0,
        "pages_volatile": 0,
    }
    _check_samples(bench.measure("merging", PAGES), expected)


def test_unique_pass_leaves_every_page_unshared():
    expected = {"pages_shared": 0, "pages_sharing": 0, "pages_unshared": PAGES, "pages_volatile": 0}
    _check_samples(bench.measure("unique", PAGES), expected)


def test_steady_passes_change_nothing():
    expected = {
        "pages_shared": bench.DISTINCT,
        "pages_sharing": PAGES - bench.DISTINCT,
        "pages_unshared": 0,
        "pages_volatile": 0,
    }
    _check_samples(bench.measure("steady", PAGES), expected)


def test_before_the_measured_pass():
    k = bench.build(PAGES, unique=False)
    assert k.ksmd.full_scan() == PAGES  # pass 1 only records checksums
    assert k.sysfs.read("pages_volatile") == PAGES
    assert k.sysfs.read("pages_shared") == 0


def test_one_prints_json(capsys):
    assert bench.main(["--one", "unique", "--pages", "256"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["workload"] == "unique"
    assert r["pages"] == 256
    assert r["counters"]["pages_unshared"] == 256
    assert r["pages_per_s"] > 0
    assert r["peak_kib"] > 0


def test_unknown_workload():
    with pytest.raises(ValueError, match="unknown workload"):
        bench.measure("nonsense", 16)


def test_check_exit_code(monkeypatch, capsys):
    """The report exits 0 on a missed target; --check makes it 1 (each workload still runs
    in its own subprocess, on a tiny world)."""
    monkeypatch.setitem(bench.REAL, "unique", 10**12)
    assert bench.main(["--pages", "128"]) == 0
    assert "NO" in capsys.readouterr().out
    assert bench.main(["--pages", "128", "--check"]) == 1
    monkeypatch.setattr(bench, "REAL", dict.fromkeys(bench.WORKLOADS, 1))
    assert bench.main(["--pages", "128", "--check"]) == 0
