"""run.json carries the plan the worker ran (issue 27): the plan's threads, enforcement and kernel path are the
worker's."""

from __future__ import annotations

import json

import pytest

from helpers import load_factor, run_cli


@pytest.mark.slow
def test_run_json_carries_the_plan_the_worker_ran(tmp_path):
    r = run_cli("+model=mamba2", "model.size=tiny", "context.min=64", "context.max=64", "workload.repeats=2",
                "workload.phases=[prefill]", f"hydra.run.dir={tmp_path}", timeout=600 * load_factor())
    assert r.returncode == 0, r.stderr[-2000:]
    run = json.loads((tmp_path / "run.json").read_text())
    plan, worker = run["plan"], run["worker"]
    assert plan["threads"] == worker["threads"] and plan["kernel_path"] == "reference"
    assert worker["memory_enforcement"] == (plan["enforcement"] if plan["memory_limit_bytes"] else None)
    assert plan["memory_limit_bytes"] == run["memory_limit_bytes"]
