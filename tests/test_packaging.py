"""Consistency checks of the packaging and tooling files (pins, Binder, Makefile, CI)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][0-9A-Za-z.+!-]*$")


def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def pyproject_pins() -> list[str]:
    extras = pyproject()["project"]["optional-dependencies"]
    return extras["lab"] + extras["test"]


def conda_pip_pins(path: Path) -> list[str]:
    """Items of the ``- pip:`` list under ``dependencies:`` of a conda environment file."""
    pins: list[str] = []
    pip_indent = None
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if pip_indent is None:
            if item in ("- pip:", "- pip :"):
                pip_indent = indent
            continue
        if indent <= pip_indent:
            break  # the pip list has ended
        assert item.startswith("- "), f"{path.name}: unexpected line in the pip list: {raw!r}"
        pins.append(item[2:].strip().strip("'\""))
    assert pip_indent is not None, f"{path.name} has no '- pip:' section"
    return pins


def normalize(pin: str) -> str:
    name, _, version = pin.partition("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def dry_run(target: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """``make -n TARGET`` against a virtualenv path that does not exist: nothing is executed."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return subprocess.run(
        ["make", "-n", "--no-print-directory", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


# (a) and (b): one set of exact pins everywhere


def test_model_has_no_runtime_dependencies():
    assert pyproject()["project"]["dependencies"] == []


def test_all_pins_are_exact():
    pins = {
        "pyproject.toml": pyproject_pins(),
        "environment.yml": conda_pip_pins(ROOT / "environment.yml"),
        "binder/environment.yml": conda_pip_pins(ROOT / "binder" / "environment.yml"),
    }
    for where, items in pins.items():
        assert items, f"{where}: no pins found"
        loose = [p for p in items if not PIN.match(p)]
        assert not loose, f"{where}: not pinned with '==': {loose}"


def test_pins_are_identical_everywhere():
    reference = pyproject_pins()
    ref_set = {normalize(p) for p in reference}
    assert len(ref_set) == len(reference), "duplicate pins in pyproject.toml"
    for rel in ("environment.yml", "binder/environment.yml"):
        pins = conda_pip_pins(ROOT / rel)
        assert len(set(pins)) == len(pins), f"duplicate pins in {rel}"
        got = {normalize(p) for p in pins}
        assert got == ref_set, (
            f"{rel} differs from pyproject.toml: "
            f"missing {sorted(ref_set - got)}, extra {sorted(got - ref_set)}"
        )


def test_binder_environment_is_a_copy_of_environment_yml():
    assert (ROOT / "binder" / "environment.yml").read_text() == (
        ROOT / "environment.yml"
    ).read_text()


def test_conda_environment_basics():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^name:\s*ksmlab\s*$", text, re.M)
    assert re.search(r"^\s*-\s*conda-forge\s*$", text, re.M)
    assert re.search(r"^\s*-\s*python=3\.11\s*$", text, re.M)
    assert re.search(r"^\s*-\s*pip\s*$", text, re.M)


# (c) Binder installs the package itself


def is_executable(path: Path) -> bool:
    return path.is_file() and bool(path.stat().st_mode & stat.S_IXUSR) and os.access(path, os.X_OK)


def git_mode(rel: str) -> str | None:
    """Mode recorded in the git index (None if git or the file's entry is unavailable)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    out = subprocess.run(
        ["git", "ls-files", "--stage", "--", rel], cwd=ROOT, capture_output=True, text=True
    ).stdout
    return out.split()[0] if out.strip() else None


@pytest.mark.parametrize("rel", ["binder/postBuild", ".ci/run"])
def test_scripts_are_executable(rel):
    path = ROOT / rel
    assert is_executable(path), f"{rel} is not executable"
    assert path.read_text().startswith("#!/bin/bash\n"), f"{rel} must start with #!/bin/bash"
    assert "set -euo pipefail" in path.read_text()
    mode = git_mode(rel)
    assert mode in (None, "100755"), f"{rel} is tracked by git with mode {mode}, not 100755"


def test_binder_postbuild_installs_the_package():
    commands = [
        line.strip()
        for line in (ROOT / "binder" / "postBuild").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    installs = [c for c in commands if re.match(r"^(python3? -m )?pip install\b", c)]
    assert installs, "binder/postBuild does not run pip install"
    assert any(c.split()[-1] == "." and "--no-deps" in c.split() for c in installs), installs


# (d) Makefile targets


@pytest.mark.parametrize(
    "target", ["lab", "notebook", "book", "test", "bench", "notebooks", "clean", "help"]
)
def test_makefile_target_exists_and_is_phony(target, tmp_path):
    result = dry_run(target, tmp_path)
    assert result.returncode == 0, result.stderr
    phony = re.findall(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert target in " ".join(phony).split(), f"{target} is not declared .PHONY"


def test_makefile_rejects_unknown_targets(tmp_path):
    assert dry_run("no-such-target", tmp_path).returncode != 0


def test_make_test_runs_ruff_book_pytest_and_nbval_in_order(tmp_path):
    result = dry_run("test", tmp_path)
    assert result.returncode == 0, result.stderr
    venv_bin = str(tmp_path / "venv" / "bin")
    lines = [line.strip() for line in result.stdout.splitlines()]

    def position(pattern: str) -> int:
        regex = re.compile(pattern)
        hits = [i for i, line in enumerate(lines) if regex.search(line)]
        assert hits, f"make test does not run {pattern!r}:\n{result.stdout}"
        return hits[0]

    v = re.escape(venv_bin)
    install = position(rf"^{v}/python -m pip install .*-e '?\.\[lab,test\]'?")
    ruff = position(rf"^{v}/ruff check \.$")
    book = position(rf"^{v}/python docs/book/build\.py$")  # the browser tests open the book
    unit = position(rf"^{v}/pytest$")
    nbval = position(rf"^(\S+=\S+ )*{v}/pytest --nbval notebooks/?$")
    assert install < ruff < book < unit < nbval


def test_make_test_skips_install_when_up_to_date(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    stamp_line = re.search(
        r"^STAMP\s*:?=\s*\$\(VENV\)/(\S+)", (ROOT / "Makefile").read_text(), re.M
    )
    assert stamp_line, "Makefile defines no STAMP := $(VENV)/... file"
    stamp = venv / stamp_line.group(1)
    stamp.touch()
    newer = (ROOT / "pyproject.toml").stat().st_mtime + 10
    os.utime(stamp, (newer, newer))
    result = dry_run("test", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pip install" not in result.stdout
    assert "-m venv" not in result.stdout


# (e) CI


def test_ci_runs_make_test():
    text = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert "make test" in commands
    assert "export KSMLAB_REQUIRE_LIVE=1" in commands
