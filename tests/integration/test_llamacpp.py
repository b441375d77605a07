"""engine=llamacpp for real (llama-cpp-python; skipped, and counted as skipped, without it): llama.cpp
computes from the written GGUF the logits transformers computes from the same weights; sweeps of
tiny models write valid lines with llama.cpp's own clock beside the stopwatch; a capped sweep
finds an OOM boundary; quantized weights are smaller in the order their bits say."""

from __future__ import annotations

import json

import pytest
import torch

from charsuite import results
from helpers import compose, run_cli

llama_cpp = pytest.importorskip("llama_cpp", reason="engine=llamacpp needs pip install -e '.[llamacpp]'")
pytestmark = pytest.mark.llamacpp

FAMILIES = ("mamba2", "llama3_2", "qwen2_5", "lfm2")
LLAMA3_ROPE = "+model.sizes.tiny.config.rope_parameters={rope_type:llama3,rope_theta:500000.0,factor:32.0," \
              "low_freq_factor:1.0,high_freq_factor:4.0,original_max_position_embeddings:8192}"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CHARSUITE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _engines(*overrides: str):
    from charsuite.engines import gguf_files
    from charsuite.engines.llamacpp import LlamaCppEngine
    from charsuite.engines.transformers import TransformersEngine

    run = compose(*overrides, "model.size=tiny", "engine=llamacpp", "engine.kv_type=f32")
    path = gguf_files.ensure(run.model)  # built with seed 0, as below: the same weights
    torch.manual_seed(0)
    tf = TransformersEngine(run.model, torch.device("cpu"))
    ll = LlamaCppEngine(run.model, torch.device("cpu"), settings={"name": "llamacpp", "kv_type": "f32"},
                        files={"gguf": str(path)}, threads=1)
    return tf, ll


@pytest.mark.parametrize("overrides", [("+model=mamba2",), ("+model=llama3_2",), ("+model=llama3_2", LLAMA3_ROPE),
                                       ("+model=qwen2_5",), ("+model=lfm2",)],
                         ids=["mamba2", "llama3_2", "llama3_2-llama3-rope", "qwen2_5", "lfm2"])
def test_llamacpp_computes_transformers_logits_from_the_same_weights(overrides):
    tf, ll = _engines(*overrides)
    c = tf.model.config
    rope_freqs = c.hidden_size // c.num_attention_heads // 2 if LLAMA3_ROPE in overrides else 0  # llama.cpp counts it
    assert ll.params == tf.params + rope_freqs and ll.vocab_size == tf.vocab_size
    ids = torch.randint(0, tf.vocab_size, (1, 41), generator=torch.Generator().manual_seed(1))
    expected, _, _ = tf.prefill(ids[:, :40], "last")
    got, cache, _ = ll.prefill(ids[:, :40], "last", reserve=1)
    scale = float(expected.abs().max())
    assert float((expected[:, -1] - got[:, -1]).abs().max()) < 1e-3 * max(1.0, scale)
    expected_step, _, _ = tf.prefill(ids, "last")  # the next token, through llama.cpp's cache
    step, _ = ll.decode_step(ids[:, 40:], cache, 40)
    assert float((expected_step[:, -1] - step[:, -1]).abs().max()) < 1e-3 * max(1.0, scale)
    ll.release()


def _lines(run_dir):
    return [json.loads(line) for line in (run_dir / results.RESULTS).read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_sweeps_write_valid_lines(tmp_path, family):
    run_dir = tmp_path / "run"
    r = run_cli(f"+model={family}", "model.size=tiny", "engine=llamacpp", "context.min=256", "context.max=1K",
                "workload.repeats=2", "workload.max_repeats=4", "workload.decode_tokens=4", f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    lines = _lines(run_dir)
    expected = {(p, n) for p in ("prefill", "decode") for n in (256, 512, 1024)}
    assert {(d["phase"], d["context"]) for d in lines} == expected
    for d in lines:
        assert d["status"] == "ok" and d["engine"] == "llamacpp" and d["quant"] == "f32", d
        assert d["mem"]["weights"] > 0 and d["mem"]["compute_buffer"] > 0
        assert d["mem"]["kv_cache"] > 0 or d["mem"]["ssm_state"] > 0  # what llama.cpp keeps per sequence
        # llama.cpp's own clock runs inside charsuite's: never more than it (5% for the clocks' grain)
        assert 0 < d["engine_latency_s"] <= d["latency_s"] * 1.05, d
    run = json.loads((run_dir / results.RUN).read_text())
    assert run["predicted_max_context"] is None  # the memory model describes transformers, not llama.cpp
    assert run["correctness_guard"]["passed"]


@pytest.mark.slow
def test_a_capped_sweep_finds_the_llamacpp_boundary(tmp_path):
    run_dir = tmp_path / "run"
    # One 8K-token ubatch: the compute buffer (n_ubatch x n_ctx attention scores) puts the boundary near 8K
    r = run_cli("+model=qwen2_5", "model.size=tiny", "engine=llamacpp", "engine.n_batch=8192", "engine.n_ubatch=8192",
                "engine.kv_type=f32", "device.memory_gb=0.30", "context.min=4K", "context.max=64K",
                "context.tolerance=1K", "workload.phases=[prefill]", "workload.repeats=1", "workload.max_repeats=1",
                "workload.warmup=0",
                f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    [s] = json.loads((run_dir / results.SUMMARY).read_text())
    assert s["stop_reason"] == "out of memory", s
    assert s["max_context_ok"] and s["min_context_oom"] - s["max_context_ok"] <= 1024


@pytest.mark.slow
def test_quant_types_shrink_the_weights_in_bit_order(tmp_path):
    weights = {}
    for quant in ("f32", "f16", "q8_0", "q4_0"):
        run_dir = tmp_path / quant
        r = run_cli("+model=qwen2_5", "model.size=tiny", "engine=llamacpp", f"model.quant={quant}",
                    "context.min=128", "context.max=128", "workload.phases=[decode]", "workload.repeats=1",
                    "workload.max_repeats=1", "workload.decode_tokens=2", f"hydra.run.dir={run_dir}")
        assert r.returncode == 0, r.stderr[-3000:]
        [d] = _lines(run_dir)
        assert d["status"] == "ok" and d["quant"] == quant
        weights[quant] = d["mem"]["weights"]
    assert weights["f32"] > weights["f16"] > weights["q8_0"] > weights["q4_0"], weights
    assert 0.45 < weights["f16"] / weights["f32"] < 0.6, weights  # tiny: the f32 norms weigh a little


def test_settings_llamacpp_does_not_take_are_one_line(tmp_path):
    for bad, word in (("workload.mode=compile", "workload.mode=compile"),
                      ("workload.prefill_chunk=64", "workload.prefill_chunk=64"),
                      ("engine.n_gpu_layers=4", "engine.n_gpu_layers=4 on device=cpu")):
        r = run_cli("+model=mamba2", "model.size=tiny", "engine=llamacpp", bad, f"hydra.run.dir={tmp_path / 'r'}",
                    timeout=120)
        assert r.returncode == 2 and word in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
    r = run_cli("+model=zamba2", "model.size=tiny", "engine=llamacpp", f"hydra.run.dir={tmp_path / 'z'}", timeout=120)
    assert r.returncode == 2 and "cannot write zamba2" in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]


@pytest.mark.slow
def test_a_real_gguf_file_runs_as_pretrained_weights(tmp_path):
    from charsuite.engines import gguf_files

    spec = compose("+model=qwen2_5", "model.size=tiny", "engine=llamacpp", "model.quant=q8_0").model
    path = gguf_files.ensure(spec)  # a q8_0 file llama.cpp's quantizer wrote: as a downloaded one would be
    run_dir = tmp_path / "run"
    r = run_cli("+model=qwen2_5", "model.size=tiny", "engine=llamacpp", "model.weights=pretrained",
                f"model.gguf={path}", "context.min=128", "context.max=256", "workload.repeats=1",
                "workload.max_repeats=1", "workload.decode_tokens=2", f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    lines = _lines(run_dir)
    assert len(lines) == 4 and all(d["status"] == "ok" and d["quant"] == "q8_0" for d in lines), lines
    r = run_cli("+model=qwen2_5", "model.size=tiny", "engine=llamacpp", "model.weights=pretrained",
                f"hydra.run.dir={tmp_path / 'none'}", timeout=120)
    assert r.returncode == 2 and "model.gguf=PATH" in r.stderr, r.stderr[-2000:]


def test_what_llamacpp_refuses_is_said_as_such_never_as_oom(tmp_path):
    # issue 31: a quantized KV cache whose block does not divide the head size once ended exit 0, "oom at 64"
    kv = run_cli("+model=qwen2_5", "model.size=tiny", "engine=llamacpp", "engine.kv_type=q8_0", "context.min=64",
                 "context.max=64", f"hydra.run.dir={tmp_path / 'kv'}", timeout=600)
    lines = [ln for ln in kv.stderr.splitlines() if ln.strip()]
    assert kv.returncode == 2 and len(lines) == 1 and "head size 16 is not a multiple" in lines[0], kv.stderr[-2000:]
    bad = tmp_path / "corrupt.gguf"
    bad.write_bytes(b"GGUF" + bytes(range(256)) * 8)  # a header llama.cpp cannot read
    r = run_cli("+model=qwen2_5", "model.size=tiny", "engine=llamacpp", "model.weights=pretrained",
                f"model.gguf={bad}", "context.min=64", "context.max=64", f"hydra.run.dir={tmp_path / 'bad'}",
                timeout=600)
    assert r.returncode in (1, 2) and "llama.cpp refused the model" in r.stderr, r.stderr[-2000:]
    assert "memory" not in r.stderr.lower() and "Traceback" not in r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("family,quant", [(f, q) for f in ("qwen2_5", "mamba2", "llama3_2") for q in ("q8_0", "q4_0")])
def test_quantized_sweeps_run_by_default_with_the_buffer_choice_on_every_line(tmp_path, family, quant):
    # issue 33: on an AMX-INT8 VM every quantized run once died of SIGSEGV in llama.cpp's repacked buffers;
    # engine.repack=auto probes them once and runs without them where they crash
    run_dir = tmp_path / "run"
    r = run_cli(f"+model={family}", "model.size=tiny", "engine=llamacpp", f"model.quant={quant}", "context.min=64",
                "context.max=128", "workload.repeats=2", "workload.max_repeats=3", "workload.decode_tokens=4",
                f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    lines = _lines(run_dir)
    assert len(lines) == 4 and all(d["status"] == "ok" and d["quant"] == quant for d in lines), lines
    assert all(d["impl"]["cpu_buffers"] in ("repacked", "plain") and d["impl"]["cpu_buffers_why"].startswith("auto: ")
               for d in lines)
