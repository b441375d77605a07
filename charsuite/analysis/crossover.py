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
