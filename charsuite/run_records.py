"""The records a run writes beside its result lines (issue 27), typed like them:

WorkerInfo    what a worker built and runs with: its setup reply over the pipe, run.json's `worker`
GuardVerdict  the correctness guard's verdict (cached decode vs a full forward; chunked vs one-shot prefill)
RunRecord     run.json: the resolved config and plan, the model's facts, the environment, the worker, the guard
JobStatus     a batch job's outcome, job_status.json
SlurmJob      Slurm's word on one job (sacct: state, elapsed time, max RSS), in job_status.json and slurm_jobs.json
SlurmJobs     a batch's slurm_jobs.json: whether accounting answered, and every job it submitted

Each is written from its record (`as_dict`) and read back through `from_dict`, which keeps the fields it knows and
drops a field whose JSON does not fit its type (an older, hand-edited or torn file reads as far as it is whole;
a non-finite float is kept where a float goes: a guard's NaN logits are a verdict)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from charsuite.json_fit import fits


class JsonRecord:
    """as_dict / from_dict for a dataclass of JSON values; NESTED names the fields that hold another record."""

    NESTED: ClassVar[dict[str, type]] = {}

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # nested records become their dicts

    @classmethod
    def from_dict(cls, data: Any):
        """The record of `data` (None where it is not an object)."""
        if not isinstance(data, dict):
            return None
        kept = {}
        for f in fields(cls):
            v = data.get(f.name)
            if f.name in cls.NESTED and str(f.type).startswith("list["):  # a list of records: its items that are
                kept[f.name] = [r for r in map(cls.NESTED[f.name].from_dict, v) if r is not None] \
                    if isinstance(v, list) else None
            elif f.name in cls.NESTED:
                kept[f.name] = cls.NESTED[f.name].from_dict(v)
            elif f.name in data and (fits(v, str(f.type)) or (isinstance(v, float) and not math.isfinite(v)
                                                              and "float" in str(f.type))):
                kept[f.name] = v
        return cls(**kept)


@dataclass
class WorkerInfo(JsonRecord):
    engine: str | None = None
    params: int | None = None
    build_s: float | None = None
    resident_bytes: int | None = None    # the worker's resident set after the build
    pid: int | None = None
    threads: int | None = None
    quant: str | None = None
    max_positions: int | None = None     # the model's learned positions (None: no such limit)
    device_name: str | None = None
    power_monitor: str | None = None
    idle_power_w: float | None = None
    malloc: str | None = None            # the allocator mode that took effect (allocator.start)
    memory_enforcement: str | None = None  # how the cap was applied to this worker (rlimit | cgroup)
    attn_implementation: str | None = None
    ssm_implementation: str | None = None
    mode: str | None = None
    impl: dict[str, Any] | None = None   # what the mixers' code calls, watched (engines/provenance.py)
    details: dict[str, Any] | None = None  # the engine's own facts (llama.cpp: its GGUF, batch sizes, build)

    @classmethod
    def of_engine(cls, implementations: dict[str, Any], **known: Any) -> WorkerInfo:
        """An engine's `implementations()` split into the fields every engine has and its own details."""
        own = dict(implementations)
        common = {k: own.pop(k) for k in ("attn_implementation", "ssm_implementation", "mode", "quant") if k in own}
        return cls(**{**common, **known}, details=own or None)


@dataclass
class ChunkVerdict(JsonRecord):
    max_abs_dlogit: float | None = None
    chunk: int | None = None
    length: int | None = None
    passed: bool = False


@dataclass
class GuardVerdict(JsonRecord):
    NESTED: ClassVar[dict[str, type]] = {"chunk": ChunkVerdict}

    max_abs_dlogit: float | None = None
    tolerance: float | None = None
    passed: bool = False
    mode: str | None = None
    chunk: ChunkVerdict | None = None     # with workload.prefill_chunk


@dataclass
class RunRecord(JsonRecord):
    NESTED: ClassVar[dict[str, type]] = {"worker": WorkerInfo, "correctness_guard": GuardVerdict}

    config: dict[str, Any] | None = None          # the resolved config, as composed
    fingerprint: dict[str, Any] | None = None     # what makes two runs' points comparable (fingerprint.py)
    fingerprint_id: str | None = None
    params: int | None = None
    mixers: dict[str, int] | None = None
    memory_limit_bytes: int | None = None
    plan: dict[str, Any] | None = None            # run_plan.RunPlan, as resolved
    model_facts: dict[str, Any] | None = None     # analysis/memory_model.ModelFacts: the read side never imports torch
    predicted_max_context: int | None = None
    environment: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None     # the machine's measured roofline (charsuite.calibrate)
    worker: WorkerInfo | None = None              # after the sweep: what the last worker reported
    correctness_guard: GuardVerdict | None = None

    def section(self, name: str) -> dict[str, Any]:
        """A section of the resolved config ({} where the record has none)."""
        got = (self.config or {}).get(name)
        return got if isinstance(got, dict) else {}


@dataclass
class SlurmJob(JsonRecord):
    job_id: str | None = None                     # `6_0` (array task) or `7`
    state: str | None = None                      # COMPLETED, CANCELLED, TIMEOUT, ... (None: not known yet)
    elapsed_s: int | None = None
    max_rss_bytes: int | None = None              # the largest over the job's steps
    exit_code: str | None = None
    overrides: list[str] | None = None            # the job's Hydra overrides (slurm_jobs.json)
    job_dir: str | None = None                    # its run folder, None where it never opened one


@dataclass
class SlurmJobs(JsonRecord):
    NESTED: ClassVar[dict[str, type]] = {"jobs": SlurmJob}

    accounting: bool = False                      # sacct answered
    jobs: list[SlurmJob] | None = None


@dataclass
class JobStatus(JsonRecord):
    NESTED: ClassVar[dict[str, type]] = {"scheduler": SlurmJob}

    status: str = "failed"                        # ok | failed
    error: str | None = None
    overrides: list[str] | None = None
    summary: list[dict[str, Any]] | None = None   # summary.json's rows (phase_summary.PhaseSummary)
    plan: dict[str, Any] | None = None            # the batch's plan of the job (fingerprint.plan)
    measured_on: str | None = None
    interrupted: bool | None = None
    batch_id: str | None = None
    scheduler: SlurmJob | None = None             # Slurm's word on the job (scheduler.py)
    job: str | None = None                        # the batch report's name for it: its folder under the batch's
