"""The run configuration: typed dataclasses that are also Hydra's schema, and one compose().

The dataclasses below are registered in Hydra's ConfigStore as the schema of
conf/config.yaml, so OmegaConf itself rejects wrong types and misspelt keys while it
composes; what types cannot say (choices, positive numbers, min <= max) is checked in
each dataclass's __post_init__, which runs when the composed config becomes objects
(compose.py). Every failure is a `ConfigError`: one line naming the bad value and the choices.

Size: one dataclass per config group, together Hydra's one schema; split, the schema would be too.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from charsuite.engines import names as engine_names
from charsuite.engines import spec as engine_spec
from charsuite.errors import ConfigError
from charsuite.units import parse_length

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
DTYPES = ("float32", "float16", "bfloat16")
PHASES = ("prefill", "decode")
LOGITS_MODES = ("last", "all")
MODES = ("eager", "compile", "cudagraph")
IMPLS = ("auto", "reference", "kernels")
ENFORCEMENTS = ("auto", "rlimit", "cgroup")
MALLOC_MODES = ("phase", "env")
FAMILIES = ("ssm", "hybrid", "transformer")
QUANTS = ("f32", "f16", "q8_0", "q4_0", "q4_k_m")  # llama.cpp's weight types charsuite writes or quantizes to
KV_TYPES = ("f32", "f16", "q8_0")
REMEASURE = ("none", "noisy")
__all__ = ["ConfigError", "parse_length"]  # re-exported: callers import them from here too
GROUPS = ("model", "device", "context", "workload", "profile", "engine")


def choices(group: str) -> list[str]:
    """Names of the YAML files in a config group (conf/<group>/*.yaml), sorted."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


# Ceilings on what a user can ask for, so that no value can harm the host or hang the pre-check
# (issue 31: device.threads=1000000 started ~32,000 threads and filled the host's process table).
MAX_THREADS = 1024            # torch's pool per worker; the run itself is held to the cores it may use
MAX_SECONDS = 7 * 24 * 3600   # durations: a week (an int32 millisecond poll overflows at 24.8 days)
MAX_COUNT = 100_000           # repeats, warm-ups, generated tokens, profiled steps
MAX_BATCH = 65_536
MAX_LADDER_POINTS = 256       # lengths one ladder may try (context.factor near 1 once planned millions)
MIN_MEMORY_GB = 1 / 1024      # 1 MiB: below it a cap rounds to nothing (once 0 bytes, i.e. no cap at all)
LLAMA_INT32 = 2**31 - 1       # llama.cpp's batch sizes are int32


def _positive(value: float | int | None, key: str, allow_zero: bool = False, what: str = "integer") -> None:
    if value is not None and not (value > 0 or (allow_zero and value == 0)):
        raise ConfigError(f"{key} must be a {'non-negative' if allow_zero else 'positive'} {what}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite {what}, got {value!r}")


def _at_most(value: float | int | None, key: str, ceiling: float, why: str) -> None:
    if value is not None and value > ceiling:
        raise ConfigError(f"{key}={value!r} is above {ceiling:,g} ({why})")


def _one_of(value: Any, key: str, valid: tuple[str, ...] | list[str]) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {key} {value!r}; choose one of: {', '.join(valid)}")


@dataclass
class ModelConfig:
    """conf/model/FAMILY.yaml: a family and its named sizes (each a transformers config)."""

    name: str = MISSING
    family: str = MISSING
    arch: str = MISSING
    config_class: str = MISSING
    size: str = MISSING
    weights: str = "random"
    trust_remote_code: bool = False
    path: str | None = None  # a local model folder (config.json [+ weights]): its config replaces the size's
    dtype: str = MISSING
    attn_implementation: str | None = None
    impl: str = "auto"  # SSM mixers: the fused kernels, the PyTorch reference, or auto (kernels on CUDA if importable)
    quant: str | None = None  # llama.cpp's weight type (null: the one model.dtype names)
    gguf: str | None = None   # llama.cpp: a real GGUF file, with model.weights=pretrained
    sizes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.size = str(self.size)
        _one_of(self.impl, "model.impl", IMPLS)
        if self.size not in self.sizes:
            raise ConfigError(f"unknown model.size {self.size!r} for {self.name}; "
                              f"choose one of: {', '.join(map(str, self.sizes))}")
        _one_of(self.family, "model.family", FAMILIES)
        _one_of(self.weights, "model.weights", ("random", "pretrained"))
        _one_of(self.dtype, "model.dtype", DTYPES)
        if self.quant is not None:
            _one_of(self.quant, "model.quant", QUANTS)
        if self.gguf is not None and not Path(self.gguf).is_file():
            raise ConfigError(f"model.gguf={self.gguf} is not a file")
        if self.weights == "pretrained" and not self.source and not self.gguf:
            raise ConfigError(f"model.weights=pretrained needs a hub id or model.path, and {self.name} size "
                              f"{self.size} has neither; use weights=random, model.path=FOLDER, or with "
                              "engine=llamacpp a GGUF file: model.gguf=PATH")
        if self.path is not None and not (Path(self.path) / "config.json").is_file():
            raise ConfigError(f"model.path={self.path} is not a model folder (no config.json in it)")

    @property
    def entry(self) -> dict[str, Any]:
        return self.sizes[self.size] or {}

    @property
    def hf_config(self) -> dict[str, Any]:
        return dict(self.entry.get("config") or {})

    @property
    def hub_id(self) -> str | None:
        return self.entry.get("hub_id")

    @property
    def source(self) -> str | None:
        """Where pretrained weights (and, from a folder, the config) come from: model.path, else the hub id."""
        return self.path or self.hub_id

    @property
    def published_params(self) -> float | None:
        return self.entry.get("published_params")


@dataclass
class DeviceConfig:
    """conf/device/PROFILE.yaml: what the device is and what the run may use of it."""

    name: str = MISSING
    kind: str = MISSING
    memory_gb: float | None = None
    memory_share: float | None = None
    threads: int | None = None
    peak_bandwidth_gbs: float | None = None
    peak_tflops: dict[str, float | None] = field(default_factory=dict)
    power_monitor: str = "none"
    dtype: str = "float32"
    context_min: Any = 256
    context_max: Any = 4096
    allocator_env: dict[str, str] = field(default_factory=dict)
    # What one process can really allocate (GB): less the CUDA context, and on unified memory
    # less what the OS keeps. null: memory_gb.
    usable_memory_gb: float | None = None
    usable_memory_source: str | None = None
    # CUDA: the card's compute capability (major.minor); decides what its first call allocates (cuBLAS's workspace)
    compute_capability: float | None = None
    # How the cap is enforced on a CPU worker: RLIMIT_DATA (a catchable allocation failure),
    # a memory cgroup (the kernel's OOM killer, as on a Jetson), or auto (cgroup where possible).
    memory_enforcement: str = "auto"
    # A CPU worker's glibc malloc: `phase` maps large blocks while memory is decided and reuses
    # them in decode steps (charsuite/allocator.py); `env` leaves it to allocator_env.
    malloc: str = "phase"

    def __post_init__(self) -> None:
        _one_of(self.kind, "device.kind", ("cpu", "cuda"))
        _one_of(self.malloc, "device.malloc", MALLOC_MODES)
        _one_of(self.memory_enforcement, "device.memory_enforcement", ENFORCEMENTS)
        _positive(self.usable_memory_gb, "device.usable_memory_gb", what="number of GB or null")
        _positive(self.memory_gb, "device.memory_gb", what="number of GB or null")
        if self.memory_gb is not None and self.memory_gb * 1024**3 >= 2**62:
            raise ConfigError(f"device.memory_gb={self.memory_gb:g} is more memory than a cap can express")
        for key in ("memory_gb", "usable_memory_gb"):
            value = getattr(self, key)
            if value is not None and value < MIN_MEMORY_GB:
                raise ConfigError(f"device.{key}={value:g} is below 1 MiB ({MIN_MEMORY_GB:g} GB), less than any "
                                  "worker needs to start; give the cap in GB, e.g. device.memory_gb=2")
        _positive(self.memory_share, "device.memory_share", what="share of physical memory (0.75 = 75%) or null")
        _at_most(self.memory_share, "device.memory_share", 1, "a share of physical memory is at most 1")
        _positive(self.threads, "device.threads")
        _at_most(self.threads, "device.threads", MAX_THREADS, "a run uses at most the cores it may run on")
        _positive(self.peak_bandwidth_gbs, "device.peak_bandwidth_gbs", what="number of GB/s or null")
        for dtype, tflops in (self.peak_tflops or {}).items():
            _positive(tflops, f"device.peak_tflops.{dtype}", what="number of TFLOP/s or null")

    def memory_limit_bytes(self) -> int | None:
        """The cap enforced on the worker and predicted against, in bytes (None: no cap):
        the usable memory where the profile gives it."""
        if self.usable_memory_gb is not None:
            return int(self.usable_memory_gb * 1024**3)
        if self.memory_gb is not None:
            return int(self.memory_gb * 1024**3)
        if self.kind == "cpu" and self.memory_share:
            return int(physical_memory_bytes() * self.memory_share)
        return None


@dataclass
class ContextConfig:
    """conf/context: the lengths tried (tokens) and the bisection's resolution."""

    min: Any = MISSING
    max: Any = MISSING
    ladder: Any = "geometric"
    factor: float = 2.0
    tolerance: Any = None
    start: str = "ladder"  # ladder: from context.min up; predicted: only up to the dry-run's boundary

    def __post_init__(self) -> None:
        _one_of(self.start, "context.start", ("ladder", "predicted"))
        self.min = parse_length(self.min, "context.min")
        self.max = parse_length(self.max, "context.max")
        if self.min > self.max:
            raise ConfigError(f"context.min ({self.min}) is larger than context.max ({self.max})")
        if isinstance(self.ladder, (list, tuple)):
            self.ladder = [parse_length(v, "context.ladder") for v in self.ladder]
        elif self.ladder != "geometric":
            raise ConfigError(f"unknown context.ladder {self.ladder!r}; choose: geometric, or a list of lengths")
        if not (self.factor > 1 and math.isfinite(self.factor)):
            raise ConfigError(f"context.factor must be a finite number above 1, got {self.factor!r}")
        if self.tolerance is not None:
            self.tolerance = parse_length(self.tolerance, "context.tolerance")
        if not self.lengths():
            raise ConfigError(f"context.ladder has no length within context.min..max ({self.min}..{self.max})")

    def lengths(self) -> list[int]:
        """The ladder of context lengths (tokens), ascending, max included; ConfigError past
        MAX_LADDER_POINTS (stopped while counting, so a factor near 1 never plans millions)."""
        if isinstance(self.ladder, list):
            out = sorted({n for n in self.ladder if self.min <= n <= self.max})
        else:
            out, n = [], self.min
            while n < self.max and len(out) <= MAX_LADDER_POINTS:
                out.append(n)
                n = max(n + 1, int(round(n * self.factor)))
            out.append(self.max)
        if len(out) > MAX_LADDER_POINTS:
            raise ConfigError(f"the context ladder {self.min}..{self.max} would try more than {MAX_LADDER_POINTS} "
                              "lengths; raise context.factor (2 doubles each step) or list fewer in context.ladder")
        return out

    def tolerance_at(self, length: int) -> int:
        """Bisection resolution at a length: the larger of 1% and 256 tokens by default."""
        if self.tolerance is not None:
            return self.tolerance
        return max(256, length // 100)


@dataclass
class WorkloadConfig:
    """conf/workload: what one point runs and how often."""

    phases: list[str] = field(default_factory=lambda: list(PHASES))
    decode_tokens: int = 16
    repeats: int = 3             # timed calls at least
    max_repeats: int = 20        # ... and at most, sampling on until the median's 95% interval
    target_rel_ci: float = 0.05  # is within this share of it, or the timed calls took repeat_time_s
    repeat_time_s: float | None = 10.0
    warmup: int = 1
    batch: int = 1
    logits: str = "last"
    mode: str = "eager"          # eager | compile (torch.compile, static cache) | cudagraph (decode replayed; CUDA)
    prefill_chunk: int | None = None  # prefill in chunks of this many tokens, the cache carried; null = one shot
    timeout_s: float = 900.0
    budget_s: float | None = None
    seed: int = 0
    guard_tolerance: dict[str, float] = field(default_factory=dict)
    predict_latency: bool = False  # each line's latency_predicted_s: the latency model beside the measurement

    def __post_init__(self) -> None:
        if not self.phases:
            raise ConfigError(f"workload.phases is empty; name one or more of: {', '.join(PHASES)}")
        for p in self.phases:
            _one_of(p, "workload.phases entry", PHASES)
        if len(set(self.phases)) < len(self.phases):
            raise ConfigError(f"workload.phases lists a phase twice ({self.phases}); name each once")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"workload.seed must be an integer from 0 to 2**63-1, got {self.seed}")
        for key in ("decode_tokens", "repeats", "max_repeats", "batch"):
            _positive(getattr(self, key), f"workload.{key}")
        for key in ("decode_tokens", "repeats", "max_repeats", "warmup"):
            _at_most(getattr(self, key), f"workload.{key}", MAX_COUNT, "a count no run needs")
        _at_most(self.batch, "workload.batch", MAX_BATCH, "sequences per forward")
        if self.max_repeats < self.repeats:
            raise ConfigError(f"workload.max_repeats ({self.max_repeats}) is less than workload.repeats "
                              f"({self.repeats}); set it to at least that")
        _positive(self.target_rel_ci, "workload.target_rel_ci", what="share (0.05 = 5%)")
        _at_most(self.target_rel_ci, "workload.target_rel_ci", 1, "a share of the median")
        _positive(self.repeat_time_s, "workload.repeat_time_s", what="number of seconds or null")
        _positive(self.warmup, "workload.warmup", allow_zero=True)
        _one_of(self.logits, "workload.logits", LOGITS_MODES)
        _one_of(self.mode, "workload.mode", MODES)
        _positive(self.prefill_chunk, "workload.prefill_chunk", what="number of tokens or null")
        _positive(self.timeout_s, "workload.timeout_s", what="number of seconds")
        _positive(self.budget_s, "workload.budget_s", what="number of seconds or null")
        for key in ("repeat_time_s", "timeout_s", "budget_s"):
            _at_most(getattr(self, key), f"workload.{key}", MAX_SECONDS, "a week; split longer work into runs")
        for name, tol in self.guard_tolerance.items():
            _positive(tol, f"workload.guard_tolerance.{name}", what="number")


@dataclass
class ProfileConfig:
    """conf/profile: operator profiling at chosen context lengths."""

    enabled: bool = False
    contexts: list[Any] = field(default_factory=list)
    steps: int = 3  # profiled steps per point: shares are their median, with the spread

    def __post_init__(self) -> None:
        self.contexts = [parse_length(v, "profile.contexts") for v in self.contexts]
        _positive(self.steps, "profile.steps")
        _at_most(self.steps, "profile.steps", MAX_COUNT, "a count no run needs")


@dataclass
class EngineConfig:
    """conf/engine/NAME.yaml: the inference engine that runs the model, and llama.cpp's own settings."""

    name: str = "transformers"
    n_batch: int = 2048
    n_ubatch: int = 512
    n_gpu_layers: int = 0
    kv_type: str = "f16"
    repack: Any = "auto"  # llama.cpp's repacked CPU buffers: true, false, or auto (probed: llamacpp_repack.py)
    prefill_cache: bool = True  # mamba_ssm: the prefill fills its InferenceParams (as generate) or is a bare forward

    def __post_init__(self) -> None:
        _one_of(self.name, "engine", engine_names())
        reads = engine_spec(self.name).settings
        for f in dataclasses.fields(self):  # a setting only another engine reads is a mistake, said now
            if f.name != "name" and f.name not in reads and getattr(self, f.name) != f.default:
                owners = [n for n in engine_names() if f.name in engine_spec(n).settings]
                raise ConfigError(f"engine.{f.name} is a setting of engine={', '.join(owners) or '?'}; "
                                  f"engine={self.name} does not read it")
        if not isinstance(self.prefill_cache, bool):
            raise ConfigError(f"engine.prefill_cache must be true or false, not {self.prefill_cache!r}")
        for key in ("n_batch", "n_ubatch"):
            _positive(getattr(self, key), f"engine.{key}")
            _at_most(getattr(self, key), f"engine.{key}", LLAMA_INT32, "llama.cpp holds it in an int32")
        _positive(self.n_gpu_layers, "engine.n_gpu_layers", allow_zero=True)
        _at_most(self.n_gpu_layers, "engine.n_gpu_layers", LLAMA_INT32, "llama.cpp holds it in an int32")
        _one_of(self.kv_type, "engine.kv_type", KV_TYPES)
        if self.repack not in (True, False, "auto"):
            raise ConfigError(f"unknown engine.repack {self.repack!r}; choose one of: true, false, auto")


@dataclass
class RunConfig:
    """The whole run: conf/config.yaml's schema."""

    model: ModelConfig | None = None
    device: DeviceConfig = MISSING
    context: ContextConfig = MISSING
    workload: WorkloadConfig = MISSING
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    # When true, a run folder that already holds results continues where it stopped.
    resume: bool = True
    # On resume, what is measured again besides failed points: none, or noisy (the points flagged noisy,
    # once the machine is quieter; the newer line wins, and each line says which session measured it).
    remeasure: str = "none"

    def __post_init__(self) -> None:
        _one_of(self.remeasure, "remeasure", REMEASURE)

    @property
    def raw(self) -> dict[str, Any]:
        """The resolved config as plain data (run.json, fingerprints)."""
        return dataclasses.asdict(self)


SCHEMAS = {"model": ModelConfig, "device": DeviceConfig, "context": ContextConfig, "workload": WorkloadConfig,
           "profile": ProfileConfig, "engine": EngineConfig}
ConfigStore.instance().store(name="charsuite_schema", node=RunConfig)
