"""Which lengths a phase probes: walk the ladder, and at the first out-of-memory bisect
between the last length that ran and the first that did not, down to the tolerance.
Pure logic over a `probe(length, how) -> Status` callback: no worker, no files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from charsuite.narrowing import narrow
from charsuite.records import Status


@dataclass
class Boundary:
    """What a phase's search found: largest length that ran, smallest that ran out of memory."""

    max_ok: int | None = None
    min_oom: int | None = None
    probes: int = 0
    stop_reason: str = "reached context.max"
    failed_at: int | None = None

    @property
    def reason(self) -> str:
        """Why the search stopped, as summary.json says it."""
        if self.stop_reason == "out of memory" or self.stop_reason.startswith("reached "):
            return self.stop_reason  # context.max, or the model's learned positions
        if self.stop_reason == Status.skipped.value:
            return "run budget exhausted"
        return f"{self.stop_reason} at {self.failed_at}"


STEP_UP = 1.125  # above a prediction that ran: climb in 12.5% steps until out of memory


def search(lengths: list[int], probe: Callable[[int, str], Status], tolerance_at: Callable[[int], int],
           predicted: int | None = None) -> Boundary:
    """Ladder walk then bisection. Probes <= ladder steps up to the first OOM
    + ceil(log2(gap / tolerance)). With a `predicted` boundary the walk takes only the
    ladder below it, then the prediction itself, then (if it ran) 12.5% steps up to the
    first OOM, and bisects what is left."""
    b = Boundary()
    if predicted is not None and lengths and lengths[0] < predicted < lengths[-1]:
        below = [n for n in lengths if n < predicted]
        steps, n = [predicted], predicted
        while n < lengths[-1]:
            n = min(lengths[-1], max(n + tolerance_at(n), int(n * STEP_UP)))
            steps.append(n)
        walk = [(n, "ladder") for n in below] + [(n, "predicted") for n in steps]
    else:
        walk = [(n, "ladder") for n in lengths]
    for n, how in walk:
        status = probe(n, how)
        b.probes += 1
        if status is Status.ok:
            b.max_ok = n
            continue
        if status is Status.oom:
            b.min_oom = n
            b.stop_reason = "out of memory"
            break
        b.failed_at, b.stop_reason = n, status.value
        return b
    if b.min_oom is None or b.max_ok is None:
        return b
    failed: list[Status] = []

    def fits(n: int) -> bool | None:
        status = probe(n, "bisect")
        b.probes += 1
        if status not in (Status.ok, Status.oom):
            failed.append(status)
            return None
        return status is Status.ok

    b.max_ok, b.min_oom, at = narrow(b.max_ok, b.min_oom, fits, tolerance_at)
    if at is not None:
        b.failed_at, b.stop_reason = at, failed[-1].value
    return b
