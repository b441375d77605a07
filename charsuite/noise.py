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

CONFIDENCE = 0.95
# Contention: the other processes' demand plus our threads exceed the cores by this much...
OVERSUBSCRIBED_CORES = 0.5
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
    cores: int | None = None                # cores the worker may run on
    threads: int | None = None              # threads it computed with
    throttled: bool | None = None           # a GPU's clocks held down (power, thermal)


def verdict(s: Spread, load: Load, target_rel_ci: float) -> str | None:
    """Why a point is noisy, or None: its median's interval stayed wider than the target,
    or it ran under contention (other processes wanting our cores, steal, throttling)."""
    reasons = []
    if s.n > 1 and s.rel_ci > target_rel_ci:
        reasons.append(f"median +-{s.rel_ci:.0%} ({s.coverage:.0%} interval, {s.n} samples, cv {s.cv:.0%}) "
                       f"> target +-{target_rel_ci:.0%}")
    if load.others_busy_cores is not None and load.cores and load.threads:
        if load.threads + load.others_busy_cores > load.cores + OVERSUBSCRIBED_CORES:
            reasons.append(f"contention: other processes used {load.others_busy_cores:.1f} of {load.cores} cores "
                           f"beside {load.threads} thread(s)")
    if load.steal_share is not None and load.steal_share > MAX_STEAL_SHARE:
        reasons.append(f"contention: {load.steal_share:.0%} of the cores' time stolen by the hypervisor")
    if load.throttled:
        reasons.append("the GPU throttled its clocks")
    return "; ".join(reasons) or None
