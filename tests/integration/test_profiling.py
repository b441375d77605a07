"""Operator profiling from a real sweep: profile lines with a breakdown (the median of three
profiled steps) covering >= 98% of the host time, and the standalone reader reproducing it
from the saved trace."""

import json
import subprocess
import sys

import pytest

from charsuite import results
from helpers import REPO, run_cli


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mamba2", "zamba2", "qwen2_5"])
def test_profiling_from_the_sweep(tmp_path, model):
    run_dir = tmp_path / model
    r = run_cli(f"+model={model}", "model.size=tiny", "context.min=128", "context.max=512", "workload.repeats=1",
                "workload.decode_tokens=2", "profile.enabled=true", "profile.contexts=[128,512]",
                f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [p for p in results.read_points(run_dir / results.RESULTS) if p.phase == "profile"]
    assert sorted((p.profiled_phase, p.context) for p in lines) == [
        ("decode", 128), ("decode", 512), ("prefill", 128), ("prefill", 512)]
    for p in (q.to_dict() for q in lines):
        b = p["breakdown"]
        assert p["status"] == "ok" and b["time_basis"] == "host" and b["coverage"] >= 0.98, b
        assert p["unprofiled_latency_s"] > 0 and p["profiler_overhead"] > 0
        # three profiled steps (profile.steps), each attributed; the line holds their median and spread
        assert len(p["latency_samples_s"]) == 3 and len(p["breakdown_steps"]) == 3
        assert all(lo <= mid <= hi for lo, mid, hi in p["share_spread"].values()) and p["noisy"] in (True, False)
        assert (run_dir / p["trace"]).exists() and (run_dir / p["ops_csv"]).exists()
        cats = {k: v for k, v in b.items() if isinstance(v, float) and k != "coverage"}
        if model == "mamba2" and p["profiled_phase"] == "prefill":
            assert max(cats, key=cats.get) == "ssm_scan"
        if model in ("zamba2", "qwen2_5"):
            assert cats["attention"] > 0
        # the standalone reader reproduces the sweep's breakdown from the saved trace
        out = subprocess.run([sys.executable, "-m", "kernels_profile", str(run_dir / p["trace"]), "--json"],
                             capture_output=True, text=True, cwd=REPO)
        again = json.loads(out.stdout)
        assert again["coverage"] == pytest.approx(b["coverage"])
        assert all(again["categories"][k] == pytest.approx(v) for k, v in cats.items())
