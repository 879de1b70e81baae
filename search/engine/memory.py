"""Resident memory of this process, recorded after every trial to show it stays flat."""

from __future__ import annotations

import resource
import sys


def resident_mb() -> float:
    """Current resident set size in MB (peak size where /proc is not available)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
