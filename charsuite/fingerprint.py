"""What makes two runs the same run: the settings that change what a point measures
(fingerprinted into run.json, a short id on every line), and whether a folder's earlier
results may be resumed under the settings asked for now."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from charsuite import results
from charsuite.config import ConfigError, RunConfig
from charsuite.engines import fingerprint_part
from charsuite.environment import measured_on
from charsuite.results import JOB_STATUS
from charsuite.run_records import JobStatus

# Settings that change what a point measures: a run folder holds one combination.
FINGERPRINT_KEYS = ("model", "device", "workload")
# How long and how often a point is sampled changes its interval, not what its median measures.
NOT_FINGERPRINTED = {("workload", "timeout_s"), ("workload", "budget_s"), ("workload", "phases"),
                     ("workload", "predict_latency"),
                     ("workload", "max_repeats"), ("workload", "target_rel_ci"), ("workload", "repeat_time_s")}


# Keys added after runs were recorded: at their default they change nothing measured, so a
# folder recorded before they existed still resumes.
LATER_DEFAULTS = {("workload", "mode"): "eager", ("workload", "prefill_chunk"): None, ("model", "path"): None,
                  ("model", "quant"): None, ("model", "gguf"): None}


def fingerprint(run: RunConfig) -> dict[str, Any]:
    raw = run.raw
    out = {}
    for section in FINGERPRINT_KEYS:
        for k, v in (raw.get(section) or {}).items():
            if (section, k) in LATER_DEFAULTS and LATER_DEFAULTS[(section, k)] == v:
                continue
            if (section, k) not in NOT_FINGERPRINTED and not (section == "model" and k == "sizes"):
                out[f"{section}.{k}"] = v
    out["model.hf_config"] = run.model.hf_config
    out.update(fingerprint_part(raw["engine"]))  # the engine's name and settings, where not the default
    return out


def fingerprint_id(fp: dict[str, Any]) -> str:
    """A short, stable name for a fingerprint, written on every result line."""
    return hashlib.sha1(json.dumps(fp, sort_keys=True, default=str).encode()).hexdigest()[:12]


def check_resumable(run_dir: Path, run: RunConfig) -> None:
    try:
        previous = results.read_json(run_dir / results.RUN, dict)
        if previous is not None and not isinstance(previous.get("fingerprint") or {}, dict):
            raise ValueError("its fingerprint is not an object")
    except (OSError, ValueError, RecursionError):
        raise ConfigError(f"{run_dir / results.RUN} is unreadable (truncated?), so the results there cannot be "
                          "resumed safely; pass resume=false (they move aside) or hydra.run.dir=NEW_FOLDER") from None
    if not previous or not (run_dir / results.RESULTS).exists():
        return
    old = previous.get("fingerprint") or {}
    new = fingerprint(run)
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if changed:
        k = changed[0]
        raise ConfigError(f"run folder {run_dir} holds results measured with other settings ({k}: "
                          f"{old.get(k)!r} -> {new.get(k)!r}); pass hydra.run.dir=NEW_FOLDER or remove it")


def plan(run: RunConfig) -> dict[str, Any]:
    """What a finished run measured: its fingerprint (the settings of every point) and the points
    asked for (lengths, phases, profiles), which the fingerprint leaves out."""
    raw = run.raw
    return {"fingerprint_id": fingerprint_id(fingerprint(run)), "context": raw["context"],
            "phases": raw["workload"]["phases"], "profile": raw["profile"]}


def finished_job(run: RunConfig, run_dir: Path) -> JobStatus | None:
    """The job status of an earlier run of exactly this plan that ended ok with every point kept, or None."""
    if not run.resume:
        return None
    status = JobStatus.from_dict(results.read_json_or_none(run_dir / JOB_STATUS, dict)
                                 if (run_dir / JOB_STATUS).is_file() else None)
    if status is None or status.status != "ok" or status.plan != json_safe(plan(run)):
        return None
    if status.measured_on not in (None, measured_on()):  # measured elsewhere: never replayed here
        return None
    try:  # and the folder's run.json is this run's (a damaged one is check_resumable's to report)
        recorded = (results.read_json(run_dir / results.RUN, dict) or {}).get("fingerprint_id")
        if recorded != status.plan["fingerprint_id"]:
            return None
    except (OSError, ValueError, RecursionError):
        return None
    points = results.latest(results.read_points(run_dir / results.RESULTS, quiet=True), status.plan["fingerprint_id"])
    again = run.remeasure == "noisy"
    return status if points and all(p.kept and not (again and p.noisy) for p in points.values()) else None


def json_safe(data: Any) -> Any:
    """As it reads back from JSON (tuples as lists), for comparing with what was written."""
    return json.loads(json.dumps(data, default=str))
