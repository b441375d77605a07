"""Execution paths: chunked prefill against one-shot, what actually ran (provenance, watched),
and how the read side names and compares runs that differ only in how they were run."""

import sys
import types

import pytest
import torch

from charsuite.analysis.setups import bootstrap_speedup, differing, label, setup
from charsuite.config import ConfigError
from charsuite.engines.provenance import REFERENCE, SDPA_BACKENDS, candidates, check_kernels, watch
from charsuite.engines.transformers import TransformersEngine
from charsuite.measure import chunked_matches_one_shot, random_tokens
from charsuite.summary import markdown
from helpers import compose
from synthetic import SSM_LAYOUT, write_run

CPU = torch.device("cpu")


def engine(family, *overrides):
    return TransformersEngine(compose(f"+model={family}", "model.size=tiny", *overrides).model, CPU)


@pytest.mark.parametrize("family", ["mamba2", "zamba2", "falcon_h1", "jamba", "nemotron_h", "qwen2_5", "llama3_2",
                                    "qwen3_5", "lfm2", "granitemoehybrid", "xlstm"])
def test_chunked_prefill_gives_the_one_shot_logits(family):
    delta, chunk, length = chunked_matches_one_shot(engine(family), CPU, 32)
    assert (chunk, length) == (32, 80)
    assert delta < 1e-4, f"{family}: chunked prefill differs from one-shot by {delta:.3g}"


def test_mamba1_cannot_carry_its_state_across_a_multi_token_forward():
    """transformers 5.24's Mamba mixer runs a multi-token cached forward from a zero state
    (the cached recurrent state is not passed to the scan): chunked prefill differs, so a
    run asking for it is refused (driver.check_chunking). If transformers fixes it, this fails."""
    delta, _, _ = chunked_matches_one_shot(engine("mamba"), CPU, 32)
    assert delta > 1e-3


@pytest.mark.parametrize("family", ["falcon_mamba", "recurrent_gemma"])
def test_2026_families_that_cannot_chunk(family):
    """Falcon-Mamba's mixer is Mamba-1's (the same zero-state multi-token forward: 0.18 off);
    RecurrentGemma's recurrent block restarts its conv state on every multi-token forward
    (0.01 off). Both are refused in one line when chunking is asked (driver.check_chunking)."""
    delta, _, _ = chunked_matches_one_shot(engine(family), CPU, 32)
    assert delta > 1e-3


def test_chunked_prefill_keeps_the_last_chunks_logits_and_the_whole_cache():
    e = engine("qwen2_5")
    ids = random_tokens(e.vocab_size, 1, 100, 0, CPU)
    logits, cache, _ = e.prefill(ids, "all", chunk=32)
    assert logits.shape[1] == 4  # 100 = 3 x 32 + 4: the last chunk's positions
    assert cache.get_seq_length() == 100
    _, one_shot_cache, _ = e.prefill(ids, "last")
    assert e.cache_bytes(cache) == e.cache_bytes(one_shot_cache)


def _fake_kernel_module(monkeypatch):
    """A modeling module whose kernel global goes through transformers' own wrapper, with a
    package named mamba_ssm that provides the function (as the real one would on a GPU box)."""
    from transformers.integrations import use_kernel_func_from_hub_with_fallback

    pkg = types.ModuleType("mamba_ssm")

    def fake_scan(x):
        return x * 2

    fake_scan.__module__ = "mamba_ssm.ops.fake"
    pkg.fake_scan = fake_scan
    monkeypatch.setitem(sys.modules, "mamba_ssm", pkg)

    def fake_scan_reference(x):
        return x * 2

    fake_scan_reference.__module__ = "transformers.models.fake.modeling_fake"  # where the reference lives
    modeling = types.SimpleNamespace(fake_scan=use_kernel_func_from_hub_with_fallback("fake_scan", "mamba_ssm")(
        fake_scan_reference))
    return modeling


def _inputs_on_a_supported_device(monkeypatch):
    """transformers >= 5.25 sends inputs on a device the package does not run on (our CPU tensors) to the
    reference; on a GPU box they are CUDA tensors. Let the fake package take CPU inputs as the real one takes
    CUDA ones."""
    from transformers.integrations import hub_kernels

    if hasattr(hub_kernels, "_PACKAGE_SUPPORTED_DEVICES"):
        monkeypatch.setitem(hub_kernels._PACKAGE_SUPPORTED_DEVICES, "mamba_ssm", ("cuda", "cpu"))


def test_provenance_names_the_package_that_ran_not_the_one_installed(monkeypatch):
    _inputs_on_a_supported_device(monkeypatch)
    modeling = _fake_kernel_module(monkeypatch)
    targets = candidates(modeling, ("fake_scan",))
    assert sorted(targets.values()) == [("fake_scan", "mamba-ssm"), ("fake_scan", REFERENCE)]
    with watch(targets, profile_ops=False) as seen:
        modeling.fake_scan(torch.ones(2))
    assert seen.mixers == {"fake_scan": "mamba-ssm"}
    with watch(targets, profile_ops=False) as idle:
        pass
    assert idle.mixers == {}  # nothing is reported that did not run
    check_kernels("kernels", seen.as_impl(), "fake")  # the kernels ran: accepted


def test_impl_kernels_with_the_reference_running_is_a_one_line_error():
    impl = engine("mamba2").observe()
    assert impl and set(impl.values()) == {REFERENCE}
    with pytest.raises(ConfigError) as err:
        check_kernels("kernels", impl, "mamba2")
    assert "PyTorch reference" in str(err.value) and "\n" not in str(err.value)
    check_kernels("auto", impl, "mamba2")


def test_provenance_sees_the_attention_function_and_the_sdpa_backend():
    qwen = engine("qwen2_5").observe()
    assert qwen["attention"] == "sdpa" and qwen["sdpa_backend"] in SDPA_BACKENDS.values()
    assert engine("qwen2_5", "model.attn_implementation=eager").observe() == {"attention": "eager"}
    hybrid = engine("falcon_h1").observe()
    assert hybrid["mamba2_chunk_scan"] == REFERENCE and hybrid["attention"] == "sdpa"


def test_compile_mode_needs_a_static_cache_and_says_so_in_one_line(monkeypatch):
    import charsuite.engines.transformers as module

    def refuse(**kw):
        raise ValueError("no static layer for this layer type")

    # the engine module's own `transformers` (building a model re-registers sys.modules' entry)
    monkeypatch.setattr(module.transformers, "StaticCache", refuse)
    with pytest.raises(ConfigError) as err:
        TransformersEngine(compose("+model=mamba2", "model.size=tiny").model, CPU, mode="compile")
    assert "workload.mode=compile" in str(err.value) and "mamba2" in str(err.value)


def test_cudagraph_mode_is_refused_off_cuda():
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        TransformersEngine(compose("+model=mamba2", "model.size=tiny").model, CPU, mode="cudagraph")


def test_bad_mode_and_chunk_are_config_errors():
    with pytest.raises(ConfigError, match="workload.mode"):
        compose("+model=mamba2", "workload.mode=fast")
    with pytest.raises(ConfigError, match="workload.prefill_chunk"):
        compose("+model=mamba2", "workload.prefill_chunk=0")


def test_series_are_named_by_the_settings_that_differ():
    import pandas as pd

    eager = pd.DataFrame({"logits": ["last"], "mode": ["eager"], "prefill_chunk": [None],
                          "impl": [{"mamba2_chunk_scan": REFERENCE}]})
    compiled = eager.assign(mode=["compile"], prefill_chunk=[4096])
    old = pd.DataFrame({"logits": ["last"]})  # a line older than the fields: eager, one-shot
    s = [setup(eager), setup(compiled), setup(old)]
    assert s[2] == {"logits": "last", "mode": "eager", "chunk": "one-shot", "impl": "-", "engine": "transformers"}
    assert differing(s[:2]) == ["mode", "chunk"]
    assert label(s[1], differing(s[:2])) == "compile, chunk 4K"
    llama = pd.DataFrame({"logits": ["last"], "engine": ["llamacpp"], "quant": ["q8_0"]})  # no mixer path of its own
    assert differing([setup(eager), setup(llama)]) == ["engine"]
    assert [label(x, ["engine"]) for x in (setup(eager), setup(llama))] == ["transformers", "llamacpp q8_0"]


def test_bootstrap_speedup_finds_a_known_ratio():
    fast = {n: [0.5 * n * (1 + d) for d in (-0.02, 0.0, 0.02)] for n in (256, 512, 1024)}
    slow = {n: [1.0 * n * (1 + d) for d in (-0.02, 0.0, 0.02)] for n in (256, 512, 1024, 2048)}
    r = bootstrap_speedup(fast, slow)
    assert r["speedup"] == pytest.approx(2.0) and r["contexts"] == [256, 512, 1024]
    assert r["ci95"][0] <= 2.0 <= r["ci95"][1] and r["ci95"][1] - r["ci95"][0] < 0.2
    assert bootstrap_speedup({1: [1.0]}, {2: [1.0]}) is None
    single = bootstrap_speedup({1: [1.0]}, {1: [3.0]})
    assert single["speedup"] == pytest.approx(3.0) and single["ci95"] is None  # no interval from one sample


def _paths_md(root, runs):
    """A summary over synthetic mamba2 runs, each (folder suffix, latency factor, setup fields): the
    markdown, and the execution-path rows as (phase, compared, speedup)."""
    for suffix, f, fields in runs:
        write_run(root, "mamba2", "ssm", lambda n, f=f: 1e-6 * n * f, lambda n, f=f: 1e-3 * f, SSM_LAYOUT,
                  "mamba2", 130_000_000, suffix=suffix, setup=fields)
    md = markdown([root])
    rows = {tuple(c.strip() for c in ln.strip("|").split("|")[3:6]) for ln in md.splitlines()
            if ln.startswith("| mamba2 | x | cpu |")}
    return md, rows


def test_summary_compares_execution_paths_of_one_model(tmp_path):
    """Two runs of one model, eager and compiled (2x faster in both phases), and a chunked one
    (prefill 1.25x slower): the summary names each pair's speedup, the tried path first."""
    impl = {"impl": {"mamba2_chunk_scan": REFERENCE}}
    md, rows = _paths_md(tmp_path, [(f"_{mode}{chunk or ''}", f, {"mode": mode, "prefill_chunk": chunk, **impl})
                                    for mode, chunk, f in (("eager", None, 1.0), ("compile", None, 0.5),
                                                           ("eager", 1024, 1.25))])
    assert ("prefill", "compile vs eager", "2.00x") in rows and ("decode", "compile vs eager", "2.00x") in rows
    assert ("prefill", "chunk 1K vs one-shot", "0.80x") in rows
    assert "eager, chunk 1K, reference" in md  # the models table's setup column


def test_summary_puts_engines_and_weight_types_side_by_side(tmp_path):
    """One model through transformers, llama.cpp f32 (2x faster) and llama.cpp q8_0 (4x): each
    pair's speedup, the other engine (or the quantized type) named first, whatever transformers'
    mixer path; no memory prediction for llama.cpp runs (the memory model is transformers')."""
    reference = {"impl": {"mamba2_chunk_scan": REFERENCE}}  # transformers' own path; llama.cpp has none
    md, rows = _paths_md(tmp_path, [("_tf", 1.0, {"engine": "transformers", **reference}),
                                    ("_llamacpp", 0.5, {"engine": "llamacpp", "quant": "f32"}),
                                    ("_llamacpp_q8_0", 0.25, {"engine": "llamacpp", "quant": "q8_0"})])
    for phase in ("prefill", "decode"):
        assert (phase, "llamacpp f32 vs transformers", "2.00x") in rows
        assert (phase, "llamacpp q8_0 vs transformers", "4.00x") in rows
        assert (phase, "llamacpp q8_0 vs llamacpp f32", "2.00x") in rows
    models = [ln.strip("|").split("|") for ln in md.splitlines() if ln.startswith("| mamba2 | x | ssm |")]
    llama = [r for r in models if "llamacpp" in r[12]]  # the setup column
    assert len(models) == 3 and len(llama) == 2
    assert all(r[6].strip() == "-" for r in llama)  # "predicted max": none for another engine
    assert all(r[-1].strip() == f"{130_000_000 * 4 / 2**20:,.0f}" for r in models)  # weights as each run held them


def test_a_chunked_prefills_resident_peak_does_not_grow_with_the_prompt():
    """Chunked, the live tensors are one chunk's: the point's resident peak stays put from 4K to
    32K tokens (torch's memory profiler, whose records grow with every chunk's ops, is not run)."""
    from charsuite.measure import measure_phase

    e = engine("mamba2")
    peaks = {}
    for n in (4096, 32768):
        r = measure_phase(e, CPU, "prefill", random_tokens(e.vocab_size, 1, n, 0, CPU), "last", 1, 0, 1, chunk=512)
        assert "tensor_peak" not in r.mem and r.mem["ssm_state"] == 21504
        peaks[n] = r.peak_mem_bytes
    assert peaks[32768] - peaks[4096] < 32 * 2**20, peaks


def test_what_transformers_sends_to_the_reference_is_reported_as_the_reference(monkeypatch):
    # transformers >= 5.25 runs the reference for inputs on a device the package does not run on (a CPU tensor
    # to mamba_ssm), though the package imports: provenance says what ran, not what was installed
    from transformers.integrations import hub_kernels

    modeling = _fake_kernel_module(monkeypatch)
    with watch(candidates(modeling, ("fake_scan",)), profile_ops=False) as seen:
        modeling.fake_scan(torch.ones(2))
    device_aware = "cpu" not in getattr(hub_kernels, "_PACKAGE_SUPPORTED_DEVICES", {}).get("mamba_ssm", ("cpu",))
    assert seen.mixers == {"fake_scan": "pytorch reference" if device_aware else "mamba-ssm"}


def _func_module(func):
    """What kernels' use_kernel_forward_from_hub makes of a function (layer.py `_create_func_module`, kernels
    0.19): an nn.Module instance whose class's forward calls `func` from its closure, with no __closure__ and
    no __wrapped__ of its own. transformers 5.25 wraps its kernel globals so when `kernels` is installed."""

    class Func(torch.nn.Module):
        def forward(self, *args, **kwargs):
            return func(*args, **kwargs)

    return Func()


def test_kernels_func_modules_are_seen_through_by_the_path_map_provenance_and_use_reference(monkeypatch):
    # issue 28: under transformers 5.25 with `kernels` the path map raised, impl=reference kept the kernels
    # and provenance had no code object to watch
    from charsuite.engines import wrappers

    _inputs_on_a_supported_device(monkeypatch)
    plain = _fake_kernel_module(monkeypatch)
    modeling = types.SimpleNamespace(fake_scan=_func_module(plain.fake_scan))
    assert wrappers.reference(modeling.fake_scan).__name__ == "fake_scan_reference"
    assert wrappers.chosen(modeling.fake_scan) is sys.modules["mamba_ssm"].fake_scan
    targets = candidates(modeling, ("fake_scan",))
    assert sorted(targets.values()) == [("fake_scan", "mamba-ssm"), ("fake_scan", REFERENCE)]
    with watch(targets, profile_ops=False) as seen:
        modeling.fake_scan(torch.ones(2))
    assert seen.mixers == {"fake_scan": "mamba-ssm"}
