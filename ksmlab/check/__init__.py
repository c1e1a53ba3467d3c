"""Invariants shared by Kernel.check(), the tests and the explorer, and the Violation
value they (and the scenarios' properties) return."""

from .invariants import INVARIANTS, first_violation, violations
from .violation import Violation

__all__ = ["INVARIANTS", "Violation", "first_violation", "violations"]
