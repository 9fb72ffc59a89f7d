"""Peak resident memory of the calling process, for benchmarks that run each step in a child."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_memory_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` where Linux gives it: ``ru_maxrss`` keeps
    the parent's peak across fork and exec, so a child would report at least its parent's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
