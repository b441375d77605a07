"""The 2026 zoo end to end at tiny size: each new family builds, passes the correctness guard,
and sweeps with valid prefill, decode and profile lines that carry its mixers, with >= 98% of
the profiled time attributed and the mixer's own category holding time."""

import json

import pytest

from charsuite import results
from helpers import run_cli

# family -> (its mixers at tiny size, the taxonomy category its recurrent mixer's time lands in)
ZOO_2026 = {
    "qwen3_5": ({"gated_deltanet": 3, "attention": 1}, "linear_attention"),
    "lfm2": ({"short_conv": 2, "attention": 2}, "conv1d"),
    "granitemoehybrid": ({"mamba2": 3, "attention": 1}, "ssm_scan"),
    "falcon_mamba": ({"mamba": 2}, "ssm_scan"),
    "recurrent_gemma": ({"rg_lru": 2, "attention": 1}, "recurrent_scan"),
    "xlstm": ({"mlstm": 2}, "recurrent_scan"),
}


@pytest.mark.slow
@pytest.mark.parametrize("model", list(ZOO_2026))
def test_a_2026_family_sweeps_at_tiny_size(tmp_path, model):
    mixers, category = ZOO_2026[model]
    r = run_cli(f"+model={model}", "model.size=tiny", "context.min=128", "context.max=128", "workload.repeats=1",
                "workload.decode_tokens=2", "profile.enabled=true", "profile.contexts=[128]", "profile.steps=1",
                f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-3000:]
    run = json.loads((tmp_path / results.RUN).read_text())
    assert run["correctness_guard"]["passed"] and run["mixers"] == mixers
    points = results.read_points(tmp_path / results.RESULTS)
    assert sorted((p.phase, p.profiled_phase, p.context) for p in points) == [
        ("decode", None, 128), ("prefill", None, 128), ("profile", "decode", 128), ("profile", "prefill", 128)]
    for p in points:
        assert p.status.value == "ok" and p.mixers == mixers and p.latency_s > 0
    for p in (q for q in points if q.phase == "profile"):
        assert p.breakdown["coverage"] >= 0.98, p.breakdown
        if p.profiled_phase == "prefill":
            assert p.breakdown[category] > 0, p.breakdown
