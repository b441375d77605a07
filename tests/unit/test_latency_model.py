"""A latency model of the real code (issue 30): the dry-run's ops with their FLOPs, bytes and categories, and a
prediction from the machine's peaks that says its inputs. Exact counts are checked on ops whose cost is known;
the prediction's accuracy is measured, not asserted (the notes give it)."""

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from charsuite.simulate.latency import Roof, phase_latency, roof_of
from charsuite.simulate.op_costs import OpCostRecorder


def test_each_op_has_its_flops_bytes_and_category_and_a_view_moves_nothing():
    with FakeTensorMode():
        a, b = torch.empty(64, 128), torch.empty(128, 32)
        with OpCostRecorder() as rec:
            c = a @ b
            c.t()
            torch.nn.functional.silu(c)
    mm, t, silu = rec.costs.phases["prefill"]
    assert (mm.op, mm.flops, mm.nbytes, mm.category) == ("aten::mm", 2 * 64 * 128 * 32, 4 * (64 * 128 + 128 * 32 +
                                                                                          64 * 32), "gemm")
    assert t.view and t.nbytes == 0 and t.flops == 0
    assert silu.flops == 64 * 32 and silu.nbytes == 2 * 4 * 64 * 32 and not silu.view
    assert rec.costs.totals("prefill") == {"ops": 3, "kernels": 2, "flops": mm.flops + silu.flops,
                                           "bytes": mm.nbytes + silu.nbytes}


def test_a_phase_takes_the_larger_of_compute_and_memory_per_op_plus_its_dispatches():
    with FakeTensorMode():
        a, b = torch.empty(64, 128), torch.empty(128, 32)
        with OpCostRecorder() as rec:
            torch.nn.functional.silu(a @ b)
    roof = Roof(tflops=1e-3, gbs=1.0, dispatch_us=10.0, basis="test")  # 1 GFLOP/s, 1 GB/s
    mm, silu = rec.costs.phases["prefill"]
    p = phase_latency(rec.costs, "prefill", roof)
    expect = max(mm.flops / 1e9, mm.nbytes / 1e9) + max(silu.flops / 1e9, silu.nbytes / 1e9)
    assert p.device_s == pytest.approx(expect) and p.host_s == pytest.approx(2e-5)
    assert p.seconds == pytest.approx(expect + 2e-5) and p.bound == "compute"  # the matmul's 524 us dominate
    assert phase_latency(rec.costs, "prefill", roof, synchronous=False).seconds == pytest.approx(expect)


def test_the_peaks_come_from_the_calibration_else_the_data_sheet_else_nowhere():
    class Dev:
        peak_tflops, peak_bandwidth_gbs = {"float16": 165.2}, 1008.0

    cal = {"measured_at": "t", "matmul_tflops": {"float32": {"large": {"value": 0.2}}},
           "bandwidth": {"triad_gbs": {"value": 9.5}}, "dispatch": {"us_per_op": 3.0}}
    assert roof_of(cal, Dev, "float32") == Roof(0.2, 9.5, 3.0, "calibrated t", loop_us=3.0)
    assert roof_of(None, Dev, "float16") == Roof(165.2, 1008.0, 0.0, "data sheet")
    assert roof_of(None, Dev, "float32") is None
    # a library forward: GPT-2's cached step (1 ms, 100 ops) less its ops at the module stack's 3 us each
    cal["library_dispatch"] = {"seconds": 1e-3, "ops": 100}
    assert roof_of(cal, Dev, "float32").forward_us == pytest.approx(700.0)
    cal["library_dispatch"] = {"seconds": 1e-4, "ops": 100}  # cheaper than its ops: nothing beyond them
    assert roof_of(cal, Dev, "float32").forward_us == 0.0
    # a GPU's data sheet says nothing of its host: the predicting machine's calibration stands in, and says so
    cal.update(measured_at="t", module_dispatch={"us_per_op": 3.0}, library_dispatch={"seconds": 1e-3, "ops": 100})
    gpu = roof_of(None, Dev, "float16", host=cal)
    assert (gpu.tflops, gpu.dispatch_us, gpu.forward_us, gpu.basis) == (165.2, 3.0, pytest.approx(700.0), "data sheet")
    assert "this machine's calibration t" in gpu.host_basis
    assert roof_of(None, Dev, "float16", host=None) == Roof(165.2, 1008.0, 0.0, "data sheet")


def test_each_library_forward_adds_its_glue_to_the_host_and_to_other():
    with FakeTensorMode():
        a = torch.empty(64, 128)
        with OpCostRecorder() as rec:
            torch.nn.functional.silu(a)
    roof = Roof(tflops=1e-3, gbs=1.0, dispatch_us=10.0, basis="test", forward_us=500.0)
    bare = phase_latency(rec.costs, "prefill", roof)
    chunked = phase_latency(rec.costs, "prefill", roof, forwards=4)  # a prefill in four chunks
    assert chunked.host_s == pytest.approx(bare.host_s + 4 * 500e-6)
    assert chunked.by_category["other"] == pytest.approx(2e-3) and "other" not in bare.by_category
    assert chunked.bound == "host" and bare.bound == "memory"


def test_predict_prints_latency_beside_memory_labelled_simulated_with_its_peaks(tmp_path, monkeypatch, capsys):
    import json

    from charsuite import calibrate
    from charsuite.predict import main

    saved = tmp_path / "cpu.json"
    monkeypatch.setattr(calibrate, "saved_path", lambda name: saved)
    assert main(["+model=qwen2_5", "model.size=tiny", "context.min=64", "context.max=128", "latency=true"]) == 0
    assert "latency: no peaks for cpu: run `charsuite calibrate device=cpu`" in capsys.readouterr().out
    saved.write_text(json.dumps({"measured_at": "t", "matmul_tflops": {"float32": {"large": {"value": 0.3}}},
                                 "bandwidth": {"triad_gbs": {"value": 20.0}}, "dispatch": {"us_per_op": 2.0}}))
    assert main(["+model=qwen2_5", "model.size=tiny", "context.min=64", "context.max=128", "latency=true",
                 "format=json"]) == 0
    out = json.loads(capsys.readouterr().out)
    lat = out["latency"]
    assert lat["simulated"] and lat["peaks"]["basis"] == "calibrated t" and "arithmetic is not counted" in lat["gaps"]
    short, long = out["ladder"]  # the latency fields sit in predict's ladder rows (../shared/CONTRACT.md)
    assert 0 < short["prefill_s"] < long["prefill_s"] and short["decode_s_per_token"] > 0 and short["prefill_ops"] > 100
    assert short["latency_bound"] in ("compute", "memory", "host") and sum(short["latency_by_category"].values()) > 0
    assert main(["+model=qwen2_5", "model.size=tiny", "latency=maybe"]) == 2


@pytest.mark.parametrize("whole", [True, False])
def test_gemms_einsums_and_attention_count_their_arithmetic_and_shapes(whole):
    """linear, einsum and SDPA are costed as the mm, bmm and CPU flash kernel ATen runs them as (with autograd on
    or off): 2 m k n; causal SDPA on a square half of 4 H L^2 D, as the CPU's flash kernel runs it; each with the
    (m, k, n) calibrate's grids are looked up by."""
    with FakeTensorMode():
        x, w = torch.empty(3, 10, 16), torch.empty(8, 16)
        a, b = torch.empty(2, 3, 5, 7), torch.empty(2, 3, 11, 7)
        q = torch.empty(1, 4, 32, 16)
        with torch.inference_mode() if whole else torch.no_grad(), OpCostRecorder() as rec:
            torch.nn.functional.linear(x, w)
            torch.einsum("bhln,bhsn->bhls", a, b)
            torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    linear, einsum, sdpa = [(o.mnk, o.flops) for o in rec.costs.phases["prefill"] if o.mnk]
    assert linear == ((30, 16, 8), 2 * 30 * 16 * 8) and einsum == ((30, 7, 11), 2 * 30 * 7 * 11)
    assert sdpa == ((32, 16, 32), 4 * 4 * 32 * 32 * 16 / 2)


def test_a_fresh_large_output_is_a_new_mapping_and_an_in_place_op_is_none():
    with FakeTensorMode():
        big, small = torch.empty(64 * 1024), torch.empty(16)   # 256 KiB and 64 bytes
        with OpCostRecorder() as rec:
            torch.exp(big)
            torch.exp(small)
            big.add_(1)
    fresh, tiny, in_place = rec.costs.phases["prefill"]
    assert (fresh.new_bytes, tiny.new_bytes, in_place.new_bytes) == (4 * 64 * 1024, 0, 0)


def test_calibrated_shapes_allocation_and_loops_price_what_the_peaks_cannot():
    from charsuite.simulate.op_costs import OpCost, OpCosts

    gemm = OpCost("aten::mm", "gemm", 2e9, 0, False, mnk=(1, 4096, 4096))
    exp = OpCost("aten::exp", "other", 0.0, 10**9, False, new_bytes=5 * 10**8)
    step = OpCost("aten::mul", "other", 0.0, 0, False, count=1000)
    costs = OpCosts({"prefill": [gemm, exp, step]})
    roof = Roof(1.0, 10.0, 5.0, "test", grid=(((1, 4096, 4096), 0.02), ((8192, 2048, 4096), 0.5)), loop_us=2.0,
                first_touch_ns=0.2)
    p = phase_latency(costs, "prefill", roof, mapped=True)
    # the GEMV at its measured 0.02 TFLOP/s (not the 1.0 peak), carrying its own dispatch; the exp's traffic plus
    # the first touch of its 0.5 GB fresh output; the loop's thousand steps at the tight loop's 2 us, not 5
    assert p.device_s == pytest.approx(2e9 / 0.02e12 + 0.1 + 5e8 * 0.2e-9)
    assert p.host_s == pytest.approx(5e-6 + 1000 * 2e-6)
    assert phase_latency(costs, "prefill", roof).device_s == pytest.approx(2e9 / 0.02e12 + 0.1)  # decode: no maps


def test_a_folded_loop_counts_every_step_it_stands_for():
    from charsuite.simulate.folds import record_scan_steps

    rec = OpCostRecorder()
    record_scan_steps(rec, 1, 8, 4, torch.float32, torch.float32, steps=99)
    steps = rec.costs.phases["prefill"]
    assert len(steps) == 9 and all(o.count == 99 for o in steps)  # transformers' nine dispatches a step
    assert rec.costs.totals("prefill")["ops"] == 9 * 99 and sum(not o.view for o in steps) == 3


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_folded_rg_lru_loop_counts_the_ops_the_real_loop_dispatches_a_step(dtype):
    from collections import Counter

    from torch.utils._python_dispatch import TorchDispatchMode
    from transformers.models.recurrent_gemma.modeling_recurrent_gemma import RecurrentGemmaRglru

    from charsuite.simulate.folds import record_rnn_steps

    class Seen(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops[func._schema.name] += 1
            return func(*args, **(kwargs or {}))

    def dispatched(steps: int) -> Counter:
        h, g = torch.randn(2, steps, 8, dtype=dtype), torch.rand(2, steps, 8, dtype=dtype)
        with Seen() as seen:
            RecurrentGemmaRglru._rnn_scan(None, h, g, torch.zeros(2, steps, 1, dtype=torch.bool), None)
        return seen.ops

    per_step = dispatched(5) - dispatched(2)  # three steps' worth: the loop's, without what precedes it
    rec = OpCostRecorder()
    record_rnn_steps(rec, 16, dtype, torch.float32, steps=3)
    recorded = Counter()
    for o in rec.costs.phases["prefill"]:
        recorded[o.op] += o.count
    assert recorded == per_step and sum(per_step.values()) == 3 * (6 if dtype == torch.float32 else 9)


def test_an_op_is_classified_in_its_module_and_function_scopes_as_the_profiler_classifies_it():
    from kernels_profile.taxonomy import classify

    rec = OpCostRecorder()
    with FakeTensorMode():
        a = torch.empty(8, 8)
        with rec:
            torch.exp(a)
            with rec.scope("module: model.layers.0.mixer (Mamba2Mixer)"), rec.scope("fn: segment_sum"):
                torch.exp(a)
            with rec.scope("module: lm_head (Linear)"):
                torch.nn.functional.linear(a, a)
    bare, scanned, *head = rec.costs.phases["prefill"]
    head = next(o for o in head if o.mnk is not None)  # the GEMM linear became
    assert bare.category == classify(op="aten::exp") == "elementwise"
    assert scanned.category == classify(op="aten::exp", module="Mamba2Mixer", path="model.layers.0.mixer",
                                        scope="segment_sum") == "ssm_scan"
    assert head.category == "logits"


def test_an_empty_output_costs_a_dispatch_but_moves_nothing():
    with FakeTensorMode():
        with OpCostRecorder() as rec:
            torch.empty(1024, 1024).fill_(1.0)
    made, filled = rec.costs.phases["prefill"]
    assert (made.flops, made.nbytes, made.view) == (0.0, 0, False) and made.new_bytes == 4 * 1024 * 1024
    assert filled.nbytes >= 4 * 1024 * 1024 and rec.costs.totals("prefill")["ops"] == 2  # the write: its own


def test_a_composite_op_is_recorded_as_the_parts_aten_runs_with_the_one_dispatch_python_pays():
    with FakeTensorMode():
        c, b = torch.empty(1, 4, 64, 8, 16), torch.empty(1, 4, 64, 8, 16)
        t = torch.empty(32, 16).t()
        with torch.inference_mode(), OpCostRecorder() as rec:
            torch.einsum("bclhn,bcshn->bclsh", c, b)  # Mamba-2's C^T B: both operands copied into bmm's layout
            t.contiguous()                           # a transposed tensor: a copy
            t.t().contiguous()                       # already contiguous: nothing
    ops = rec.costs.phases["prefill"]
    einsum, *parts = ops[:next(i for i, o in enumerate(ops) if o.op == "aten::contiguous")]
    copies = [o for o in parts if o.op == "aten::clone"]
    bmm = next(o for o in parts if o.op == "aten::bmm")
    assert einsum.op == "aten::einsum" and einsum.nbytes == 0 and not einsum.part and all(o.part for o in parts)
    assert len(copies) == 2 and all(o.nbytes == 2 * 4 * c.numel() for o in copies)
    assert bmm.flops == 2 * 4 * 8 * 64 * 16 * 64 and bmm.nbytes == 4 * (2 * c.numel() + 4 * 8 * 64 * 64)
    assert all(o.view for o in parts if o.op == "aten::_unsafe_view")  # an alias its schema does not declare
    moved = [o for o in ops if o.op == "aten::clone" and o.nbytes == 2 * 4 * 32 * 16]
    assert len(moved) == 1 and rec.costs.totals("prefill")["ops"] == 3  # einsum, contiguous, contiguous
    assert not einsum.host  # its GEMM part is priced at a calibrated rate that carries the dispatch already
    p = phase_latency(rec.costs, "prefill", Roof(1e-3, 1.0, 10.0, "test", grid=(((64, 16, 64), 1e-3),)))
    assert p.host_s == pytest.approx(2 * 10e-6)  # the two contiguous calls; einsum's dispatch rides its bmm


def test_ops_of_the_slow_classes_run_at_their_calibrated_rates():
    from charsuite.calibrate_ops import rates_of
    from charsuite.simulate.op_costs import OpCost, OpCosts

    with FakeTensorMode():
        x, mask = torch.empty(4, 64, 64), torch.ones(64, 64, dtype=torch.bool)
        seq, depthwise, dense = torch.empty(1, 32, 100), torch.empty(32, 1, 4), torch.empty(8, 32, 4)
        with torch.inference_mode(), OpCostRecorder() as rec:
            torch.exp(x.masked_fill(mask, -float("inf")))  # segsum's: an exp over infinities
            torch.exp(x.masked_fill(mask, 0.0))
            torch.cumsum(x, dim=-2)
            torch.nn.functional.conv1d(seq, depthwise, groups=32, padding=3)
            torch.nn.functional.conv1d(seq, dense)
    rated = [(o.op, o.rate) for o in rec.costs.phases["prefill"] if not o.view]
    n = x.numel()
    assert rated == [("aten::masked_fill", ("masked_fill", n)), ("aten::exp", ("exp_infinite", n)),
                     ("aten::masked_fill", ("masked_fill", n)), ("aten::exp", None), ("aten::cumsum", ("cumsum", n)),
                     ("aten::convolution", ("depthwise_conv", 32 * 100)), ("aten::convolution", None)]
    cal = {"op_rates": [{"class": "cumsum", "key": 2**20, "value": 2.0}, {"class": "cumsum", "key": 64, "value": 8.0},
                        {"class": "exp_infinite", "key": "x", "value": 1.0}, {"value": 3.0}]}
    roof = Roof(1.0, 10.0, 0.0, "test", op_rates=rates_of(cal))
    assert roof.op_rates == (("cumsum", 2**20, 2.0), ("cumsum", 64, 8.0))  # malformed rows left out
    costs = OpCosts({"prefill": [OpCost("aten::cumsum", "ssm_scan", 0.0, 10**9, False, rate=("cumsum", 2**19)),
                                 OpCost("aten::exp", "ssm_scan", 0.0, 10**9, False, rate=("exp_infinite", 2**19))]})
    # the cumsum at the nearest measured key's 2 GB/s; the exp's class unmeasured: the triad's 10 GB/s
    assert phase_latency(costs, "prefill", roof).device_s == pytest.approx(0.5 + 0.1)


def test_a_fresh_output_faults_on_top_of_a_gemm_that_computes():
    from charsuite.simulate.op_costs import OpCost, OpCosts

    gemm = OpCost("aten::bmm", "gemm", 1e12, 10**9, False, mnk=(256, 128, 256), new_bytes=10**9)
    roof = Roof(1.0, 10.0, 0.0, "test", first_touch_ns=0.5)
    # 1 s of compute (over 0.1 s of traffic) and 0.5 s of faults on its 1 GB output: not hidden under the compute
    assert phase_latency(OpCosts({"prefill": [gemm]}), "prefill", roof, mapped=True).device_s == pytest.approx(1.5)


def test_an_embedding_reads_the_rows_it_gathers_not_its_table():
    with FakeTensorMode():
        table, ids = torch.empty(50_000, 64), torch.zeros(1, 3, dtype=torch.long)
        with torch.inference_mode(), OpCostRecorder() as rec:
            torch.nn.functional.embedding(ids, table)
    gathered = next(o for o in rec.costs.phases["prefill"] if o.op == "aten::embedding")
    assert gathered.nbytes == 8 * 3 + 2 * 4 * 3 * 64  # the ids, three rows read and written: not 12.8 MB of table
