"""Errors the model raises: the kernel's errno for syscalls and sysfs, an oops for kernel bugs."""

import errno as _errno
import os

__all__ = ["KernelError", "KernelOops"]


class KernelError(OSError):
    """A syscall or sysfs write failed with the kernel's errno (``err.errno``)."""

    def __init__(self, errno: int, message: str):
        super().__init__(errno, f"{_errno.errorcode.get(errno, errno)}: {message}")
        self.reason = message

    def __str__(self) -> str:
        return f"[Errno {self.errno}] {os.strerror(self.errno)}: {self.reason}"


class KernelOops(Exception):
    """The model hit what would be a BUG()/oops in the kernel, or an invariant broke.
    ``culprits``: the model objects it is about (see ksmlab.check.violation)."""

    def __init__(self, message: str, culprits=()):
        super().__init__(message)
        self.culprits = tuple(culprits)
