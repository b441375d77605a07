"""Who else uses the CPU: the cores other processes keep busy around a phase, the time a
hypervisor steals, the load average - and, before a run, how many threads fit beside them.

Read from /proc/stat (the affinity set's per-core lines, in clock ticks) and os.times()
(this process's own CPU time, all threads): the cores' busy time minus our own is the
others'. Where /proc/stat does not exist (not Linux) the readings are None.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from charsuite.trackers.base import Tracker

PROC_STAT = Path("/proc/stat")
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
IDLE, IOWAIT, STEAL = 3, 4, 7  # columns of a cpuN line after its name


def affinity() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class CpuTimes:
    """Seconds the given cores spent busy, in all, and stolen; and this process's own CPU seconds."""

    busy_s: float
    total_s: float
    steal_s: float
    own_s: float
    at: float

    @classmethod
    def read(cls, cores: list[int], stat: Path = PROC_STAT) -> CpuTimes | None:
        try:
            lines = stat.read_text().splitlines()
        except OSError:
            return None
        wanted = {f"cpu{c}" for c in cores}
        busy = total = steal = 0
        for line in lines:
            name, *cols = line.split()
            if name in wanted:
                ticks = [int(v) for v in cols[:8]]
                steal += ticks[STEAL]
                total += sum(ticks)
                busy += sum(ticks) - ticks[IDLE] - ticks[IOWAIT] - ticks[STEAL]
        if total == 0:
            return None
        t = os.times()
        return cls(busy * TICK_S, total * TICK_S, steal * TICK_S, t.user + t.system, time.monotonic())


def others_busy_cores(before: CpuTimes, after: CpuTimes) -> float:
    """Cores' worth of busy time between the readings that was not this process's."""
    wall = after.at - before.at
    if wall <= 0:
        return 0.0
    others = (after.busy_s - before.busy_s) - (after.own_s - before.own_s)
    return max(0.0, others / wall)


def steal_share(before: CpuTimes, after: CpuTimes) -> float:
    total = after.total_s - before.total_s
    return (after.steal_s - before.steal_s) / total if total > 0 else 0.0


def load_avg() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


@dataclass
class LoadReading:
    load_avg: float | None = None
    others_busy_cores: float | None = None
    steal_share: float | None = None
    cores: int | None = None


class LoadTracker(Tracker):
    """Other processes' use of the worker's cores while the timed calls run."""

    name = "proc_stat"

    def __init__(self, stat: Path = PROC_STAT):
        self.stat = stat

    @contextlib.contextmanager
    def track(self) -> Iterator[LoadReading]:
        cores = affinity()
        reading = LoadReading(cores=len(cores))
        before = CpuTimes.read(cores, self.stat)
        try:
            yield reading
        finally:
            after = CpuTimes.read(cores, self.stat)
            reading.load_avg = load_avg()
            if before is not None and after is not None:
                reading.others_busy_cores = others_busy_cores(before, after)
                reading.steal_share = steal_share(before, after)


def choose_threads(window_s: float = 1.0, stat: Path = PROC_STAT, sleep=time.sleep) -> tuple[int, str]:
    """Threads for a measurement that does not fight the machine: the worker's cores less
    those other processes kept busy over `window_s` (rounded to the nearest core, at least
    one), and why, in words for run.json."""
    cores = affinity()
    before = CpuTimes.read(cores, stat)
    if before is None:
        return len(cores), f"every core the process may use ({len(cores)}); no /proc/stat to see other work"
    sleep(window_s)
    after = CpuTimes.read(cores, stat)
    busy = others_busy_cores(before, after)
    threads = max(1, min(len(cores), math.floor(len(cores) - busy + 0.5)))
    return threads, (f"{threads} of {len(cores)} cores: other processes kept {busy:.1f} busy over {window_s:g} s "
                     f"before the run (device.threads overrides)")
