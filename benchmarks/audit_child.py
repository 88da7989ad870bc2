"""Run `led.audit()` on the database at argv[1] in this process; print one JSON line.

A process of its own, so its peak RSS (VmHWM) is the audit's alone and can be compared across
log sizes: with memory independent of log length, it stays flat from 100k to 1M events.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from ledger import Ledger

__all__ = ["main", "rss_mb"]


def rss_mb(field: str) -> float:
    """VmRSS or VmHWM (peak) of this process, in MiB; ru_maxrss where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    (url,) = argv
    with Ledger.open(url, migrate=False, pool_size=1) as led:
        before = rss_mb("VmRSS")
        started = time.perf_counter()
        report = led.audit()
        seconds = time.perf_counter() - started
        peak = rss_mb("VmHWM")
    print(
        json.dumps(
            {
                "events": report.events_replayed,
                "seconds": seconds,
                "discrepancies": len(report.discrepancies),
                "peak_rss_mb": peak,
                "rss_before_mb": before,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
