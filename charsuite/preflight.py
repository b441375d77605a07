"""What this machine cannot do for a run, said before anything starts (the CLI's pre-check of a
single run, and every job on the machine that runs it): one ConfigError line each."""

from __future__ import annotations

import os

from charsuite.config import ConfigError, RunConfig, physical_memory_bytes


def check_machine(run: RunConfig) -> None:
    """What would fail at every point, said before any point runs."""
    from charsuite.engines import engine_class, kernel_paths

    engine_class(run.engine.name).preflight(run)
    kernel_paths.resolve(run.model.impl, run.device.kind)
    if run.workload.mode == "cudagraph" and run.device.kind != "cuda":
        raise ConfigError(f"workload.mode=cudagraph captures the decode step in a CUDA graph and "
                          f"device={run.device.name} is not a CUDA device; use workload.mode=eager or compile here")
    if run.device.threads:
        cores = len(os.sched_getaffinity(0))
        if run.device.threads > cores:
            raise ConfigError(f"device.threads={run.device.threads} is more than the {cores} cores this process "
                              f"may run on; use at most {cores} (null: the cores other work leaves free)")
    limit = run.device.memory_limit_bytes()
    if run.device.kind == "cpu" and limit and limit > physical_memory_bytes():
        raise ConfigError(f"the memory cap ({limit / 1024**3:.1f} GB) is more than this machine's "
                          f"{physical_memory_bytes() / 1024**3:.1f} GB: it would never bind, and the host would run "
                          "out first; lower device.memory_gb")
    if run.device.memory_enforcement == "cgroup" and run.device.kind == "cpu":
        from charsuite.cgroups import check_available

        check_available()
    if run.device.kind == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"device={run.device.name} is a CUDA profile and this machine has no CUDA GPU; use "
                              "device=cpu here (charsuite.predict answers for GPUs without one)")
