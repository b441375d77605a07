"""Helpers the tests share: run the real CLI in a subprocess, and compose a run config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from charsuite.compose import compose as compose_run
from charsuite.config import RunConfig

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600, module: str = "charsuite"):
    """The CLI in a subprocess. A sweep's adaptive repeats stop after 2 s of timed calls unless the test
    says otherwise (the tests are about what a run records, not about tight intervals)."""
    full_env = {**os.environ, **(env or {})}
    plain = not any(a.startswith("-") or a.startswith("workload.repeat_time_s=") for a in args)
    if module == "charsuite" and plain:  # not with flags (--cfg, -m): their output quotes the command line
        args = (*args, "workload.repeat_time_s=2")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def load_factor() -> float:
    """Deadlines scale with the machine's load: 1 when the cores are free, more when they are not."""
    return max(1.0, os.getloadavg()[0] / len(os.sched_getaffinity(0)))


def compose(*overrides: str) -> RunConfig:
    """A composed, validated RunConfig for the given overrides (no Hydra job)."""
    return compose_run(list(overrides))


def ev(name: str, cat: str, ts: float, dur: float, tid: int = 1, pid: int = 1, **args) -> dict:
    """One complete ("X") event of a torch.profiler Chrome trace, for hand-made traces."""
    return {"ph": "X", "name": name, "cat": cat, "ts": ts, "dur": dur, "pid": pid, "tid": tid, "args": args}


def greedy_steps(engine, ids, n: int):
    """The last-position logits (float32) of `n` greedy cached decode steps after a prefill of `ids`, stacked:
    two engines (eager and graph-replayed) of the same weights are compared step by step with it."""
    import torch

    logits, cache, token = engine.prefill(ids, "last", reserve=n + 1)
    steps = []
    for i in range(n):
        logits, cache = engine.decode_step(token, cache, ids.shape[1] + i)
        token = logits[:, -1].argmax(dim=-1, keepdim=True)
        steps.append(logits[:, -1].float().clone())
    return torch.stack(steps)
