"""Batches: the end-of-batch report (a Hydra callback) and named experiments.

    python -m charsuite.batch EXPERIMENT [hydra/launcher=submitit_slurm] [override ...]

runs conf/experiment/EXPERIMENT.yaml: one Hydra multirun per model family (its sizes
swept) into runs/EXPERIMENT/, then prints which jobs succeeded and which failed, and why.
Re-running it skips finished jobs and points (the folders are stable).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

from charsuite.config import CONF_DIR, ConfigError, choices
from charsuite.phase_summary import PhaseSummary
from charsuite.results import BATCH_ID_ENV, JOB_STATUS, SLURM_JOBS  # noqa: F401 - re-exported: callers import them from here
from charsuite.run_records import JobStatus, SlurmJobs
from charsuite.scheduler import job_line

REPORTED_BY_PARENT = "CHARSUITE_BATCH_REPORTS"  # set for the families charsuite.batch runs
# Jobs that failed in the last batch this process reported (the CLI's exit code reads it).
LAST_FAILED: list[int] = []


def job_statuses(sweep_dir: Path, batch_id: str | None = None) -> list[JobStatus]:
    """One entry per job folder under a batch folder: ok, failed (with why) or missing; with
    `batch_id`, only the jobs that batch ran (an earlier batch's jobs in the same folder are not its own)."""
    out = []
    for status_file in sorted(Path(sweep_dir).rglob(JOB_STATUS)):
        try:
            status = JobStatus.from_dict(json.loads(status_file.read_text())) or JobStatus(error="unreadable")
        except (OSError, ValueError):
            status = JobStatus(error="unreadable job_status.json")
        if batch_id is not None and status.batch_id != batch_id:
            continue
        status.job = str(status_file.parent.relative_to(sweep_dir))
        out.append(status)
    return out


def never_started(sweep_dir: Path) -> list[JobStatus]:
    """Jobs the scheduler ended before they opened a folder (cancelled while pending), from the
    batch's slurm_jobs.json (charsuite.scheduler)."""
    try:
        recorded = SlurmJobs.from_dict(json.loads((Path(sweep_dir) / SLURM_JOBS).read_text()))
    except (OSError, ValueError):
        return []
    return [JobStatus(job=" ".join(j.overrides or []), scheduler=j,
                      error=f"never started (state {j.state or 'unknown'})")
            for j in (recorded.jobs if recorded else None) or [] if not j.job_dir]


def report(sweep_dir: Path, file=sys.stderr, batch_id: str | None = None) -> tuple[int, int]:
    jobs = job_statuses(sweep_dir, batch_id) + never_started(sweep_dir)
    ok = [j for j in jobs if j.status == "ok"]
    failed = [j for j in jobs if j.status != "ok"]
    print(f"\ncharsuite batch {sweep_dir}: {len(ok)} job(s) succeeded, {len(failed)} failed", file=file)

    def name(j: JobStatus) -> str:
        return f"{j.job} [{job_line(j.scheduler)}]" if j.scheduler else str(j.job)

    for j in ok:
        stops = "; ".join(f"{s.phase} max {s.max_context_ok} ({s.stop_reason})"
                          for s in filter(None, map(PhaseSummary.from_dict, j.summary or [])))
        print(f"  ok      {name(j)}: {stops}", file=file)
    for j in failed:
        print(f"  FAILED  {name(j)}: {j.error}", file=file)
    return len(ok), len(failed)


class BatchReport(Callback):
    """Prints the batch report when a multirun ends, whatever the launcher: of the jobs this batch ran
    (each job's status carries the batch's id, set here for the jobs, which inherit it, local or Slurm)."""

    def on_multirun_start(self, config, **kwargs) -> None:
        import uuid

        self.own_id = BATCH_ID_ENV not in os.environ  # else charsuite.batch set it for all its families
        os.environ.setdefault(BATCH_ID_ENV, uuid.uuid4().hex[:12])

    def on_multirun_end(self, config, **kwargs) -> None:
        import io

        # under charsuite.batch, one report at the end covers every family (not one more per family)
        quiet = os.environ.get(REPORTED_BY_PARENT) == "1"
        _, failed = report(Path(config.hydra.sweep.dir), file=io.StringIO() if quiet else sys.stderr,
                           batch_id=os.environ.get(BATCH_ID_ENV))
        if getattr(self, "own_id", False):
            os.environ.pop(BATCH_ID_ENV, None)
        LAST_FAILED.append(failed)


def experiment_commands(name: str, extra: list[str]) -> tuple[Path, list[list[str]]]:
    """The multirun command lines of a named experiment, one per model family (and per device
    where it names several under `devices`, each in a sub-folder of its own). A
    `hydra.sweep.dir=` among the extra overrides replaces the experiment's folder (and the report reads it)."""
    if name not in choices("experiment"):
        raise ConfigError(f"unknown experiment {name!r}; choose one of: {', '.join(choices('experiment'))}")
    exp = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "experiment" / f"{name}.yaml"), resolve=True)
    given = [a.split("=", 1)[1] for a in extra if a.lstrip("+").startswith("hydra.sweep.dir=")]
    extra = [a for a in extra if not a.lstrip("+").startswith("hydra.sweep.dir=")]
    sweep_dir = Path(given[-1] if given else exp.get("sweep_dir") or f"runs/{name}")
    devices = experiment_devices(exp)
    cmds = []
    for device in devices:
        folder = sweep_dir / device if len(devices) > 1 else sweep_dir
        for family, sizes in exp["models"].items():
            cmds.append([sys.executable, "-m", "charsuite", "-m", f"+model={family}",
                         f"model.size={','.join(map(str, sizes))}", f"device={device}",
                         f"hydra.sweep.dir={folder}", *exp.get("overrides", []), *extra])
    return sweep_dir, cmds


def experiment_devices(exp: dict) -> list[str]:
    """An experiment's device profiles: `devices: [..]`, or the one `device`."""
    return list(exp.get("devices") or [exp["device"]])


def _main(argv: list[str] | None = None) -> int:
    from charsuite.cli import preflight

    argv = list(sys.argv[1:] if argv is None else argv)
    from charsuite.errors import help_or_version

    if (done := help_or_version("charsuite.batch", argv, __doc__)) is not None:
        return done
    if not argv or argv[0].startswith("-"):
        print(f"usage: python -m charsuite.batch EXPERIMENT [override ...]; experiments: "
              f"{', '.join(choices('experiment'))}", file=sys.stderr)
        return 2
    sweep_dir, cmds = experiment_commands(argv[0], argv[1:])
    for cmd in cmds:  # every family's command line checked before any family starts
        for warning in preflight(cmd[3:]):
            print(f"charsuite: {warning}", file=sys.stderr)
    parallel = any(a.startswith("hydra/launcher=") and "slurm" in a for a in argv[1:])
    import uuid

    batch_id = uuid.uuid4().hex[:12]  # every family's jobs carry it: the report counts this batch's alone
    procs: list[subprocess.Popen] = []
    codes: list[int] = []
    stopped: list[int] = []

    def stop(signum, _frame) -> None:  # a signal to the batch reaches the families running now
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)
        stopped.append(signum)
        raise KeyboardInterrupt  # out of the wait (never wait inside a handler: Popen.wait's lock is held)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        for cmd in cmds:
            print("+ " + " ".join(cmd[2:]), file=sys.stderr)
            procs.append(subprocess.Popen(cmd, env={**os.environ, REPORTED_BY_PARENT: "1", BATCH_ID_ENV: batch_id}))
            if not parallel:  # each family's Slurm array queues at once; locally one family at a time
                codes.append(procs[-1].wait())
        if parallel:
            codes = [p.wait() for p in procs]
    except KeyboardInterrupt:
        for p in procs:  # Ctrl-C reached the families too (one process group); a signal was forwarded
            p.wait()
        report(sweep_dir, batch_id=batch_id)
        raise SystemExit(128 + (stopped[0] if stopped else signal.SIGINT)) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for p in procs:  # an error here leaves no family running
            if p.poll() is None:
                p.terminate()
                p.wait()
    ok, failed = report(sweep_dir, batch_id=batch_id)
    bad_launch = sum(1 for c in codes if c != 0)
    if bad_launch:
        print(f"charsuite: {bad_launch} family launch(es) exited non-zero (see above)", file=sys.stderr)
    return 0 if failed == 0 and bad_launch == 0 else 1


def main(argv: list[str] | None = None) -> int:
    from charsuite.errors import run_command

    return run_command("charsuite.batch", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
