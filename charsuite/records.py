"""The typed records charsuite writes and reads: one dataclass each, shared by writer and readers.

Point        one line of results.jsonl (CONTRACT.md's result fields, and more)
Energy       what the power/thermal trackers add to a point (one home for those fields)
Noise        how far a point's samples can be trusted, and the machine's load while it ran
Measurement  what measuring yields (status, latency, memory, energy): a Reply's and a Point's alike
Breakdown    a profile line's seconds per category, as the line carries it
Reply        what the worker answers the driver over its pipe (its setup and guard parts: run_records.py)

Every field says its unit in its name. Records are plain JSON on disk; `from_dict`
ignores keys it does not know and leaves missing ones None, so an old or partial line
still reads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from charsuite.json_fit import check_types
from charsuite.run_records import GuardVerdict, WorkerInfo

SCHEMA = 1


class Status(str, Enum):
    """How a point ended. `skipped`: a run budget kept it from running (recorded, not dropped)."""

    ok = "ok"
    oom = "oom"
    timeout = "timeout"
    crashed = "crashed"
    error = "error"
    skipped = "skipped"

    def __str__(self) -> str:
        return self.value


def _known(cls, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(kw_only=True)
class Energy:
    """Joules of one timed repetition of a phase, per token, and the thermal state while it ran."""

    energy_j: float | None = None
    energy_per_token_j: float | None = None
    energy_above_idle_j: float | None = None
    avg_power_w: float | None = None
    idle_power_w: float | None = None
    power_monitor: str | None = None
    power_sample_hz: float | None = None
    temperature_max_c: float | None = None
    clock_min_mhz: float | None = None
    throttled: bool | None = None

    def energy(self) -> Energy:
        """The energy fields alone (of a Point, say)."""
        return Energy(**{f.name: getattr(self, f.name) for f in fields(Energy)})

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Energy:
        return cls(**_known(cls, data or {}))


@dataclass(kw_only=True)
class Noise:
    """The spread of a point's samples, the machine's state while they ran, and the verdict."""

    cv: float | None = None                  # standard deviation / mean of the samples
    latency_min_s: float | None = None
    latency_max_s: float | None = None
    median_ci_s: list[float] | None = None   # the median's interval [low, high]
    median_rel_ci: float | None = None       # its larger half-width / the median
    ci_coverage: float | None = None         # its confidence (0.95+ from six samples on)
    noisy: bool | None = None
    noise_reason: str | None = None
    load_avg: float | None = None            # 1-minute load average after the timed calls
    others_busy_cores: float | None = None   # cores other processes kept busy meanwhile
    steal_share: float | None = None         # share of the cores' time a hypervisor stole
    wait_share: float | None = None          # share of our threads' runnable time spent waiting for a core
    others_runnable: float | None = None     # other processes' tasks running or ready to run, on average


@dataclass(kw_only=True)
class Breakdown:
    """Seconds per taxonomy category of one profiled step, on one time basis."""

    categories: dict[str, float]
    time_basis: str
    coverage: float
    unclassified_top: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Flat, as the result line carries it: {category: s, ..., time_basis, coverage, unclassified_top}."""
        return {**self.categories, "time_basis": self.time_basis, "coverage": self.coverage,
                "unclassified_top": self.unclassified_top}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Breakdown | None:
        if not isinstance(data, dict):
            return None
        meta = ("time_basis", "coverage", "unclassified_top")
        cats = {k: float(v) for k, v in data.items() if k not in meta and isinstance(v, (int, float))}
        return cls(categories=cats, time_basis=data.get("time_basis") or "host",
                   coverage=float(data.get("coverage") or 0.0), unclassified_top=data.get("unclassified_top") or [])


@dataclass(kw_only=True)
class Measurement(Energy, Noise):
    """What measuring a point yields, in the worker's reply and on the result line alike."""

    status: Status = Status.ok
    error: str | None = None
    latency_s: float | None = None
    latency_samples_s: list[float] | None = None
    tokens_per_s: float | None = None
    peak_mem_bytes: int | None = None
    peak_mem_source: str | None = None   # what peak_mem_bytes is, where not the default (a memory cgroup's own count)
    peak_rss_bytes: int | None = None    # the worker's VmHWM, kept where peak_mem_bytes is the cgroup's count
    mem: dict[str, int] | None = None
    compile_s: float | None = None   # compile/graph capture: the first call's seconds beyond a timed call
    compiles: int | None = None      # compiled modes: frames torch.compile compiled for the point, recompiles too
    compiles_s: float | None = None  # ... and dynamo's own seconds for them
    timed_recompiles: int | None = None  # ... of them during the timed calls (the point is then noisy)
    engine_latency_s: float | None = None  # the engine's own clock over the same timed calls (llama.cpp's counters)
    stderr_tail: list[str] | None = None

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def kept(self) -> bool:
        """A result a resumed run keeps (ok, oom); error, crashed, timeout and skipped are measured again."""
        return self.status in (Status.ok, Status.oom)

    def measurement(self) -> dict[str, Any]:
        """The measurement's fields (energy included) of a Point or a Reply."""
        return {f.name: getattr(self, f.name) for f in fields(Measurement)}

    def to_dict(self) -> dict[str, Any]:
        """As written: the record's own fields first, then the measurement's, then energy."""
        out = dataclasses.asdict(self)
        out["status"] = self.status.value
        inherited = [f.name for f in fields(Measurement)]
        own = [k for k in out if k not in inherited]
        later = [f.name for f in fields(Noise)] + [f.name for f in fields(Energy)]
        return {k: out[k] for k in own + [k for k in inherited if k not in later] + later}


@dataclass(kw_only=True)
class Point(Measurement):
    """One measured (or recorded-as-not-measured) point: a line of results.jsonl."""

    schema: int = SCHEMA
    model: str
    size: str
    family: str
    mixers: dict[str, int] | None = None  # token mixers present and their layer counts, e.g. {mamba2: 27, attention: 4}
    params: int | None = None
    device: str
    device_name: str | None = None
    dtype: str
    batch: int
    phase: str                       # prefill | decode | profile
    context: int                     # tokens
    logits: str = "last"
    engine: str | None = None        # the inference engine (transformers, llamacpp)
    quant: str | None = None         # llama.cpp's weight type (f32, f16, q8_0, q4_0, q4_k_m); null for transformers
    mode: str | None = None          # eager | compile | cudagraph (null on lines older than the field: eager)
    prefill_chunk: int | None = None  # tokens per prefill chunk; null = one shot
    impl: dict[str, str] | None = None  # what ran, watched: kernel function -> implementation, attention, SDPA backend
    profiled_phase: str | None = None
    mem_predicted: dict[str, int] | None = None
    latency_predicted_s: float | None = None      # workload.predict_latency: the latency model's (simulated)
    latency_predicted_basis: str | None = None    # ... and the peaks it used (calibrated AT | data sheet)
    memory_limit_bytes: int | None = None
    breakdown: dict[str, Any] | None = None
    breakdown_host: dict[str, Any] | None = None
    breakdown_study: dict[str, Any] | None = None  # profile: the reference study's groups, CPU+GPU summed (median)
    breakdown_steps: list[dict[str, float]] | None = None  # profile: each profiled step's seconds per category
    share_spread: dict[str, list[float]] | None = None     # profile: [min, median, max] share per category
    unprofiled_latency_s: float | None = None
    profiler_overhead: float | None = None
    trace: str | None = None
    ops_csv: str | None = None
    probe: str | None = None         # ladder | bisect
    isolation_overhead_s: float | None = None
    guard_max_abs_dlogit: float | None = None
    mfu: float | None = None         # achieved FLOP/s over the peak (analysis/roofline.py; calibrated, else data sheet)
    mbu: float | None = None         # achieved bytes/s over the peak bandwidth, the same way
    peak_basis: str | None = None    # which peaks mfu and mbu divide by: "calibrated ..." or "data sheet"
    threads: int | None = None
    run_id: str | None = None        # the run's fingerprint_id (run.json): lines of another run never mix in
    session: str | None = None       # when the driver that measured it started (UTC): resumed curves say whose
    measured_on: str | None = None   # host (launcher): a resume replays only points measured where it runs
    finished_at: float | None = None

    # A point is the same point when these match; a re-run skips it.
    KEY = ("model", "size", "device", "dtype", "batch", "phase", "context", "logits", "profiled_phase")

    @property
    def key(self) -> tuple:
        return tuple(getattr(self, k) for k in self.KEY)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Point:
        """A line as read from disk; raises ValueError for a line that is not a point."""
        if not isinstance(data, dict):
            raise ValueError(f"not a result line: a JSON {type(data).__name__}")
        check_types(cls, data)
        try:
            return cls(**_known(cls, data))
        except TypeError as exc:  # a required field is missing
            raise ValueError(f"not a result line: {exc}") from None


@dataclass(kw_only=True)
class Reply(Measurement):
    """The worker's answer to one request (setup, guard, measure or profile)."""

    info: WorkerInfo | None = None               # setup: what the worker built and runs with
    guard: GuardVerdict | None = None            # guard: the correctness guard's verdict
    trace_path: str | None = None                # profile: where the trace was written
    worker_s: float | None = None                # seconds the worker spent on the request
    wall_s: float | None = None                  # seconds the driver waited for it

    @property
    def ok(self) -> bool:
        return self.status is Status.ok

    @property
    def isolation_overhead_s(self) -> float | None:
        return self.wall_s - self.worker_s if self.wall_s is not None and self.worker_s is not None else None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        reply = cls(**_known(cls, data))
        reply.info, reply.guard = WorkerInfo.from_dict(reply.info), GuardVerdict.from_dict(reply.guard)
        return reply

    @classmethod
    def failed(cls, status: Status | str, error: str, **kw: Any) -> Reply:
        return cls(status=Status(status), error=error, **kw)
