"""Synthetic run folders with known answers, for the read side (summary, figures, export):
latencies that follow exact power laws, so exponents and crossovers are known in advance.
Written through the same records and results module the sweep uses; no torch."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

from charsuite import results
from charsuite.analysis.architectures import Layout, mixers
from charsuite.analysis.memory_model import ModelFacts
from charsuite.records import Point, Status

LENGTHS = (1024, 2048, 4096, 8192, 16384)
SSM_LAYOUT = Layout(hidden=768, vocab=50288, intermediate=0, attention_layers=0, kv_heads=0, head_dim=0, q_heads=0,
                    ssm_layers=24, ssm_kind="mamba2", d_inner=1536, d_state=128, d_conv=4, ssm_groups=1,
                    ssm_heads=24, mlp_layers=0, chunk=256)
TFM_LAYOUT = Layout(hidden=896, vocab=151936, intermediate=4864, attention_layers=24, kv_heads=2, head_dim=64,
                    q_heads=14, ssm_layers=0, ssm_kind=None, d_inner=0, d_state=0, d_conv=0, ssm_groups=1,
                    ssm_heads=0, mlp_layers=24, chunk=256)


def write_run(root: Path, model: str, family: str, prefill: Callable[[int], float], decode: Callable[[int], float],
              layout: Layout, model_type: str, params: int, lengths=LENGTHS, oom_at: int | None = None,
              repeats: int = 5, rel_noise: float = 0.0, seed: int = 0, device: str = "cpu",
              memory_limit_bytes: int = 8 * 2**30, profile_shares: dict[str, float] | None = None,
              noisy: dict[tuple[str, int], float] | None = None, setup: dict | None = None,
              suffix: str = "", predicted: dict[str, Callable[[int], float]] | None = None) -> Path:
    """One run folder: prefill and decode lines at `lengths` (samples around the law by
    `rel_noise`), an `oom` line at `oom_at`, profile lines, run.json and summary.json.
    `noisy` {(phase, length): factor}: those points off the law by the factor, flagged noisy.
    `setup`: execution fields every line carries (mode, prefill_chunk, impl); `suffix`: of the folder;
    `predicted` {phase: law}: each line's latency_predicted_s (as workload.predict_latency writes it)."""
    rng = random.Random(seed)
    run_dir = root / f"{model}-x-float32_{device}{suffix}"
    run_dir.mkdir(parents=True)
    base = dict(model=model, size="x", family=family, mixers=mixers(layout), params=params, device=device,
                dtype="float32", batch=1, memory_limit_bytes=memory_limit_bytes, device_name="synthetic",
                **(setup or {}))
    summary = []
    for phase, law in (("prefill", prefill), ("decode", decode)):
        for n in lengths:
            factor = (noisy or {}).get((phase, n))
            samples = [law(n) * (factor or 1) * (1 + rng.gauss(0, rel_noise)) for _ in range(repeats)]
            lat = sorted(samples)[len(samples) // 2]
            flag = dict(noisy=True, noise_reason="contention: synthetic") if factor else dict(noisy=False)
            kv = layout.attention_layers * 2 * layout.kv_heads * layout.head_dim * n * 4
            mem = {"weights": params * 4, "kv_cache": kv, "ssm_state": 10**6 if layout.ssm_layers else 0,
                   "logits": layout.vocab * 4, "activations": 1000 * n, "runtime": 3 * 10**8, "tensor_peak": 1000 * n}
            tokens_per_s = (n if phase == "prefill" else 1) / lat
            guess = (predicted or {}).get(phase)
            results.append(run_dir, Point(**base, phase=phase, context=n, status=Status.ok, latency_s=lat,
                                          latency_samples_s=samples, tokens_per_s=tokens_per_s,
                                          peak_mem_bytes=sum(mem.values()), mem=mem, probe="ladder", **flag,
                                          latency_predicted_s=guess(n) if guess else None,
                                          latency_predicted_basis="data sheet" if guess else None))
        if oom_at:
            results.append(run_dir, Point(**base, phase=phase, context=oom_at, status=Status.oom, probe="ladder",
                                          error="OutOfMemoryError: synthetic"))
        summary.append({**{k: base[k] for k in ("model", "size", "family", "device", "dtype", "batch")},
                        "phase": phase, "max_context_ok": max(lengths), "min_context_oom": oom_at,
                        "probes": len(lengths) + bool(oom_at),
                        "stop_reason": "out of memory" if oom_at else "reached context.max", "failed_at": None})
    for n in (lengths[0], lengths[-1]):
        for phase in ("prefill", "decode"):
            shares = profile_shares or {"gemm": 0.5, "other": 0.5}
            total = (prefill if phase == "prefill" else decode)(n)
            cats = {k: v * total for k, v in shares.items()}
            results.append(run_dir, Point(**base, phase="profile", profiled_phase=phase, context=n, status=Status.ok,
                                          latency_s=total, breakdown={**cats, "time_basis": "host", "coverage": 1.0,
                                                                      "unclassified_top": []},
                                          breakdown_study={"GEMM": 0.6 * total, "other": 0.4 * total,
                                                           "time_basis": "cpu+gpu", "coverage": 0.6,
                                                           "unclassified_top": []}))
    facts = ModelFacts(model_type=model_type, layout=layout, params=params, buffer_bytes=0, dtype="float32")
    config = {"model": {"name": model, "size": "x", "family": family, "dtype": "float32"},
              "device": {"name": device, "peak_tflops": {"float32": 1.0}, "peak_bandwidth_gbs": 50.0},
              "workload": {"batch": 1, "logits": "last"}}
    results.write_json(run_dir / results.RUN, {"config": config, "model_facts": dataclasses.asdict(facts),
                                               "memory_limit_bytes": memory_limit_bytes, "params": params})
    results.write_json(run_dir / results.SUMMARY, summary)
    return run_dir


def ssm_vs_transformer(root: Path, rel_noise: float = 0.0,
                       ssm_noisy: dict[tuple[str, int], float] | None = None) -> Path:
    """An SSM whose prefill is linear (4e-6 s/token) and a Transformer whose prefill is
    quadratic (1e-9 n^2): they cross at exactly n = 4000 tokens. Decode: the SSM is flat
    (2 ms/token), the Transformer grows linearly (1e-6 n s): they cross at n = 2000."""
    batch = root / "batch"
    write_run(batch, "mamba2", "ssm", lambda n: 4e-6 * n, lambda n: 2e-3 + 0 * n, SSM_LAYOUT, "mamba2",
              params=129_000_000, rel_noise=rel_noise, seed=1, noisy=ssm_noisy,
              profile_shares={"ssm_scan": 0.6, "conv1d": 0.1, "gemm": 0.25, "other": 0.05})
    write_run(batch, "qwen2_5", "transformer", lambda n: 1e-9 * n * n, lambda n: 1e-6 * n, TFM_LAYOUT, "qwen2",
              params=494_000_000, oom_at=32768, rel_noise=rel_noise, seed=2,
              profile_shares={"attention": 0.5, "gemm": 0.45, "other": 0.05})
    return batch
