"""What a learner waits for on Binder's one core: each notebook executed cold (a fresh
kernel, nothing cached) pinned to one CPU (``taskset -c 0``), with its wall time and the
kernel's peak memory. Targets: under 30 s and under 1 GiB each.

Each notebook runs in its own pinned subprocess (``python -m ksmlab.bench.notebooks
PATH``), which executes it in memory with nbclient (nothing is written back) and reports
the kernel process's peak RSS (``RUSAGE_CHILDREN`` once the kernel has exited)."""

import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import time

__all__ = ["TARGET_S", "TARGET_MIB", "notebook_paths", "run", "report"]

TARGET_S = 30.0
TARGET_MIB = 1024


def notebook_paths(root="notebooks") -> list:
    return sorted(glob.glob(os.path.join(root, "*.ipynb")))


def _execute(path) -> dict:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("MPLBACKEND", None)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": os.path.dirname(path) or "."}})
    t0 = time.perf_counter()
    client.execute(env=env)
    seconds = time.perf_counter() - t0
    return {"notebook": path, "seconds": seconds,
            "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}


def run(path) -> dict:
    """Execute one notebook cold in a subprocess pinned to CPU 0."""
    cmd = [sys.executable, "-m", "ksmlab.bench.notebooks", path]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def report(out) -> int:
    """Print the notebook table; returns the number of notebooks over a target."""
    paths = notebook_paths()
    try:
        import nbclient  # noqa: F401
    except ImportError:
        paths = []
    if not paths:
        print("notebooks: skipped (run from the repository root, with the test extras)",
              file=out)
        return 0
    pinned = "taskset -c 0" if shutil.which("taskset") else "not pinned: no taskset"
    print(f"each notebook executed cold ({pinned}); targets < {TARGET_S:.0f} s and "
          f"< {TARGET_MIB} MiB", file=out)
    print("{:<44} {:>8} {:>9} {:>6}".format("notebook", "wall s", "peak MiB", ""), file=out)
    missed = 0
    for path in paths:
        r = run(path)
        mib = r["peak_kib"] / 1024
        ok = r["seconds"] < TARGET_S and mib < TARGET_MIB
        missed += not ok
        print(f"{os.path.basename(path):<44} {r['seconds']:>8.1f} {mib:>9.0f} "
              f"{'ok' if ok else 'MISSED':>6}", file=out)
    return missed


if __name__ == "__main__":
    print(json.dumps(_execute(sys.argv[1])))
