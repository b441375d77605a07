"""run.json carries the plan the worker ran (issue 27), and a line the latency model's prediction (issue 30)."""

from __future__ import annotations

import json

from charsuite.calibrate import read_calibration
from helpers import load_factor, run_cli


def test_run_json_carries_the_plan_the_worker_ran_and_lines_the_predicted_latency(tmp_path):
    """issue 27: the plan's threads, enforcement and kernel path are the worker's. issue 30: workload.predict_latency
    writes the latency model's seconds (labelled by the peaks they rest on) on each ok line, beside the measurement."""
    r = run_cli("+model=mamba2", "model.size=tiny", "context.min=64", "context.max=128", "workload.repeats=1",
                "workload.max_repeats=1", "workload.predict_latency=true", "+device.peak_tflops.float32=0.05",
                "device.peak_bandwidth_gbs=10", f"hydra.run.dir={tmp_path}", timeout=600 * load_factor())
    assert r.returncode == 0, r.stderr[-2000:]
    run = json.loads((tmp_path / "run.json").read_text())
    plan, worker = run["plan"], run["worker"]
    assert plan["threads"] == worker["threads"] and plan["kernel_path"] == "reference"
    assert worker["memory_enforcement"] == (plan["enforcement"] if plan["memory_limit_bytes"] else None)
    assert plan["memory_limit_bytes"] == run["memory_limit_bytes"]
    lines = [json.loads(ln) for ln in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {(d["phase"], d["context"]) for d in lines} == {(p, n) for p in ("prefill", "decode") for n in (64, 128)}
    basis = "calibrated" if read_calibration("cpu") else "data sheet"  # a machine's own calibration comes first
    for d in lines:
        assert d["latency_predicted_s"] > 0 and d["latency_predicted_basis"].startswith(basis) and d["latency_s"] > 0
    prefill = {d["context"]: d["latency_predicted_s"] for d in lines if d["phase"] == "prefill"}
    assert prefill[128] > prefill[64]  # twice the tokens, more work: the model sees the lengths
