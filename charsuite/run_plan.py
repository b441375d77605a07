"""One run's resolved plan: what its "auto" settings became, decided once before any worker starts, written to
run.json (`plan`) and handed down - the driver starts every worker from it, the recorder writes its cap on every
line, the boundary prediction takes its kernel path. Each setting has one resolver, and this is where a run calls
it: the cap (DeviceConfig.memory_limit_bytes), its enforcement (cgroups.resolve_enforcement), the threads
(device.threads, else trackers/load.choose_threads on a CPU), the SSM mixers' path (engines/kernel_paths.resolve),
the engine's files (its prepare())."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from charsuite.config import RunConfig


@dataclass(frozen=True)
class RunPlan:
    engine: str
    memory_limit_bytes: int | None   # the cap enforced on the worker and predicted against (None: none)
    enforcement: str                 # rlimit | cgroup (CUDA: torch's per-process fraction, whatever this says)
    enforcement_reason: str
    threads: int | None              # the worker's compute threads (None: torch's default, a GPU computes)
    threads_reason: str
    kernel_path: str | None          # the SSM mixers' path asked of the engine (reference | kernels); None where
                                     # the engine has no such choice
    engine_files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_threads(run: RunConfig) -> tuple[int | None, str]:
    """device.threads if given; on a CPU the cores other work leaves free now; on a GPU torch's default."""
    if run.device.threads:
        return run.device.threads, "device.threads"
    if run.device.kind == "cpu":
        from charsuite.trackers.load import choose_threads

        return choose_threads()
    return None, "torch's default (the GPU computes)"


def plan_kernel_path(run: RunConfig) -> str | None:
    from charsuite.engines import kernel_paths, spec

    s = spec(run.engine.name)
    if s.own_kernels:
        return "kernels"
    return kernel_paths.resolve(run.model.impl, run.device.kind) if s.mixer_paths else None


def resolve_plan(run: RunConfig) -> RunPlan:
    """The plan of `run` on this machine now (a CPU's free cores are read once, here)."""
    from charsuite.cgroups import resolve_enforcement as enforcement
    from charsuite.engines import engine_class

    how, why = enforcement(run.device.memory_enforcement, run.device.kind)
    n, n_why = plan_threads(run)
    return RunPlan(engine=run.engine.name, memory_limit_bytes=run.device.memory_limit_bytes(), enforcement=how,
                   enforcement_reason=why, threads=n, threads_reason=n_why, kernel_path=plan_kernel_path(run),
                   engine_files=engine_class(run.engine.name).prepare(run))
