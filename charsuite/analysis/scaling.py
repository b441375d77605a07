"""How latency scales with length: the local exponent d log t / d log L at each length
(Transformer prefill tends to 2, SSM prefill to 1, decode to 1 and 0) and a global fit."""

from __future__ import annotations

import math


def local_exponents(contexts: list[int], latencies: list[float]) -> list[tuple[int, float]]:
    """(length, slope) at every measured length: centred differences inside, one-sided at the ends."""
    pts = sorted((c, t) for c, t in zip(contexts, latencies) if c > 0 and t and t > 0)
    if len(pts) < 2:
        return []
    logs = [(math.log(c), math.log(t)) for c, t in pts]
    out = []
    for i, (c, _) in enumerate(pts):
        j, k = max(0, i - 1), min(len(pts) - 1, i + 1)
        (x0, y0), (x1, y1) = logs[j], logs[k]
        out.append((c, (y1 - y0) / (x1 - x0)))
    return out


def fit_exponent(contexts: list[int], latencies: list[float]) -> float | None:
    """Least-squares slope of log latency on log length."""
    pts = [(math.log(c), math.log(t)) for c, t in zip(contexts, latencies) if c > 0 and t and t > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else None
