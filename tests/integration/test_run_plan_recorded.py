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


def test_predict_latency_puts_the_simulated_seconds_beside_each_measured_point(tmp_path):
    """issue 30: workload.predict_latency writes the latency model's seconds (labelled by the peaks they rest on)
    on each ok line; the measurement beside it is untouched (same fingerprint: the folder resumes either way)."""
    r = run_cli("+model=mamba2", "model.size=tiny", "context.min=64", "context.max=128", "workload.repeats=1",
                "workload.max_repeats=1", "workload.predict_latency=true", "+device.peak_tflops.float32=0.05",
                "device.peak_bandwidth_gbs=10", f"hydra.run.dir={tmp_path}", timeout=600 * load_factor())
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(ln) for ln in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {(d["phase"], d["context"]) for d in lines} == {(p, n) for p in ("prefill", "decode") for n in (64, 128)}
    for d in lines:
        assert d["latency_predicted_s"] > 0 and d["latency_predicted_basis"] == "data sheet" and d["latency_s"] > 0
    prefill = {d["context"]: d["latency_predicted_s"] for d in lines if d["phase"] == "prefill"}
    assert prefill[128] > prefill[64]  # twice the tokens, more work: the model sees the lengths
