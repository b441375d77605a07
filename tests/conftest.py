"""Shared helpers: run the real CLI in a subprocess, and build tiny run configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600, module: str = "charsuite"):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@pytest.fixture
def cli():
    return run_cli


def compose(*overrides: str):
    """A composed, validated RunConfig for the given overrides (no Hydra job)."""
    from hydra import compose as hcompose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from charsuite.config import CONF_DIR, to_run_config

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hcompose(config_name="config", overrides=list(overrides))
    GlobalHydra.instance().clear()
    return cfg, to_run_config(cfg)


@pytest.fixture(scope="session")
def tiny_batch(tmp_path_factory):
    """A real CPU batch of three tiny models (SSM, hybrid, Transformer), profiled at two lengths."""
    sweep = tmp_path_factory.mktemp("batch") / "batch"
    r = run_cli("-m", "+model=mamba2,zamba2,qwen2_5", "model.size=tiny", "context.min=128", "context.max=512",
                "workload.repeats=3", "workload.decode_tokens=2", "profile.enabled=true", "profile.contexts=[128,512]",
                f"hydra.sweep.dir={sweep}")
    assert r.returncode == 0, r.stderr[-3000:]
    return sweep
