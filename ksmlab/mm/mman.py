"""The madvise() advice values KSM uses (include/uapi/asm-generic/mman-common.h)."""

__all__ = ["MADV_MERGEABLE", "MADV_UNMERGEABLE"]

MADV_MERGEABLE = 12
MADV_UNMERGEABLE = 13
