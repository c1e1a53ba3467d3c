"""ksmlab: an executable model of Linux KSM (Kernel Samepage Merging) as in Linux 3.9,
with the four early-2013 fixes as switches.

>>> from ksmlab import Kernel, PAGE_SIZE, MADV_MERGEABLE
>>> k = Kernel(nodes=1)
>>> a = k.spawn("a")
>>> base = a.mmap(4)
>>> for i in range(4):
...     a.write(base + i * PAGE_SIZE, b"same")
>>> a.madvise(base, 4, MADV_MERGEABLE)
>>> k.sysfs.write("run", 1)       # what write(2) returns: the bytes taken
1
>>> k.ksmd.passes(2)
8
>>> k.sysfs.read("pages_shared"), k.sysfs.read("pages_sharing")
(1, 3)
"""

from . import scenarios
from .check.explore import explore, replay
from .errors import KernelError, KernelOops
from .fixes import FIX_COMMITS, Fixes
from .kernel import Kernel, Process
from .mm.madvise import MADV_MERGEABLE, MADV_UNMERGEABLE
from .mm.page import PAGE_SIZE, PageKsm, page_stable_node
from .sched.schedule import Schedule
from .sched.scheduler import ScheduleError, Scheduler

__all__ = [
    "Kernel",
    "Process",
    "Fixes",
    "FIX_COMMITS",
    "KernelError",
    "KernelOops",
    "PAGE_SIZE",
    "MADV_MERGEABLE",
    "MADV_UNMERGEABLE",
    "PageKsm",
    "page_stable_node",
    "scenarios",
    "explore",
    "replay",
    "Schedule",
    "Scheduler",
    "ScheduleError",
]
__version__ = "0.1.0"
