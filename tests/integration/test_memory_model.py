"""The analytic memory model against hand-computed cases and real caches; scaling
exponents, bootstrap crossovers and roofline on hand-made data; the predict CLI."""

import json

import pytest
import torch

from charsuite.analysis.crossover import bootstrap_crossover
from charsuite.analysis.facts import model_facts
from charsuite.analysis.memory_model import max_context
from charsuite.analysis.memory_model import predict as predict_facts
from charsuite.analysis.roofline import flops, shares
from charsuite.analysis.scaling import fit_exponent, local_exponents
from charsuite.engines.transformers import TransformersEngine, cache_bytes, hf_config
from charsuite.measure import measure_phase, random_tokens
from charsuite.trackers.memory import weight_bytes
from helpers import compose

CPU = torch.device("cpu")
ZOO_2026 = ["qwen3_5", "lfm2", "granitemoehybrid", "falcon_mamba", "recurrent_gemma", "xlstm"]


def predict(spec, context, batch=1, logits="last"):
    return predict_facts(model_facts(spec), context, batch, logits)


def test_qwen2_5_kv_cache_by_hand():
    # 24 layers x 2 (K, V) x 2 KV heads x 64 x 1,024 tokens x 2 bytes = 12 MiB in bf16
    run = compose("+model=qwen2_5", "model.size=0.5b", "model.dtype=bfloat16")
    assert predict(run.model, 1024).kv_cache == 24 * 2 * 2 * 64 * 1024 * 2 == 12 * 2**20


def test_mamba2_state_is_constant_in_context_by_hand():
    run = compose("+model=mamba2", "model.size=130m")
    a, b = predict(run.model, 1024), predict(run.model, 65536)
    # 24 layers x (conv (1536 + 2 x 128) x 4 x 4 B + state 24 heads x 64 x 128 x 4 B)
    assert a.ssm_state == b.ssm_state == 24 * ((1536 + 256) * 4 * 4 + 24 * 64 * 128 * 4)
    assert a.kv_cache == 0


@pytest.mark.parametrize("family", ["mamba", "mamba2", "zamba2", "falcon_h1", "bamba", "nemotron_h", "jamba",
                                    "qwen2_5", "llama3_2", "phi3", "tinyllama", "gpt_neo", *ZOO_2026])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_predicted_weights_caches_and_logits_equal_measured(family, dtype):
    run = compose(f"+model={family}", "model.size=tiny", f"model.dtype={dtype}")
    engine = TransformersEngine(run.model, CPU)
    logits, cache, _ = engine.prefill(random_tokens(512, 1, 300, 0, CPU), "all")
    p = predict(run.model, 300, logits="all")
    measured = engine.cache_bytes(cache)  # RecurrentGemma's states are on its modules
    assert p.kv_cache == measured["kv_cache"]
    assert p.ssm_state == measured["ssm_state"]
    assert p.logits == logits.numel() * logits.element_size()
    assert abs(p.weights - engine.weight_bytes()) / engine.weight_bytes() < 0.01


def test_predicted_weights_and_kv_for_130m_class_models():
    for family, size in (("mamba2", "130m"), ("mamba", "130m"), ("gpt_neo", "125m")):
        run = compose(f"+model={family}", f"model.size={size}")
        with torch.device("meta"):
            import transformers

            model = transformers.AutoModelForCausalLM.from_config(hf_config(run.model))
        assert abs(predict(run.model, 512).weights - weight_bytes(model)) / weight_bytes(model) < 0.01


def test_predicted_kv_cache_of_a_130m_class_transformer_equals_measured():
    run = compose("+model=gpt_neo", "model.size=125m")
    _, cache, _ = TransformersEngine(run.model, CPU).prefill(random_tokens(50257, 1, 256, 0, CPU), "last")
    measured = cache_bytes(cache)["kv_cache"]
    assert measured == predict(run.model, 256).kv_cache == 12 * 2 * 12 * 64 * 256 * 4


def test_max_context_is_monotone_in_memory():
    run = compose("+model=qwen2_5", "model.size=0.5b", "model.dtype=float16")
    facts = model_facts(run.model)
    small, big = max_context(facts, 4 * 2**30), max_context(facts, 24 * 2**30)
    assert 0 < small < big
    assert predict(run.model, big).total <= 24 * 2**30 < predict(run.model, big + 1).total


def test_exponents_on_known_power_laws():
    ls = [1024, 2048, 4096, 8192]
    assert fit_exponent(ls, [1e-9 * n**2 for n in ls]) == pytest.approx(2.0)
    assert [round(e, 6) for _, e in local_exponents(ls, [3e-6 * n for n in ls])] == [1.0] * 4


def test_bootstrap_crossover_interval_contains_the_true_crossing():
    import random

    rng = random.Random(1)
    ls = [1024, 2048, 4096, 8192, 16384]
    noisy = lambda f: {n: [f(n) * (1 + rng.gauss(0, 0.03)) for _ in range(5)] for n in ls}  # noqa: E731
    ssm = noisy(lambda n: 4e-6 * n)          # linear
    tfm = noisy(lambda n: 1e-9 * n * n)      # quadratic: equal at n = 4000
    res = bootstrap_crossover(ssm, tfm, n=300)
    assert res["estimate"] == pytest.approx(4000, rel=0.1)
    lo, hi = res["ci95"]
    assert lo <= 4000 <= hi and hi - lo < 2000
    none = bootstrap_crossover({n: [1.0] * 3 for n in ls}, {n: [2.0] * 3 for n in ls}, n=50)
    assert none["estimate"] is None and none["ci95"] is None


def test_roofline_counts_and_shares():
    run = compose("+model=qwen2_5", "model.size=tiny")
    lay = model_facts(run.model).layout
    f = flops(lay, params_body=1000, context=100, batch=1, phase="prefill")
    assert f == 2 * 1000 * 100 + lay.attention_layers * 4 * (100 * 100 / 2) * lay.q_heads * lay.head_dim \
        + 2 * lay.hidden * lay.vocab
    s = shares(flop=2e12, nbytes=1e9, latency_s=1.0, peak_tflops=4.0, peak_bandwidth_gbs=2.0)
    assert s["flops_share"] == pytest.approx(0.5) and s["bandwidth_share"] == pytest.approx(0.5)
    assert shares(1, 1, 1, None, None)["flops_share"] is None


def test_predict_cli(cli):
    # the closed form (the dry-run's CLI path is tests/integration/test_predict_and_doctor.py's)
    r = cli("+model=qwen2_5", "model.size=0.5b", "device=rtx4090", "format=json", "method=analytic",
            module="charsuite.predict", timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["device"] == "rtx4090" and out["predicted_max_context"] > 0
    assert out["ladder"][0]["context"] == 1024 and out["ladder"][0]["kv_cache"] == 24 * 2 * 2 * 64 * 1024 * 2
    bad = cli("+model=qwen2_5", "model.size=7b", module="charsuite.predict", timeout=120)
    assert bad.returncode == 2 and "7b" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


FAMILIES = ["mamba", "mamba2", "zamba2", "falcon_h1", "bamba", "nemotron_h", "jamba", "qwen2_5", "llama3_2", "phi3",
            "tinyllama", "gpt_neo"]


def _transient_ratio(family: str, size: str, context: int) -> float:
    run = compose(f"+model={family}", f"model.size={size}")
    engine = TransformersEngine(run.model, CPU)
    ids = random_tokens(engine.vocab_size, 1, context, 0, CPU)
    r = measure_phase(engine, CPU, "prefill", ids, "last", decode_tokens=1, warmup=0, repeats=1)
    p = predict(run.model, context)
    return (p.total - p.weights) / r.mem["tensor_peak"]


@pytest.mark.parametrize("family", FAMILIES)
def test_predicted_peak_within_15_percent_across_a_ladder(family):
    # the prefill's live-tensor peak above the weights (KV cache, SSM state, logits, activations)
    for context in (256, 1024, 2048):
        assert abs(_transient_ratio(family, "tiny", context) - 1) < 0.15, (family, context)


@pytest.mark.slow
@pytest.mark.parametrize("family,size,context", [("mamba2", "130m", 1024), ("qwen2_5", "0.5b", 1024),
                                                 ("mamba", "130m", 256)])
def test_predicted_peak_for_real_sizes(family, size, context):
    assert abs(_transient_ratio(family, size, context) - 1) < 0.15
