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


def crossings(curve: list[tuple[int, float]]) -> list[float]:
    """Every context where the speedup crosses 1 (log-interpolated), in order."""
    out = []
    for (x0, s0), (x1, s1) in zip(curve, curve[1:]):
        if (s0 - 1) * (s1 - 1) <= 0 and s0 != s1:
            if s0 == 1:
                x = float(x0)
            else:
                f = (math.log(1) - math.log(s0)) / (math.log(s1) - math.log(s0))
                x = math.exp(math.log(x0) + f * (math.log(x1) - math.log(x0)))
            if not out or x != out[-1]:
                out.append(x)
    return out


def crossover(curve: list[tuple[int, float]]) -> float | None:
    """First context where the speedup crosses 1, or None."""
    found = crossings(curve)
    return found[0] if found else None


def bootstrap_crossings(a: dict[int, list[float]], b: dict[int, list[float]], n: int = 1000,
                        seed: int = 0) -> list[dict]:
    """Every crossing of latency curves a and b (from each point's timed repeats), each with
    a 95% bootstrap interval: each resample redraws every point's repeats and takes the
    median, and each of its crossings counts toward the nearest crossing of the medians (in
    log context). `share`: resamples that had a crossing there. [] when the medians never cross."""
    import random
    import statistics

    rng = random.Random(seed)
    med = {c: statistics.median(s) for c, s in a.items() if s}, {c: statistics.median(s) for c, s in b.items() if s}
    estimates = crossings(speedup_curve(*med))
    if not estimates:
        return []
    draws: list[list[float]] = [[] for _ in estimates]
    for _ in range(n):
        ra = {c: statistics.median(rng.choices(s, k=len(s))) for c, s in a.items() if s}
        rb = {c: statistics.median(rng.choices(s, k=len(s))) for c, s in b.items() if s}
        seen = set()
        for x in crossings(speedup_curve(ra, rb)):
            i = min(range(len(estimates)), key=lambda j: abs(math.log(x) - math.log(estimates[j])))
            if i not in seen:  # one draw per resample and crossing
                seen.add(i)
                draws[i].append(x)
    out = []
    for est, d in zip(estimates, draws):
        d.sort()
        ci = (d[int(0.025 * len(d))], d[min(len(d) - 1, int(0.975 * len(d)))]) if d else None
        out.append({"estimate": est, "ci95": ci, "share": len(d) / n})
    return out


def bootstrap_crossover(a: dict[int, list[float]], b: dict[int, list[float]], n: int = 1000,
                        seed: int = 0) -> dict:
    """The first crossing of bootstrap_crossings, or `estimate` None: no crossover in range."""
    found = bootstrap_crossings(a, b, n, seed)
    return found[0] if found else {"estimate": None, "ci95": None, "share": 0.0}
