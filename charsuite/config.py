"""Typed run configuration, validated once at the door.

Hydra composes YAML into a DictConfig; `to_run_config` turns it into plain dataclasses
and raises `ConfigError` (one line naming the bad value and the valid choices) for
anything the rest of the code would otherwise trip over later.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
DTYPES = ("float32", "float16", "bfloat16")
PHASES = ("prefill", "decode")
LOGITS_MODES = ("last", "all")
FAMILIES = ("ssm", "hybrid", "transformer")


class ConfigError(ValueError):
    """Bad user input; the CLI prints its message as one line and exits 2."""


def choices(group: str) -> list[str]:
    """Names of the YAML files in a config group (conf/<group>/*.yaml), sorted."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


@dataclass(frozen=True)
class ModelConfig:
    name: str
    family: str
    arch: str
    config_class: str
    size: str
    hf_config: dict[str, Any]
    hub_id: str | None
    published_params: float | None
    weights: str = "random"
    trust_remote_code: bool = False
    dtype: str = "float32"
    attn_implementation: str | None = None


@dataclass(frozen=True)
class DeviceConfig:
    name: str
    kind: str
    memory_gb: float | None
    memory_share: float | None
    threads: int | None
    peak_bandwidth_gbs: float | None
    peak_tflops: dict[str, float | None]
    power_monitor: str
    allocator_env: dict[str, str]

    def memory_limit_bytes(self) -> int | None:
        """The cap enforced on the worker, in bytes (None: no cap)."""
        if self.memory_gb is not None:
            return int(self.memory_gb * 1024**3)
        if self.kind == "cpu" and self.memory_share:
            return int(physical_memory_bytes() * self.memory_share)
        return None


@dataclass(frozen=True)
class ContextConfig:
    min: int
    max: int
    ladder: str | list[int]
    factor: float
    tolerance: int | None

    def lengths(self) -> list[int]:
        """The ladder of context lengths (tokens), ascending, max included."""
        if isinstance(self.ladder, list):
            return sorted({n for n in self.ladder if self.min <= n <= self.max})
        out, n = [], self.min
        while n < self.max:
            out.append(n)
            n = max(n + 1, int(round(n * self.factor)))
        out.append(self.max)
        return out

    def tolerance_at(self, length: int) -> int:
        """Bisection resolution at a length: the larger of 1% and 256 tokens by default."""
        if self.tolerance is not None:
            return self.tolerance
        return max(256, length // 100)


@dataclass(frozen=True)
class WorkloadConfig:
    phases: tuple[str, ...]
    decode_tokens: int
    repeats: int
    warmup: int
    batch: int
    logits: str
    timeout_s: float
    budget_s: float | None
    seed: int
    guard_tolerance: dict[str, float]


@dataclass(frozen=True)
class ProfileConfig:
    enabled: bool
    contexts: tuple[int, ...]


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig
    device: DeviceConfig
    context: ContextConfig
    workload: WorkloadConfig
    profile: ProfileConfig
    resume: bool
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


_SUFFIX = re.compile(r"^\s*(\d+)\s*([kKmM]?)\s*$")


def parse_length(value: Any, key: str) -> int:
    """A positive token count: an int, or a string like '8K' (x1024) or '1M'."""
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be a positive integer number of tokens, got {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer():
        n = int(value)
    elif isinstance(value, str) and _SUFFIX.match(value):
        digits, suffix = _SUFFIX.match(value).groups()
        n = int(digits) * {"": 1, "k": 1024, "m": 1024**2}[suffix.lower()]
    else:
        raise ConfigError(f"{key} must be a positive integer number of tokens (e.g. 4096 or 8K), got {value!r}")
    if n <= 0:
        raise ConfigError(f"{key} must be a positive integer number of tokens, got {value!r}")
    return n


def _positive_int(value: Any, key: str, allow_zero: bool = False) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and (value > 0 or (allow_zero and value == 0))
    if not ok:
        bound = "a non-negative" if allow_zero else "a positive"
        raise ConfigError(f"{key} must be {bound} integer, got {value!r}")
    return value


def _one_of(value: Any, key: str, valid: tuple[str, ...] | list[str]) -> str:
    if value not in valid:
        raise ConfigError(f"unknown {key} {value!r}; choose one of: {', '.join(valid)}")
    return value


def _model(m: dict[str, Any]) -> ModelConfig:
    name = m.get("name")
    sizes = m.get("sizes") or {}
    size = str(m.get("size"))
    if size not in sizes:
        raise ConfigError(f"unknown model.size {size!r} for {name}; choose one of: {', '.join(map(str, sizes))}")
    entry = sizes[size]
    weights = _one_of(m.get("weights"), "model.weights", ("random", "pretrained"))
    if weights == "pretrained" and not entry.get("hub_id"):
        raise ConfigError(f"model.weights=pretrained needs a hub id, and {name} size {size} has none; "
                          "use weights=random")
    return ModelConfig(
        name=name,
        family=_one_of(m.get("family"), "model.family", FAMILIES),
        arch=m["arch"],
        config_class=m["config_class"],
        size=size,
        hf_config=dict(entry.get("config") or {}),
        hub_id=entry.get("hub_id"),
        published_params=entry.get("published_params"),
        weights=weights,
        trust_remote_code=bool(m.get("trust_remote_code", False)),
        dtype=_one_of(m.get("dtype"), "model.dtype", DTYPES),
        attn_implementation=m.get("attn_implementation"),
    )


def _device(d: dict[str, Any]) -> DeviceConfig:
    kind = _one_of(d.get("kind"), "device.kind", ("cpu", "cuda"))
    mem = d.get("memory_gb")
    if mem is not None and (isinstance(mem, bool) or not isinstance(mem, (int, float)) or mem <= 0):
        raise ConfigError(f"device.memory_gb must be a positive number of GB or null, got {mem!r}")
    threads = d.get("threads")
    if threads is not None:
        _positive_int(threads, "device.threads")
    return DeviceConfig(
        name=d["name"],
        kind=kind,
        memory_gb=float(mem) if mem is not None else None,
        memory_share=d.get("memory_share"),
        threads=threads,
        peak_bandwidth_gbs=d.get("peak_bandwidth_gbs"),
        peak_tflops=dict(d.get("peak_tflops") or {}),
        power_monitor=str(d.get("power_monitor", "none")),
        allocator_env={str(k): str(v) for k, v in (d.get("allocator_env") or {}).items()},
    )


def _context(c: dict[str, Any]) -> ContextConfig:
    lo = parse_length(c.get("min"), "context.min")
    hi = parse_length(c.get("max"), "context.max")
    if lo > hi:
        raise ConfigError(f"context.min ({lo}) is larger than context.max ({hi})")
    ladder = c.get("ladder", "geometric")
    if isinstance(ladder, (list, tuple)):
        ladder = [parse_length(v, "context.ladder") for v in ladder]
    elif ladder != "geometric":
        raise ConfigError(f"unknown context.ladder {ladder!r}; choose: geometric, or a list of lengths")
    factor = c.get("factor", 2)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 1:
        raise ConfigError(f"context.factor must be a number above 1, got {factor!r}")
    tol = c.get("tolerance")
    return ContextConfig(
        min=lo,
        max=hi,
        ladder=ladder,
        factor=float(factor),
        tolerance=parse_length(tol, "context.tolerance") if tol is not None else None,
    )


def _workload(w: dict[str, Any]) -> WorkloadConfig:
    phases = w.get("phases") or []
    if isinstance(phases, str):
        phases = [phases]
    for p in phases:
        _one_of(p, "workload.phases entry", PHASES)
    budget = w.get("budget_s")
    timeout = w.get("timeout_s")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"workload.timeout_s must be a positive number of seconds, got {timeout!r}")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0):
        raise ConfigError(f"workload.budget_s must be a positive number of seconds or null, got {budget!r}")
    return WorkloadConfig(
        phases=tuple(phases),
        decode_tokens=_positive_int(w.get("decode_tokens"), "workload.decode_tokens"),
        repeats=_positive_int(w.get("repeats"), "workload.repeats"),
        warmup=_positive_int(w.get("warmup"), "workload.warmup", allow_zero=True),
        batch=_positive_int(w.get("batch"), "workload.batch"),
        logits=_one_of(w.get("logits"), "workload.logits", LOGITS_MODES),
        timeout_s=float(timeout),
        budget_s=float(budget) if budget is not None else None,
        seed=int(w.get("seed", 0)),
        guard_tolerance={k: float(v) for k, v in (w.get("guard_tolerance") or {}).items()},
    )


def _profile(p: dict[str, Any]) -> ProfileConfig:
    contexts = p.get("contexts") or []
    return ProfileConfig(
        enabled=bool(p.get("enabled", False)),
        contexts=tuple(parse_length(v, "profile.contexts") for v in contexts),
    )


def to_run_config(cfg: DictConfig) -> RunConfig:
    """Validate a composed config and return the typed view the app runs on."""
    if "model" not in cfg or cfg.model is None:
        raise ConfigError(f"no model chosen; add +model=NAME with NAME one of: {', '.join(choices('model'))}")
    try:
        raw = OmegaConf.to_container(cfg, resolve=True)
    except Exception as exc:  # interpolation errors name the key
        raise ConfigError(f"config does not resolve: {str(exc).splitlines()[0]}") from None
    assert isinstance(raw, dict)
    return RunConfig(
        model=_model(raw["model"]),
        device=_device(raw["device"]),
        context=_context(raw["context"]),
        workload=_workload(raw["workload"]),
        profile=_profile(raw.get("profile") or {}),
        resume=bool(raw.get("resume", True)),
        raw={k: v for k, v in raw.items() if k != "hydra"},
    )
