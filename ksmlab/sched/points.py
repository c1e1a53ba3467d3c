"""What a kernel path yields: a named preemption point, or a block on a resource.

Simplification: a path can be preempted only where it yields; what lies between two
points runs as one atomic step. The points sit where the kernel may sleep, reschedule or
let go of a lock; finer interleavings (another CPU between two instructions of a
spinlocked section, say) are not explored.
"""

__all__ = ["Point", "Blocked"]


class Point:
    """A place where the kernel path may be preempted; ``label`` names the kernel site."""

    __slots__ = ("label", "reason")

    def __init__(self, label: str, reason: str):
        self.label = label
        self.reason = reason

    def __repr__(self) -> str:
        return f"Point({self.label!r})"


class Blocked:
    """The path cannot go on until ``resource`` is free (a lock, or a page under migration)."""

    __slots__ = ("label", "resource", "reason")

    def __init__(self, label: str, resource, reason: str):
        self.label = label
        self.resource = resource
        self.reason = reason

    def ready(self) -> bool:
        return self.resource.available()

    def __repr__(self) -> str:
        return f"Blocked({self.label!r} on {self.resource!r})"
