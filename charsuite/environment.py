"""What run.json records about the machine and software a run measured on."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

ALLOCATOR_VARS = ("MALLOC_", "PYTORCH_CUDA_ALLOC_CONF", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "LD_PRELOAD",
                  "OPENBLAS_", "KMP_", "GOMP_")


SLURM_JOB_ENV = "SLURM_JOB_ID"


def measured_on() -> str:
    """Where a point is measured: the host and how the job was launched ("node7 (slurm)", "vm (local)").
    A resumed run replays only points measured where it runs now: a Slurm job never takes a local run's
    points (another memory limit, another load) as its own, nor one host another's."""
    return f"{socket.gethostname()} ({'slurm' if os.environ.get(SLURM_JOB_ENV) else 'local'})"


def git_revision() -> str | None:
    repo = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def nvidia_driver() -> str | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return pynvml.nvmlSystemGetDriverVersion()
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no NVML on this machine
        return None


def device_name(device) -> str:
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(0)
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        import platform

        return platform.processor() or "cpu"


def describe(worker_env: dict[str, str]) -> dict[str, Any]:
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda,
        "driver": nvidia_driver(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "allocator_env": {k: v for k, v in worker_env.items() if k.startswith(ALLOCATOR_VARS)},
        "git_revision": git_revision(),
    }
