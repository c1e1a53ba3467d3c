"""Invariants shared by Kernel.check(), the tests and the explorer."""

from .invariants import INVARIANTS, first_violation, violations

__all__ = ["INVARIANTS", "first_violation", "violations"]
