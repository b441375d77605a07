"""One sweep of one model on one device into one run folder (what a Hydra job runs)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from charsuite import environment, results
from charsuite.analysis.architectures import mixers
from charsuite.analysis.facts import model_facts
from charsuite.calibrate import read_calibration
from charsuite.compose import to_run_config
from charsuite.config import ConfigError, RunConfig
from charsuite.driver import WorkerDriver
from charsuite.errors import one_line
from charsuite.fingerprint import check_resumable, fingerprint, fingerprint_id, finished_job, plan
from charsuite.interrupts import (
    Interrupted,
    RunInterrupted,
    kept_points,
    raise_interrupted,
    time_limit_reached,
    watch_time_limit,
)
from charsuite.phase_summary import PhaseSummary
from charsuite.preflight import check_machine
from charsuite.progress import Progress, print_table
from charsuite.recorder import Recorder
from charsuite.records import Status
from charsuite.results import JOB_STATUS
from charsuite.run_folder import discard_unused, move_aside
from charsuite.run_plan import resolve_plan
from charsuite.run_predictions import RunPredictions
from charsuite.run_records import JobStatus, RunRecord
from charsuite.scheduler import ended_without_result
from charsuite.sweep import Sweep


def execute(run: RunConfig, run_dir: Path) -> list[PhaseSummary]:
    """One run into one folder, holding the folder's lock throughout. SIGTERM, SIGHUP and
    SIGINT end the worker at once, keep every finished point, and exit 143/129/130.
    What would fail at every point is refused first, before the folder exists."""
    check_machine(run)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create run folder {run_dir}: {exc.strerror or exc}") from None
    try:
        held = results.lock(run_dir)  # one driver per run folder, for as long as this process runs
    except results.RunFolderBusy as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"cannot use run folder {run_dir}: {exc.strerror or exc}") from None
    for name in (results.RESULTS, results.RUN, results.SUMMARY):
        if (run_dir / name).exists() and not (run_dir / name).is_file():
            held.close()
            raise ConfigError(f"cannot use run folder {run_dir}: {name} there is not a file; remove it or pass "
                              "hydra.run.dir=ANOTHER_FOLDER")
    previous = {sig: signal.signal(sig, raise_interrupted) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return _execute(run, run_dir)
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        kept = kept_points(run_dir)
        print(f"charsuite: interrupted: {kept} points kept in {run_dir}; re-run the same command to resume",
              file=sys.stderr)
        raise RunInterrupted(signum, kept) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        held.close()


def _execute(run: RunConfig, run_dir: Path) -> list[PhaseSummary]:
    if run.resume:
        check_resumable(run_dir, run)
    else:
        moved = move_aside(run_dir)
        if moved:
            print(f"charsuite: resume=false: the earlier results of {run_dir} moved to {moved}", file=sys.stderr)
    if run.profile.enabled:  # said now, not after every point has run
        results.check_writable(run_dir / "profiles")
    facts = model_facts(run.model)
    fp = fingerprint(run)
    plan = resolve_plan(run)  # every "auto" setting, once: written below, handed down
    limit = plan.memory_limit_bytes

    predictions = RunPredictions(run, plan, facts)
    record = RunRecord(
        config=run.raw, fingerprint=fp, fingerprint_id=fingerprint_id(fp), params=facts.params,
        mixers=mixers(facts.layout), memory_limit_bytes=limit, plan=plan.as_dict(),
        model_facts=facts.to_dict(),  # what the read side (summary, figures) needs, so it never imports torch
        predicted_max_context=predictions.max_context(),
        environment=environment.describe({**run.device.allocator_env}),
        # the machine's measured roofline (charsuite.calibrate), where one was saved for this profile
        calibration=read_calibration(run.device.name))
    results.write_json(run_dir / results.RUN, record.as_dict())
    driver = WorkerDriver(run, plan=plan)
    recorder = Recorder(run_dir, run, facts.params, record.fingerprint_id, record.mixers, record)
    if recorder.elsewhere:
        print(f"charsuite: points in {run_dir} measured on {', '.join(sorted(recorder.elsewhere))} are measured again "
              f"on {recorder.here} (a run replays only what was measured where it runs)", file=sys.stderr)
    quicker = (f"python -m charsuite.predict +model={run.model.name} model.size={run.model.size} "
               f"device={run.device.name} context.max={run.context.max}")
    progress = Progress(f"charsuite: {run.model.name} {run.model.size} ({run.model.dtype}) on {run.device.name} "
                        f"-> {run_dir}", quicker=quicker)
    sweep = Sweep(run, driver, recorder, progress, predictions)
    try:
        summary = sweep.execute()
    finally:
        driver.retire()  # on any exit, interrupts included: no worker outlives its driver
        progress.stop()
        record.worker, record.correctness_guard = driver.info, driver.guard
        results.write_json(run_dir / results.RUN, record.as_dict())
    results.write_json(run_dir / results.SUMMARY, [s.as_dict() for s in summary])
    print_table(recorder.points(), summary)
    return summary


def main_job(cfg: DictConfig) -> dict[str, Any]:
    """A Hydra job. In a batch (-m) a failure is recorded in the job's folder and
    returned, never raised, so one bad job does not stop the others."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    batch = hc.mode == RunMode.MULTIRUN
    if batch:
        watch_time_limit()  # in a Slurm job: submitit's verdict counts wherever its signal lands
    overrides = list(hc.overrides.task)
    exit_code = 0
    batch_id = os.environ.get(results.BATCH_ID_ENV) if batch else None  # counted in this batch's report
    try:
        run = to_run_config(cfg)
        done = finished_job(run, run_dir)
        if done is not None:  # a re-submitted job that finished: nothing built, nothing measured
            kept = list(results.latest(results.read_points(run_dir / results.RESULTS, quiet=True)).values())
            noisy = sum(bool(p.noisy) for p in kept)
            print(f"charsuite: {run_dir} holds this run, finished; nothing to measure (resume=false measures it "
                  "again" + (f"; remeasure=noisy its {noisy} noisy points" if noisy else "") + ")", file=sys.stderr)
            print_table(kept, list(filter(None, map(PhaseSummary.from_dict, done.summary or []))))
            if batch:
                done.batch_id = batch_id
                results.write_json(run_dir / JOB_STATUS, done.as_dict())
            return done.as_dict()
        summary = execute(run, run_dir)
        failed = failed_points(run_dir)
        status = JobStatus(status="ok", overrides=overrides, summary=[s.as_dict() for s in summary], plan=plan(run),
                           measured_on=environment.measured_on())
        if failed:
            status.status = "failed"
            status.error = f"{failed} point(s) failed (error, crashed or timeout); see {run_dir / results.RESULTS}"
            print(f"charsuite: {status.error}", file=sys.stderr)
            exit_code = 1
    except RunInterrupted as exc:  # scancel, requeue, preemption: say so, keep the exit code
        if batch:
            run_dir.mkdir(parents=True, exist_ok=True)
            why = (f"{ended_without_result('TIMEOUT')} ({exc.kept} points kept)" if time_limit_reached(exc) else
                   f"interrupted (exit {exc.code}: cancelled, preempted or requeued); {exc.kept} points kept, "
                   "re-submit the batch to resume")
            results.write_json(run_dir / JOB_STATUS, JobStatus(interrupted=True, overrides=overrides,
                                                               batch_id=batch_id, error=why).as_dict())
        raise
    except ConfigError as exc:
        status = JobStatus(error=str(exc), overrides=overrides)
        if not batch:
            discard_unused(run_dir)
            print(f"charsuite: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    except Exception as exc:  # noqa: BLE001 - one line, and the batch report says why
        status = JobStatus(error=one_line(exc)[:300], overrides=overrides)
        if time_limit_reached(exc):
            status.interrupted = True
            status.error = f"{ended_without_result('TIMEOUT')} ({kept_points(run_dir)} points kept)"
        if not batch:
            print(f"charsuite: {status.error}", file=sys.stderr)
            raise SystemExit(1) from None
    run_dir.mkdir(parents=True, exist_ok=True)
    status.batch_id = batch_id
    results.write_json(run_dir / JOB_STATUS, status.as_dict())
    if batch and status.status != "ok":
        print(f"charsuite: job {run_dir.name} failed: {status.error}", file=sys.stderr)
    if exit_code and not batch:
        raise SystemExit(exit_code)
    return status.as_dict()


def failed_points(run_dir: Path) -> int:
    """Points of the run that ended in error, crashed or timed out (their latest line)."""
    points = results.latest(results.read_points(run_dir / results.RESULTS, quiet=True))
    return sum(p.status in (Status.error, Status.crashed, Status.timeout) for p in points.values())
