"""The one bisection every boundary search shares (a sweep's phase, the dry-run's boundary, the closed-form
memory model): between a length that fits and one that does not, halve the gap until it is within tolerance."""

from __future__ import annotations

from collections.abc import Callable


def narrow(lo: int, hi: int, fits: Callable[[int], bool | None],
           tolerance: Callable[[int], int] = lambda _: 1) -> tuple[int, int, int | None]:
    """(largest that fits, smallest that does not, the length where `fits` answered None - neither: a timeout or
    an error ends the search there - or None). `lo` must fit and `hi` must not."""
    while hi - lo > tolerance(lo):
        mid = (lo + hi) // 2
        ok = fits(mid)
        if ok is None:
            return lo, hi, mid
        lo, hi = (mid, hi) if ok else (lo, mid)
    return lo, hi, None
