"""How a run stops early and says so: a signal (SIGTERM, SIGHUP; SIGINT arrives as
KeyboardInterrupt) ends it with its finished points kept and exit 128 + the signal; a Slurm
job's time limit comes as submitit's own exception. Both are written into the job's status."""

from __future__ import annotations

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


def time_limit_reached(exc: BaseException) -> bool:
    """submitit's word that a Slurm job reached its time limit and will not be requeued."""
    return type(exc).__name__ == "UncompletedJobError" and "timed-out" in str(exc)
