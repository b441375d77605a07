"""Who else uses the CPU: the cores other processes keep busy around a phase, the time our
threads waited for a core, the time a hypervisor steals, the load average - and, before a
run, how many threads fit beside the others.

Read from /proc/stat (the affinity set's per-core lines, in clock ticks), os.times() (this
process's own CPU time, all threads: the cores' busy time minus ours is the others') and
/proc/self/task/*/schedstat (each thread's ns on a core and ns runnable but waiting: the
scheduler's own account of contention). Demand, which busy time cannot show once the cores
are saturated, is read at the start and the end of the phase: /proc/stat's procs_running less
our own running threads (no sampling thread: on two cores one would itself be the contention
it measures, stalling torch's thread barriers). Where a file does not exist the reading is None.
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
TASKS = Path("/proc/self/task")
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
    ran_ns: int | None = None      # this process's threads: on a core...
    waited_ns: int | None = None   # ...and runnable, waiting for one

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
        ran, waited = schedstat()
        return cls(busy * TICK_S, total * TICK_S, steal * TICK_S, t.user + t.system, time.monotonic(), ran, waited)


def others_runnable(stat: Path = PROC_STAT, task_dir: Path = TASKS) -> int | None:
    """Tasks of other processes running or ready to run now: the machine's procs_running
    less this process's threads in state R (counted before and after, the larger: a thread
    of ours that stops spinning in between is not someone else's)."""
    own_before = _own_running(task_dir)
    try:
        running = next(int(line.split()[1]) for line in stat.read_text().splitlines()
                       if line.startswith("procs_running"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return max(0, running - max(own_before, _own_running(task_dir)))


def _own_running(task_dir: Path) -> int:
    own = 0
    for task in task_dir.iterdir() if task_dir.exists() else ():
        try:
            own += (task / "stat").read_text().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):
            continue
    return own


def schedstat(task_dir: Path = TASKS) -> tuple[int | None, int | None]:
    """ns on a core and ns waiting for one, summed over this process's threads."""
    ran = waited = 0
    try:
        for task in task_dir.iterdir():
            try:
                r, w, _ = (task / "schedstat").read_text().split()
            except (OSError, ValueError):
                continue
            ran, waited = ran + int(r), waited + int(w)
    except OSError:
        return None, None
    return (ran, waited) if ran else (None, None)


def wait_share(before: CpuTimes, after: CpuTimes) -> float | None:
    """Share of our threads' runnable time spent waiting for a core."""
    if before.ran_ns is None or after.ran_ns is None or before.waited_ns is None or after.waited_ns is None:
        return None
    ran, waited = after.ran_ns - before.ran_ns, after.waited_ns - before.waited_ns
    return waited / (ran + waited) if ran + waited > 0 else None


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
    wait_share: float | None = None
    own_busy_cores: float | None = None
    others_runnable: float | None = None
    cores: int | None = None


class LoadTracker(Tracker):
    """Other processes' use of the worker's cores while the timed calls run."""

    name = "proc_stat"

    def __init__(self, stat: Path = PROC_STAT, task_dir: Path = TASKS):
        self.stat, self.task_dir = stat, task_dir

    @contextlib.contextmanager
    def track(self) -> Iterator[LoadReading]:
        cores = affinity()
        reading = LoadReading(cores=len(cores))
        demand = [others_runnable(self.stat, self.task_dir)]
        before = CpuTimes.read(cores, self.stat)
        try:
            yield reading
        finally:
            after = CpuTimes.read(cores, self.stat)
            demand = [n for n in (*demand, others_runnable(self.stat, self.task_dir)) if n is not None]
            reading.others_runnable = sum(demand) / len(demand) if demand else None
            reading.load_avg = load_avg()
            if before is not None and after is not None:
                reading.others_busy_cores = others_busy_cores(before, after)
                reading.steal_share = steal_share(before, after)
                reading.wait_share = wait_share(before, after)
                reading.own_busy_cores = (after.own_s - before.own_s) / max(after.at - before.at, 1e-9)


def choose_threads(window_s: float = 0.5, stat: Path = PROC_STAT, sleep=time.sleep) -> tuple[int, str]:
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
