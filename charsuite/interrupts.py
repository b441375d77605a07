"""How a run stops early and says so: a signal (SIGTERM, SIGHUP; SIGINT arrives as
KeyboardInterrupt) ends it with its finished points kept and exit 128 + the signal; a Slurm
job's time limit comes as submitit's own exception. Both are written into the job's status."""

from __future__ import annotations

import signal
from pathlib import Path

from charsuite import results


class Interrupted(BaseException):
    """SIGTERM or SIGHUP reached the driver (SIGINT arrives as KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class RunInterrupted(SystemExit):
    """The run stopped on a signal with its finished points kept; exits 128 + the signal."""

    def __init__(self, signum: int, kept: int):
        super().__init__(128 + int(signum))
        self.kept = kept


def raise_interrupted(signum, frame) -> None:
    raise Interrupted(signum)


def kept_points(run_dir: Path) -> int:
    """Points of a run folder that finished (kept when a run is interrupted)."""
    return len(results.finished(results.read_points(run_dir / results.RESULTS, quiet=True)))


_TIME_LIMIT_SEEN: list[BaseException] = []  # what submitit's handler raised in this process (watch_time_limit)


def watch_time_limit() -> None:
    """In a Slurm job, remember submitit's time-limit verdict however the code it lands in handles it:
    its SIGUSR2 handler raises wherever the driver happens to be, and a library that catches
    Exception there (a prediction that falls back, say) would otherwise lose it."""
    previous = signal.getsignal(signal.SIGUSR2)
    _TIME_LIMIT_SEEN.clear()
    if not callable(previous) or getattr(previous, "_charsuite", False):
        return

    def handler(signum, frame) -> None:
        try:
            previous(signum, frame)
        except BaseException as exc:
            if _said_time_limit(exc):
                _TIME_LIMIT_SEEN.append(exc)
            raise

    handler._charsuite = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGUSR2, handler)


def _said_time_limit(exc: BaseException) -> bool:
    return type(exc).__name__ == "UncompletedJobError" and "timed-out" in str(exc)


def time_limit_reached(exc: BaseException | None) -> bool:
    """submitit's word that a Slurm job reached its time limit and will not be requeued. Its signal
    handler raises it wherever the driver is, so a library may have wrapped it on the way out
    (transformers turns a RuntimeError raised inside a lazy import into ModuleNotFoundError): the
    whole chain is searched, and what watch_time_limit saw counts too."""
    if _TIME_LIMIT_SEEN:
        return True
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if _said_time_limit(exc):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
