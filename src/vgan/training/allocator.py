"""The CPU memory allocator: keep freed memory in the process for the next step.

PyTorch's CPU tensors come from the C library's malloc. glibc hands blocks above its mmap
threshold (at most 32 MiB by default) to the kernel on every free, and trims the top of the
heap, so each training step faults in its large activations page by page again: about 18,000
page faults per iteration of the paper's VCD networks, against a few hundred with this setting
(benchmarks/train_step.py, docs/engineering/performance.md). `keep_freed_memory()` raises both
thresholds, the same thing as running under MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_;
the process then keeps its peak heap (its resident memory stays at that peak) and reuses it.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h
KEEP_BYTES = 1 << 30  # blocks up to 1 GiB come from the heap; up to 1 GiB of free heap is kept


def keep_freed_memory(limit: int = KEEP_BYTES) -> bool:
    """Make glibc malloc serve blocks up to `limit` bytes from the heap and keep up to `limit`
    bytes of freed heap. Process-wide and lasting; returns False (and changes nothing) where
    the C library is not glibc."""
    try:
        glibc = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError):  # no confstr (Windows), or not a GNU C library
        glibc = False
    if not glibc:
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_TRIM_THRESHOLD, limit)) and bool(libc.mallopt(M_MMAP_THRESHOLD, limit))
