"""glibc malloc pinned for the CPU benchmarks: freed blocks stay in the heap.

By default glibc hands large freed buffers back to the kernel and page-faults them in again on the
next step, and how often it does depends on its adaptive thresholds, i.e. on what the process
allocated before. That moved the DCGAN step benchmark's reference by 20 % between runs (see
benchmarks/RESULTS.md). Pinned, every variant runs without that churn. glibc reads these
variables at start-up only, so a script re-runs itself with them set.
"""

from __future__ import annotations

import os
import sys

PINNED_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": str(256 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
    "MALLOC_TOP_PAD_": str(256 << 20),
}


def malloc_pinned() -> bool:
    """True when this process started with PINNED_MALLOC set."""
    return all(os.environ.get(k) == v for k, v in PINNED_MALLOC.items())


def allocator_name() -> str:
    return "glibc malloc pinned (PINNED_MALLOC)" if malloc_pinned() else "the system defaults"


def rerun_with_pinned_malloc() -> None:
    """Replace this process by the same command with PINNED_MALLOC set (on Linux, unless --system-malloc)."""
    if sys.platform.startswith("linux") and "--system-malloc" not in sys.argv and not malloc_pinned():
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **PINNED_MALLOC})
