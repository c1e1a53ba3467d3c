"""mm/ksm.c: one module per concept (structures, trees, merging, scanning, unmerging, sysfs)."""
