"""The memory model KSM lives in: frames, mms, VMAs, PTEs, faults, swap, migration."""
