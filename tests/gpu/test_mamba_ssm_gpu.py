"""engine=mamba_ssm on a CUDA machine (issue 29; marker `gpu`: skipped, and counted skipped, without one or
without mamba-ssm): a sweep on its kernels with the guard, its CUDA-graph decode against its eager decode, a
CUDA OOM caught in the worker, and its dry-run's prefill peak against the CUDA allocator's."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from helpers import compose, greedy_steps

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU"),
              pytest.mark.skipif(importlib.util.find_spec("mamba_ssm") is None, reason="mamba-ssm not installed")]
CUDA = torch.device("cuda") if torch.cuda.is_available() else None
RUN = ["engine=mamba_ssm", "device=h100", "device.usable_memory_gb=null", "model.dtype=float16",
       "workload.repeats=2", "workload.warmup=1"]


def test_a_sweep_runs_on_mamba_ssms_kernels_with_the_guard(cli, tmp_path):
    r = cli("+model=mamba2", "model.size=130m", *RUN, "context.min=1024", "context.max=4096",
            "workload.logits=all", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["worker"]["engine"] == "mamba_ssm"
    assert run["worker"]["impl"]["mamba_chunk_scan_combined"] == "mamba-ssm"
    assert run["worker"]["impl"]["causal_conv1d_fn"] == "causal-conv1d"
    points = [json.loads(ln) for ln in (tmp_path / "results.jsonl").read_text().splitlines()]
    ok = [p for p in points if p["status"] == "ok"]
    assert ok and all(p["engine"] == "mamba_ssm" for p in ok)


@pytest.mark.parametrize("family", ["mamba", "mamba2"])
def test_its_graph_decode_follows_its_eager_decode(family):
    from charsuite.engines.mamba_ssm import MambaSsmEngine
    from charsuite.measure import random_tokens

    spec = compose(f"+model={family}", "model.size=tiny", *RUN).model
    eager, graphed = (MambaSsmEngine(spec, CUDA, mode=m) for m in ("eager", "cudagraph"))
    graphed.model.load_state_dict(eager.model.state_dict())
    ids = random_tokens(eager.vocab_size, 1, 64, 0, CUDA)
    assert (greedy_steps(eager, ids, 8) - greedy_steps(graphed, ids, 8)).abs().max().item() < 0.05


def test_cuda_oom_is_caught_in_its_worker():
    from charsuite.driver import WorkerDriver
    from charsuite.worker_requests import Measure

    run = compose("+model=mamba2", "model.size=130m", *RUN, "device.memory_gb=2", "workload.logits=all")
    driver = WorkerDriver(run)
    try:
        assert driver.ensure() is None
        assert driver.request(Measure("prefill", 262144)).status.value == "oom"
        assert driver.request(Measure("prefill", 1024)).ok
    finally:
        driver.retire()


@pytest.mark.parametrize("family", ["mamba", "mamba2"])
def test_its_dry_run_peak_matches_the_cuda_allocator(family):
    from charsuite.engines.mamba_ssm import MambaSsmEngine
    from charsuite.measure import measure_phase, random_tokens
    from charsuite.simulate.dryrun import dry_run

    run = compose(f"+model={family}", "model.size=130m", *RUN)
    engine = MambaSsmEngine(run.model, CUDA)
    for n in (1024, 4096, 16384):
        d = dry_run(run.model, n, logits="all", impl="kernels", device_kind="cuda", engine="mamba_ssm")
        r = measure_phase(engine, CUDA, "prefill", random_tokens(engine.vocab_size, 1, n, 0, CUDA), "all", 1, 0, 1)
        assert abs(d.prefill_peak / r.mem["tensor_peak"] - 1) < 0.05, (family, n, d.prefill_peak, r.mem)
