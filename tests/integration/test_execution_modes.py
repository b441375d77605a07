"""Execution paths through the real CLI: a chunked sweep, a compiled one, and the one-line
refusals (a family that cannot chunk, CUDA graphs without CUDA)."""

import json

import pytest

from charsuite import results


def _one_line_error(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("USDT")]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    return lines[0]


def test_chunked_sweep_records_chunking_and_what_ran(cli, tmp_path):
    run_dir = tmp_path / "chunked"
    r = cli("+model=mamba2", "model.size=tiny", "context.min=160", "context.max=160", "workload.prefill_chunk=64",
            "workload.repeats=2", "workload.max_repeats=2", "workload.decode_tokens=4", f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    points = [p.to_dict() for p in results.read_points(run_dir / results.RESULTS)]
    assert {(p["phase"], p["context"]) for p in points} == {("prefill", 160), ("decode", 160)}  # 2.5 chunks
    for p in points:
        assert p["status"] == "ok" and p["prefill_chunk"] == 64 and p["mode"] == "eager"
        assert p["engine"] == "transformers" and p["impl"]["mamba2_chunk_scan"] == "pytorch reference"
        assert p["compile_s"] is None and p["mem_predicted"] is None  # the closed form is one-shot only
    run = json.loads((run_dir / results.RUN).read_text())
    chunk = run["correctness_guard"]["chunk"]
    assert chunk["passed"] and chunk["chunk"] == 64 and chunk["max_abs_dlogit"] < 1e-4
    assert run["worker"]["impl"] == points[0]["impl"] and run["worker"]["mode"] == "eager"
    summary = json.loads((run_dir / results.SUMMARY).read_text())
    assert {s["prefill_chunk"] for s in summary} == {64}


def test_a_family_that_cannot_chunk_is_named_in_one_line(cli, tmp_path):
    r = cli("+model=mamba", "model.size=tiny", "context.min=128", "context.max=128", "workload.prefill_chunk=64",
            f"hydra.run.dir={tmp_path / 'x'}", timeout=300)
    line = _one_line_error(r)
    assert "workload.prefill_chunk" in line and "mamba (MambaForCausalLM)" in line
    assert not [p for p in results.read_points(tmp_path / "x" / results.RESULTS) if p.status.value == "ok"]


def test_cudagraph_mode_on_the_cpu_is_refused_before_any_model_is_built(cli, tmp_path):
    r = cli("+model=mamba2", "model.size=tiny", "workload.mode=cudagraph", f"hydra.run.dir={tmp_path / 'x'}",
            timeout=120)
    assert "workload.mode=cudagraph" in _one_line_error(r) and not (tmp_path / "x" / results.RESULTS).exists()


def test_another_mode_gets_a_folder_of_its_own():
    from hydra import compose, initialize_config_dir

    import charsuite  # noqa: F401 - registers the run-folder resolvers
    from charsuite.config import CONF_DIR

    with initialize_config_dir(str(CONF_DIR), version_base=None):
        def run_dir(*overrides):
            cfg = compose("config", ["+model=mamba2", "model.size=tiny", *overrides], return_hydra_config=True)
            return cfg.hydra.run.dir

        assert run_dir() == "runs/mamba2-tiny-float32_cpu"  # the default's folder as before
        assert run_dir("workload.mode=compile", "workload.prefill_chunk=4096") == \
            "runs/mamba2-tiny-float32_cpu_compile_chunk4096"


@pytest.mark.slow
def test_compile_mode_runs_passes_the_guard_and_times_compilation_apart(cli, tmp_path):
    run_dir = tmp_path / "compiled"
    r = cli("+model=qwen2_5", "model.size=tiny", "context.min=64", "context.max=64", "workload.mode=compile",
            "workload.repeats=3", "workload.decode_tokens=4", f"hydra.run.dir={run_dir}", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    points = {p.phase: p.to_dict() for p in results.read_points(run_dir / results.RESULTS)}
    for phase in ("prefill", "decode"):
        p = points[phase]
        assert p["status"] == "ok" and p["mode"] == "compile" and p["compile_s"] is not None
    # the run's first compilation is the prefill point's first call: timed apart, longer than any sample
    assert points["prefill"]["compile_s"] > max(points["prefill"]["latency_samples_s"])
    # issue 33: every compilation a point triggers is counted, with dynamo's own time, apart from latency;
    # a point whose timed calls recompiled says so and is noisy
    for p in points.values():
        assert p["compiles"] >= 1 and p["compiles_s"] > 0 and p["timed_recompiles"] is not None
        assert (p["timed_recompiles"] > 0) <= bool(p["noisy"] and "recompiled" in p["noise_reason"])
    run = json.loads((run_dir / results.RUN).read_text())
    assert run["correctness_guard"]["passed"] and run["correctness_guard"]["mode"] == "compile"
