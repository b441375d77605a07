"""Real tiny-model sweeps through the real CLI: one SSM, one hybrid, one Transformer,
each writing valid prefill and decode lines at three lengths."""

import json

import pytest

from charsuite import results
from helpers import run_cli

REQUIRED = ("schema", "model", "size", "family", "params", "device", "device_name", "dtype", "batch", "context",
            "phase", "status", "error", "latency_s", "latency_samples_s", "tokens_per_s", "peak_mem_bytes", "mem",
            "energy_j")
MEM_KEYS = ("weights", "kv_cache", "ssm_state", "logits", "activations")


@pytest.mark.slow
@pytest.mark.parametrize("model,family", [("mamba2", "ssm"), ("zamba2", "hybrid"), ("qwen2_5", "transformer")])
def test_tiny_sweep_writes_valid_points(tmp_path, model, family):
    run_dir = tmp_path / model
    r = run_cli(f"+model={model}", "model.size=tiny", "context.min=64", "context.max=256",
                "workload.repeats=2", "workload.decode_tokens=4", f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    points = [p.to_dict() for p in results.read_points(run_dir / results.RESULTS)]
    assert sorted((p["phase"], p["context"]) for p in points) == sorted(
        (ph, n) for ph in ("prefill", "decode") for n in (64, 128, 256))
    for p in points:
        assert all(k in p for k in REQUIRED), set(REQUIRED) - set(p)
        assert p["status"] == "ok" and p["error"] is None
        assert p["family"] == family and p["params"] > 0
        # at least `repeats`, more while the median's interval is wide (adaptive, up to max_repeats)
        assert 2 <= len(p["latency_samples_s"]) <= 20 and p["latency_s"] > 0
        assert p["median_ci_s"][0] <= p["latency_s"] <= p["median_ci_s"][1] and p["noisy"] in (True, False)
        assert (p["energy_j"] is None) == (p["power_monitor"] == "none")  # null only where nothing measures
        assert all(p["mem"][k] >= 0 for k in MEM_KEYS)
        assert p["mem"]["weights"] > 0 and p["peak_mem_bytes"] > p["mem"]["weights"]
        if p["phase"] == "decode":
            assert p["guard_max_abs_dlogit"] < 1e-3
    by = {(p["phase"], p["context"]): p for p in points}
    if family == "transformer":
        assert by[("prefill", 256)]["mem"]["kv_cache"] > by[("prefill", 64)]["mem"]["kv_cache"] > 0
    else:
        assert by[("prefill", 256)]["mem"]["ssm_state"] == by[("prefill", 64)]["mem"]["ssm_state"] > 0
    run = json.loads((run_dir / results.RUN).read_text())
    assert run["config"]["model"]["name"] == model
    assert run["environment"]["torch"] and run["worker"]["threads"] >= 1
    assert run["correctness_guard"]["passed"] is True
    assert "attn_implementation" in run["worker"] and "ssm_implementation" in run["worker"]
    summary = json.loads((run_dir / results.SUMMARY).read_text())
    assert {s["phase"]: s["max_context_ok"] for s in summary} == {"prefill": 256, "decode": 256}


def test_logits_all_materializes_every_position(tmp_path):
    run_dir = tmp_path / "all"
    r = run_cli("+model=qwen2_5", "model.size=tiny", "context.min=128", "context.max=128", "workload.logits=all",
                "workload.phases=[prefill]", "workload.repeats=1", f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    (p,) = [q.to_dict() for q in results.read_points(run_dir / results.RESULTS)]
    assert p["logits"] == "all" and p["mem"]["logits"] == 128 * 512 * 4


def test_a_second_driver_on_a_busy_run_folder_is_refused(tmp_path):
    import os

    run_dir = tmp_path / "busy"
    run_dir.mkdir()
    held = results.lock(run_dir)  # a driver is running there
    r = run_cli("+model=qwen2_5", "model.size=tiny", f"hydra.run.dir={run_dir}", timeout=120)
    held.close()
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and f"pid {os.getpid()}" in lines[0], r.stderr
    assert not (run_dir / results.RESULTS).exists()


def test_an_empty_phase_list_is_an_error_not_a_no_op(tmp_path):
    r = run_cli("+model=qwen2_5", "model.size=tiny", "workload.phases=[]", f"hydra.run.dir={tmp_path / 'x'}",
                timeout=120)
    assert r.returncode == 2 and "workload.phases is empty" in r.stderr and "Traceback" not in r.stderr
