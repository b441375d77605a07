"""Where one model's latency curve crosses another's (log-log interpolation)."""

from __future__ import annotations

import math


def interpolate_loglog(xs: list[float], ys: list[float], x: float) -> float | None:
    """y at x on the piecewise-linear log-log curve through (xs, ys); None outside it."""
    pts = sorted(zip(xs, ys))
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1 and y0 > 0 and y1 > 0:
            if x1 == x0:
                return y0
            f = (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return math.exp(math.log(y0) + f * (math.log(y1) - math.log(y0)))
    return None


def speedup_curve(a: dict[int, float], b: dict[int, float]) -> list[tuple[int, float]]:
    """(context, latency_b / latency_a) at every context where both curves are defined:
    above 1 means `a` is faster."""
    xs = sorted(set(a) | set(b))
    out = []
    for x in xs:
        ya = a.get(x, interpolate_loglog(list(a), list(a.values()), x))
        yb = b.get(x, interpolate_loglog(list(b), list(b.values()), x))
        if ya and yb:
            out.append((x, yb / ya))
    return out


def crossover(curve: list[tuple[int, float]]) -> float | None:
    """First context where the speedup crosses 1 (log-interpolated), or None."""
    for (x0, s0), (x1, s1) in zip(curve, curve[1:]):
        if (s0 - 1) * (s1 - 1) <= 0 and s0 != s1:
            if s0 == 1:
                return float(x0)
            f = (math.log(1) - math.log(s0)) / (math.log(s1) - math.log(s0))
            return math.exp(math.log(x0) + f * (math.log(x1) - math.log(x0)))
    return None


def bootstrap_crossover(a: dict[int, list[float]], b: dict[int, list[float]], n: int = 1000,
                        seed: int = 0) -> dict:
    """Crossover of latency curves a and b (from each point's timed repeats) with a 95%
    bootstrap interval: each resample redraws every point's repeats and takes the median.
    `estimate` None means no crossover in the measured range."""
    import random
    import statistics

    rng = random.Random(seed)
    med = lambda d: {c: statistics.median(s) for c, s in d.items() if s}  # noqa: E731
    estimate = crossover(speedup_curve(med(a), med(b)))
    draws = []
    for _ in range(n):
        ra = {c: statistics.median(rng.choices(s, k=len(s))) for c, s in a.items() if s}
        rb = {c: statistics.median(rng.choices(s, k=len(s))) for c, s in b.items() if s}
        x = crossover(speedup_curve(ra, rb))
        if x is not None:
            draws.append(x)
    draws.sort()
    ci = (draws[int(0.025 * len(draws))], draws[min(len(draws) - 1, int(0.975 * len(draws)))]) if draws else None
    return {"estimate": estimate, "ci95": ci, "share_with_crossover": len(draws) / n}
