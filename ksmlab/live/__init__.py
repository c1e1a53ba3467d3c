"""The live-kernel lab: one workload on the model and on this machine's real KSM.

>>> from ksmlab.live import compare
>>> c = compare("duplicates", recording=None)        # the model alone: no kernel asked for
>>> c.model[-2].counters["pages_shared"], c.model[-2].counters["pages_sharing"]
(3, 5)

``compare(name, allow_sysfs_writes=True)`` runs the kernel side live (root, and a
``/sys/kernel/mm/ksm`` to write, are needed; every knob is restored afterwards); without
it the kernel side is the recording shipped with ksmlab, labelled as recorded. The result
renders as a text table (``print(c)``), as HTML in a notebook, and plots with
``c.plot()``. ``python -m ksmlab live-compare --help`` is the command line.
"""

from .compare import Comparison, Difference, compare, load_recording, write_recording
from .driver import run_kernel
from .guard import (
    LiveBusy,
    LiveError,
    LiveFailure,
    LiveInterrupted,
    LiveOptInRequired,
    LiveRestoreError,
    LiveUnavailable,
    availability,
)
from .model import run_model
from .observe import COUNTERS, STATS, Observation
from .workload import KnownDifference, Workload, WorkloadError, validate
from .workloads import DIFFERENCES, WORKLOADS, all_workloads, get

__all__ = [
    "compare",
    "Comparison",
    "Difference",
    "load_recording",
    "write_recording",
    "run_kernel",
    "run_model",
    "availability",
    "LiveError",
    "LiveUnavailable",
    "LiveOptInRequired",
    "LiveBusy",
    "LiveFailure",
    "LiveRestoreError",
    "LiveInterrupted",
    "Observation",
    "COUNTERS",
    "STATS",
    "Workload",
    "WorkloadError",
    "KnownDifference",
    "validate",
    "WORKLOADS",
    "DIFFERENCES",
    "all_workloads",
    "get",
]
