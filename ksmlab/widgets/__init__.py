"""Thin ipywidgets glue over the model and ``ksmlab.viz``: the scheduler stepper
("be the scheduler"), the explorer panel and the sysfs panel.

Loaded on first use, so ``import ksmlab.widgets`` stays light; every callback catches
its errors and shows them as text in the widget.
"""

import importlib

__all__ = ["Stepper", "ExplorerPanel", "SysfsPanel", "StepSession", "demo_kernel"]

_WHERE = {
    "Stepper": "stepper",
    "ExplorerPanel": "explorer",
    "SysfsPanel": "sysfs",
    "demo_kernel": "sysfs",
    "StepSession": "session",
}


def __getattr__(name):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'ksmlab.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
