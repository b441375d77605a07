"""What only a CUDA machine can check (marker `gpu`: skipped, and counted skipped, without
one): a real sweep on the fused kernels, CUDA OOM caught in the worker without a restart,
NVML energy, a device-basis profile that attributes its kernels, and the dry-run's peak
against the CUDA allocator's. Run them with `python -m pytest -m gpu` on a GPU box."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import compose, greedy_steps

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")]
CUDA = torch.device("cuda") if torch.cuda.is_available() else None
SWEEP = ["device=h100", "device.usable_memory_gb=null", "context.min=1024", "context.max=4096",
         "workload.repeats=2", "workload.warmup=1"]


def _points(run_dir):
    return [json.loads(ln) for ln in (run_dir / "results.jsonl").read_text().splitlines()]


def test_a_tiny_sweep_runs_on_the_kernels_with_nvml_energy(cli, tmp_path):
    from charsuite.engines.kernel_paths import kernels_importable

    if not kernels_importable():
        pytest.skip("mamba-ssm / causal-conv1d not installed (pip install -e '.[cuda]')")
    r = cli("+model=mamba2", "model.size=130m", "model.impl=kernels", *SWEEP, f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr
    info = json.loads((tmp_path / "run.json").read_text())["worker"]
    assert info["ssm_implementation"] == "mamba-ssm kernels"
    ok = [p for p in _points(tmp_path) if p["status"] == "ok"]
    assert ok and all(p["energy_j"] is not None and p["energy_j"] > 0 for p in ok)


def test_cuda_oom_is_caught_in_the_worker_without_a_restart():
    from charsuite.driver import WorkerDriver
    from charsuite.worker_requests import Measure

    run = compose("+model=qwen2_5", "model.size=0.5b", *SWEEP, "device.memory_gb=2")
    driver = WorkerDriver(run)
    try:
        assert driver.ensure() is None
        pid = driver.info["pid"]
        assert driver.request(Measure("prefill", 131072)).status.value == "oom"
        assert driver.request(Measure("prefill", 1024)).ok
        assert driver.worker.info["pid"] == pid  # the same process answered both
    finally:
        driver.retire()


def test_a_device_basis_profile_attributes_its_kernels(cli, tmp_path):
    r = cli("+model=mamba2", "model.size=130m", *SWEEP, "profile.enabled=true", "profile.contexts=[1024]",
            "workload.phases=[prefill]", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr
    prof = [p for p in _points(tmp_path) if p.get("breakdown")]
    assert prof and prof[0]["breakdown"]["time_basis"] == "device"
    assert prof[0]["breakdown"]["coverage"] >= 0.98, prof[0]["breakdown"]["unclassified_top"]


@pytest.mark.parametrize("family,size,impl", [("qwen2_5", "0.5b", "reference"), ("mamba2", "130m", "reference"),
                                              ("mamba2", "130m", "kernels"), ("mamba", "130m", "kernels")])
def test_the_dry_run_peak_matches_the_cuda_allocator(family, size, impl):
    from charsuite.engines.kernel_paths import kernels_importable
    from charsuite.engines.transformers import TransformersEngine
    from charsuite.measure import measure_phase, random_tokens
    from charsuite.simulate.dryrun import dry_run

    if impl == "kernels" and not kernels_importable():
        pytest.skip("mamba-ssm / causal-conv1d not installed")
    run = compose(f"+model={family}", f"model.size={size}", "device=h100", f"model.impl={impl}")
    engine = TransformersEngine(run.model, CUDA)
    for n in (1024, 4096, 16384):
        d = dry_run(run.model, n, impl=impl, device_kind="cuda")
        r = measure_phase(engine, CUDA, "prefill", random_tokens(engine.vocab_size, 1, n, 0, CUDA), "last", 1, 0, 1)
        assert abs(d.prefill_peak / r.mem["tensor_peak"] - 1) < 0.05, (family, impl, n, d.prefill_peak, r.mem)


@pytest.mark.parametrize("family", ["mamba2", "qwen2_5", "falcon_h1"])
def test_graph_replayed_decode_follows_eager_decode_step_by_step(family):
    """workload.mode=cudagraph: eight replayed steps give the eager steps' tokens and logits
    (a state the capture's warm-up advanced, or a cache update not in place, shows here)."""
    from charsuite.engines.transformers import TransformersEngine
    from charsuite.measure import decode_matches_forward, random_tokens

    spec = compose(f"+model={family}", "model.size=tiny", "device=h100").model
    eager, graphed = (TransformersEngine(spec, CUDA, mode=m) for m in ("eager", "cudagraph"))
    graphed.model.load_state_dict(eager.model.state_dict())
    assert decode_matches_forward(graphed, CUDA) < 0.1  # the bfloat16 guard tolerance
    ids = random_tokens(eager.vocab_size, 1, 64, 0, CUDA)
    assert (greedy_steps(eager, ids, 8) - greedy_steps(graphed, ids, 8)).abs().max().item() < 0.1


def test_impl_kernels_is_what_runs_when_asked(cli, tmp_path):
    from charsuite.engines.kernel_paths import kernels_importable

    if not kernels_importable():
        pytest.skip("mamba-ssm / causal-conv1d not installed (pip install -e '.[cuda]')")
    from charsuite.engines.transformers import TransformersEngine

    impl = TransformersEngine(compose("+model=mamba2", "model.size=tiny", "device=h100",
                                      "model.impl=kernels").model, CUDA).observe()
    assert impl["mamba2_chunk_scan"] == "mamba-ssm" and impl["causal_conv1d_fn"] == "causal-conv1d"
