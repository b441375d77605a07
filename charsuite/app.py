"""One sweep of one model on one device into one run folder (what a Hydra job runs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from charsuite import environment, results
from charsuite.analysis.facts import model_facts
from charsuite.analysis.memory_model import max_context, predict
from charsuite.batch import JOB_STATUS
from charsuite.compose import to_run_config
from charsuite.config import ConfigError, RunConfig
from charsuite.driver import WorkerDriver
from charsuite.progress import Progress, print_table
from charsuite.recorder import Recorder
from charsuite.sweep import Sweep

# Settings that change what a point measures: a run folder holds one combination.
FINGERPRINT_KEYS = ("model", "device", "workload")
NOT_FINGERPRINTED = {("workload", "timeout_s"), ("workload", "budget_s"), ("workload", "phases")}


def fingerprint(run: RunConfig) -> dict[str, Any]:
    raw = run.raw
    out = {}
    for section in FINGERPRINT_KEYS:
        for k, v in (raw.get(section) or {}).items():
            if (section, k) not in NOT_FINGERPRINTED and not (section == "model" and k == "sizes"):
                out[f"{section}.{k}"] = v
    out["model.hf_config"] = run.model.hf_config
    return out


def check_resumable(run_dir: Path, run: RunConfig) -> None:
    previous = results.read_json(run_dir / results.RUN)
    if not previous or not (run_dir / results.RESULTS).exists():
        return
    old = previous.get("fingerprint") or {}
    new = fingerprint(run)
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if changed:
        k = changed[0]
        raise ConfigError(f"run folder {run_dir} holds results measured with other settings ({k}: "
                          f"{old.get(k)!r} -> {new.get(k)!r}); pass hydra.run.dir=NEW_FOLDER or remove it")


def execute(run: RunConfig, run_dir: Path) -> list[dict[str, Any]]:
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        held = results.lock(run_dir)  # one driver per run folder, for as long as this process runs
    except results.RunFolderBusy as exc:
        raise ConfigError(str(exc)) from None
    try:
        return _execute(run, run_dir)
    finally:
        held.close()


def _execute(run: RunConfig, run_dir: Path) -> list[dict[str, Any]]:
    if run.resume:
        check_resumable(run_dir, run)
    facts = model_facts(run.model)
    w = run.workload
    limit = run.device.memory_limit_bytes()

    def predict_mem(phase: str, context: int) -> dict[str, int]:
        return predict(facts, context, w.batch, w.logits if phase == "prefill" else "last").as_dict()

    run_info = {
        "config": run.raw,
        "fingerprint": fingerprint(run),
        "params": facts.params,
        "memory_limit_bytes": limit,
        # What the read side (summary, figures) needs, so it never imports torch.
        "model_facts": facts.to_dict(),
        "predicted_max_context": max_context(facts, limit, w.batch, w.logits) if limit else None,
        "environment": environment.describe({**run.device.allocator_env}),
    }
    results.write_json(run_dir / results.RUN, run_info)
    driver = WorkerDriver(run)
    recorder = Recorder(run_dir, run, facts.params)
    progress = Progress(f"charsuite: {run.model.name} {run.model.size} ({run.model.dtype}) on {run.device.name} "
                        f"-> {run_dir}")
    sweep = Sweep(run, driver, recorder, progress, predict_mem)
    try:
        summary = sweep.execute()
    finally:
        progress.stop()
        run_info.update({"worker": driver.info, "correctness_guard": driver.guard})
        results.write_json(run_dir / results.RUN, run_info)
    results.write_json(run_dir / results.SUMMARY, summary)
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
    overrides = list(hc.overrides.task)
    try:
        summary = execute(to_run_config(cfg), run_dir)
        status = {"status": "ok", "error": None, "overrides": overrides, "summary": summary}
    except ConfigError as exc:
        status = {"status": "failed", "error": str(exc), "overrides": overrides}
        if not batch:
            print(f"charsuite: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    except Exception as exc:  # noqa: BLE001 - the batch report says why
        if not batch:
            raise
        status = {"status": "failed", "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
                  "overrides": overrides}
    run_dir.mkdir(parents=True, exist_ok=True)
    results.write_json(run_dir / JOB_STATUS, status)
    if batch and status["status"] != "ok":
        print(f"charsuite: job {run_dir.name} failed: {status['error']}", file=sys.stderr)
    return status
