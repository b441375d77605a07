"""When a point's numbers can be trusted: the spread of its samples, the interval of their
median, when to stop sampling, and the verdict `noisy` with its reason.

The median's interval is distribution-free (order statistics of a Binomial(n, 1/2)): with
six samples or more it is a true 95% interval; with fewer it is the samples' range, whose
coverage (1 - 2/2^n: 75% for three) is recorded beside it. Sampling stops when that
interval is within `target_rel_ci` of the median (never before 95% coverage), at
`max_repeats`, or once the timed calls have used `repeat_time_s` (the first `repeats`
always run) - MLPerf's and nvbench's rules in small.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from charsuite.records import Noise

CONFIDENCE = 0.95
# Contention: other processes' runnable tasks and our threads wanted this many more cores
# than there are (at the start and end of the timed calls), and the others did run...
OVERSUBSCRIBED_CORES, OTHERS_RAN_CORES = 0.5, 0.25
# ...or our threads waited for a core this share of their runnable time (the scheduler's account)...
MAX_WAIT_SHARE = 0.10
# ...or the hypervisor took this share of our cores' time.
MAX_STEAL_SHARE = 0.05


@dataclass(frozen=True)
class Spread:
    """What the samples of one point say about themselves."""

    n: int
    median: float
    cv: float                 # sample standard deviation / mean (0 for one sample)
    low: float                # the median's interval
    high: float
    coverage: float           # the interval's confidence (0.95 and over from six samples)

    @property
    def rel_ci(self) -> float:
        """The interval's larger half-width as a share of the median."""
        if self.median <= 0:
            return math.inf
        return max(self.median - self.low, self.high - self.median) / self.median


def _binomial_tail(n: int, k: int) -> float:
    """P(Binomial(n, 1/2) < k)."""
    return sum(math.comb(n, i) for i in range(k)) / 2**n


def spread(samples: list[float]) -> Spread:
    xs = sorted(samples)
    n = len(xs)
    if n == 0:
        raise ValueError("no samples")
    mean = statistics.fmean(xs)
    cv = statistics.stdev(xs) / mean if n > 1 and mean > 0 else 0.0
    k = 1  # the interval is [x(k), x(n-k+1)]: the widest k whose two tails stay within 1 - CONFIDENCE
    while k + 1 <= n // 2 and 2 * _binomial_tail(n, k + 1) <= 1 - CONFIDENCE:
        k += 1
    coverage = 1 - 2 * _binomial_tail(n, k) if n > 1 else 0.0
    return Spread(n=n, median=statistics.median(xs), cv=cv, low=xs[k - 1], high=xs[n - k], coverage=coverage)


@dataclass(frozen=True)
class StopRule:
    """When a point has been sampled enough."""

    min_repeats: int
    max_repeats: int
    target_rel_ci: float
    time_s: float | None = None

    def done(self, samples: list[float], elapsed_s: float) -> bool:
        n = len(samples)
        if n < self.min_repeats:
            return False
        if n >= self.max_repeats or (self.time_s is not None and elapsed_s >= self.time_s):
            return True
        s = spread(samples)
        return s.coverage >= CONFIDENCE and s.rel_ci <= self.target_rel_ci


@dataclass(frozen=True)
class Load:
    """The machine's state while a point ran (CPU: /proc/stat around the timed calls)."""

    load_avg: float | None = None           # 1-minute load average at the end
    others_busy_cores: float | None = None  # cores' worth of time other processes used meanwhile
    steal_share: float | None = None        # share of our cores' time a hypervisor took
    wait_share: float | None = None         # share of our threads' runnable time spent waiting for a core
    others_runnable: float | None = None    # other processes' tasks running or ready to, on average
    cores: int | None = None                # cores the worker may run on
    threads: int | None = None              # threads it computes with
    throttled: bool | None = None           # a GPU's clocks held down (power, thermal)


def verdict(s: Spread, load: Load, target_rel_ci: float) -> str | None:
    """Why a point is noisy, or None: its median's interval stayed wider than the target,
    or it ran under contention (other processes wanting our cores, steal, throttling)."""
    reasons = []
    if s.n > 1 and s.rel_ci > target_rel_ci:
        reasons.append(f"median +-{s.rel_ci:.0%} ({s.coverage:.0%} interval, {s.n} samples, cv {s.cv:.0%}) "
                       f"> target +-{target_rel_ci:.0%}")
    others = (f"other processes used {load.others_busy_cores:.1f} of {load.cores} cores"
              if load.others_busy_cores is not None else "other processes held the cores")
    if load.others_runnable is not None and load.cores and load.threads:
        ran = load.others_busy_cores is None or load.others_busy_cores > OTHERS_RAN_CORES
        if ran and load.others_runnable + load.threads > load.cores + OVERSUBSCRIBED_CORES:
            reasons.append(f"contention: {load.others_runnable:.1f} tasks of other processes wanted a core beside "
                           f"our {load.threads} thread(s) on {load.cores} cores ({others})")
    if load.wait_share is not None and load.wait_share > MAX_WAIT_SHARE:
        reasons.append(f"contention: our threads waited for a core {load.wait_share:.0%} of the time ({others})")
    if load.steal_share is not None and load.steal_share > MAX_STEAL_SHARE:
        reasons.append(f"contention: {load.steal_share:.0%} of the cores' time stolen by the hypervisor")
    if load.throttled:
        reasons.append("the GPU throttled its clocks")
    return "; ".join(reasons) or None


def assess(samples: list[float], load: Any, throttled: bool | None, target_rel_ci: float, threads: int) -> Noise:
    """A point's Noise record: its samples' spread, the load reading (trackers/load.py) of
    its timed calls, and the verdict. `threads`: those computing (on CUDA, the one launching)."""
    s = spread(samples)
    state = Load(load_avg=load.load_avg, others_busy_cores=load.others_busy_cores, steal_share=load.steal_share,
                 wait_share=load.wait_share, others_runnable=load.others_runnable, cores=load.cores, threads=threads,
                 throttled=throttled)
    reason = verdict(s, state, target_rel_ci)
    return Noise(cv=s.cv, latency_min_s=min(samples), latency_max_s=max(samples), median_ci_s=[s.low, s.high],
                 median_rel_ci=s.rel_ci, ci_coverage=s.coverage, noisy=reason is not None, noise_reason=reason,
                 load_avg=load.load_avg, others_busy_cores=load.others_busy_cores, steal_share=load.steal_share,
                 wait_share=load.wait_share, others_runnable=load.others_runnable)
