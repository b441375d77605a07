"""What a batch scheduler says of its jobs, and a batch that survives the jobs it ends.

hydra-submitit-launcher collects each job's result with submitit's `job.results()`, which
raises for a job that left none: one that Slurm cancelled, killed at its time limit, or lost
with its node. The batch would end in a traceback, with no report. `install()` settles that
in the submitting process: such a job becomes a failed entry (`Slurm ended it without a
result (state CANCELLED)`), the others are reported as usual, and once every job has ended
Slurm's accounting (`sacct`: state, elapsed time, max RSS) is written beside each job's
status (`job_status.json`'s `scheduler`) and for the whole batch (`slurm_jobs.json`).

A Hydra launcher of our own would have to live in a top-level `hydra_plugins` package,
outside this project's layout; the jobs themselves unpickle the plugin's class unchanged.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from charsuite import results
from charsuite.job_watch import JobWatch
from charsuite.results import JOB_STATUS, SLURM_JOBS
from charsuite.run_records import JobStatus, SlurmJob, SlurmJobs

# Job states after which a job does no more work (sacct's words, first word only: "CANCELLED by 0").
ENDED = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
         "DEADLINE"}
SACCT_FIELDS = ("JobID", "State", "Elapsed", "MaxRSS", "ExitCode")
_MEM_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def elapsed_s(text: str) -> int | None:
    """sacct's elapsed time ([D-]HH:MM:SS or MM:SS) in seconds."""
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)", text.strip())
    if not m:
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def mem_bytes(text: str) -> int | None:
    """sacct's memory figures (219836K, 1.5G, 0) in bytes; None where sacct gave none."""
    m = re.fullmatch(r"([\d.]+)([KMGT]?)", text.strip())
    return int(float(m.group(1)) * _MEM_UNITS[m.group(2)]) if m else None


def parse_sacct(text: str) -> dict[str, SlurmJob]:
    """`sacct -n -P -o JobID,State,Elapsed,MaxRSS,ExitCode` -> per job (`6_0`, `7`): its state,
    elapsed seconds and exit code from the job's own row, its max RSS over its steps."""
    jobs: dict[str, SlurmJob] = {}
    for line in text.splitlines():
        cols = line.split("|")
        if len(cols) < len(SACCT_FIELDS):
            continue
        job_id, state, elapsed, rss, exit_code = cols[:len(SACCT_FIELDS)]
        base, _, step = job_id.partition(".")
        job = jobs.setdefault(base, SlurmJob(job_id=base))
        if not step:
            job.state, job.elapsed_s, job.exit_code = state.split()[0] if state else None, elapsed_s(elapsed), exit_code
        rss_b = mem_bytes(rss) if rss else None
        if rss_b is not None and rss_b > (job.max_rss_bytes or 0):
            job.max_rss_bytes = rss_b
    return jobs


def sacct(job_ids: Iterable[str], run: Callable[..., Any] = subprocess.run) -> dict[str, SlurmJob] | None:
    """Slurm's accounting for these jobs, or None where accounting is off or sacct is missing."""
    ids = list(job_ids)
    try:
        out = run(["sacct", "-n", "-P", "-j", ",".join(ids), "-o", ",".join(SACCT_FIELDS)],
                  capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return parse_sacct(out.stdout)


def settled_accounting(job_ids: list[str], wait_s: float = 60, run: Callable[..., Any] = subprocess.run,
                       clock: Callable[[], float] = time.monotonic, pause: Callable[[float], None] = time.sleep
                       ) -> dict[str, SlurmJob] | None:
    """sacct, asked again until every job has ended (a job writes its result before its process
    exits, so it may still read RUNNING or COMPLETING) or `wait_s` has passed."""
    deadline = clock() + wait_s
    while True:
        acct = sacct(job_ids, run)
        if acct is None:
            return None
        if all((acct.get(j) or SlurmJob()).state in ENDED for j in job_ids) or clock() >= deadline:
            return acct
        pause(1.0)


def job_line(acct: SlurmJob) -> str:
    """`slurm 6_0 COMPLETED 34 s max RSS 787 MiB`, for the batch report."""
    parts = [f"slurm {acct.job_id}", str(acct.state or "state unknown")]
    if acct.elapsed_s is not None:
        parts.append(f"{acct.elapsed_s} s")
    if acct.max_rss_bytes:
        parts.append(f"max RSS {acct.max_rss_bytes / 2**20:.0f} MiB")
    return " ".join(parts)


def ended_without_result(state: str | None) -> str:
    """Why a job left no result, in the batch report's words."""
    if state == "TIMEOUT":
        return ("reached its Slurm time limit (hydra.launcher.timeout_min) and may not be requeued again "
                "(hydra.launcher.max_num_timeout); finished points are kept, re-submit to resume")
    return f"Slurm ended it without a result (state {state or 'unknown'}); finished points are kept, re-submit to " \
           "resume"


def job_folders(sweep_dir: Path) -> dict[tuple[str, ...], Path]:
    """Each job folder of a batch by the overrides Hydra recorded for it (.hydra/overrides.yaml)."""
    import yaml

    out = {}
    for f in Path(sweep_dir).rglob(".hydra/overrides.yaml"):
        try:
            out[tuple(yaml.safe_load(f.read_text()) or [])] = f.parent.parent
        except (OSError, yaml.YAMLError):
            continue
    return out


def record(sweep_dir: Path, jobs: list[tuple[str, list[str]]], acct: dict[str, SlurmJob] | None) -> None:
    """Slurm's word on each (job id, overrides) into its job_status.json (written here for a job
    killed before it wrote one) and the batch's slurm_jobs.json."""
    folders = job_folders(sweep_dir)
    entries = []
    for job_id, overrides in jobs:
        folder = folders.get(tuple(overrides))
        a = dataclasses.replace((acct or {}).get(job_id) or SlurmJob(job_id=job_id), overrides=overrides,
                                job_dir=str(folder) if folder else None)
        entries.append(a)
        if folder is None or acct is None:
            continue
        status = JobStatus.from_dict(results.read_json(folder / JOB_STATUS)) or JobStatus(
            error=ended_without_result(a.state), overrides=overrides, batch_id=os.environ.get(results.BATCH_ID_ENV))
        if status.status == "ok" and a.state not in (None, "COMPLETED"):
            status.status, status.error = "failed", ended_without_result(a.state)
        status.scheduler = a
        results.write_json(folder / JOB_STATUS, status.as_dict())
    results.write_json(Path(sweep_dir) / SLURM_JOBS, SlurmJobs(accounting=acct is not None, jobs=entries).as_dict())
    if acct is None:
        print("charsuite: Slurm accounting is not available here (sacct answered nothing), so the report has no "
              "state, elapsed time or max RSS per job", file=sys.stderr)


class _Tolerant:
    """A submitit job whose results() gives a failed job's status instead of raising."""

    def __init__(self, job, overrides: list[str], why: Callable[[Any], str]):
        self.job, self.overrides, self.why = job, overrides, why

    def results(self) -> list[Any]:
        from hydra.core.utils import JobReturn
        from hydra.core.utils import JobStatus as HydraJobStatus
        from submitit.core.utils import FailedJobError, UncompletedJobError

        try:
            return self.job.results()
        except (UncompletedJobError, FailedJobError) as exc:
            ret = JobReturn(overrides=self.overrides, status=HydraJobStatus.COMPLETED)
            ret.return_value = JobStatus(error=self.why(self.job) or str(exc).splitlines()[0],
                                         overrides=self.overrides).as_dict()
            return [ret]


def _state(job) -> str:
    try:
        return ended_without_result(job.state.split()[0] if job.state else None)
    except Exception:  # noqa: BLE001 - the scheduler could not say; submitit's own message stands
        return ""


@contextmanager
def _tolerant_map_array(executor_cls, overrides: list[list[str]], submitted: list[Any], watches: list[JobWatch]):
    original = executor_cls.map_array

    def map_array(self, fn, *iterables):
        jobs = original(self, fn, *iterables)
        submitted.extend(jobs)
        watches.append(JobWatch(jobs, overrides).start())
        return [_Tolerant(j, o, _state) for j, o in zip(jobs, overrides)]

    executor_cls.map_array = map_array
    try:
        yield
    finally:
        executor_cls.map_array = original


def install() -> None:
    """Make hydra-submitit-launcher's launchers, in this process, report jobs that ended without a
    result as failed, and (Slurm) write the scheduler's word per job. Hydra's plugin scan
    re-executes the plugin's module, so it is made to run first: a patch before it would be lost."""
    try:
        from hydra.core.plugins import Plugins
        from hydra_plugins.hydra_submitit_launcher import submitit_launcher
    except ImportError:
        return
    Plugins.instance()
    base = submitit_launcher.BaseSubmititLauncher
    if getattr(base.launch, "_charsuite", False):
        return
    original = base.launch

    def launch(self, job_overrides, initial_job_idx):
        import submitit

        overrides = [list(o) for o in job_overrides]
        submitted: list[Any] = []
        watches: list[JobWatch] = []
        try:
            with _tolerant_map_array(submitit.AutoExecutor, overrides, submitted, watches):
                returns = original(self, job_overrides, initial_job_idx)
        finally:
            for w in watches:
                w.stop()
        if self._EXECUTOR == "slurm" and submitted:
            ids = [j.job_id for j in submitted]
            record(Path(str(self.config.hydra.sweep.dir)), list(zip(ids, overrides)), settled_accounting(ids))
        return returns

    launch._charsuite = True
    base.launch = launch
