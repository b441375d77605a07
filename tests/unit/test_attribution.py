"""Attribution of traces: a hand-made GPU-style trace (kernels, launches, correlation
ids, module scopes) and real CPU traces of tiny models profiled from the sweep."""

import json
import subprocess
import sys

import pytest

from helpers import REPO, ev
from kernels_profile.attribute import attribute


def gpu_trace():
    """A Mamba2 mixer step and an attention layer as a GPU trace would record them."""
    return {"traceEvents": [
        ev("module: model.layers.0.mixer (Mamba2Mixer)", "user_annotation", 0, 100),
        ev("module: model.layers.0.mixer.in_proj (Linear)", "user_annotation", 1, 10),
        ev("aten::linear", "cpu_op", 2, 8),
        ev("aten::addmm", "cpu_op", 3, 6),
        ev("cudaLaunchKernel", "cuda_runtime", 4, 2, correlation=11),
        ev("MambaSplitConv1dScanCombinedFn", "cpu_op", 20, 60),
        ev("cudaLaunchKernel", "cuda_runtime", 22, 2, correlation=12),
        ev("cudaLaunchKernel", "cuda_runtime", 30, 2, correlation=13),
        ev("cudaLaunchKernel", "cuda_runtime", 40, 2, correlation=14),
        ev("module: model.layers.1.self_attn (Qwen2Attention)", "user_annotation", 110, 50),
        ev("aten::_scaled_dot_product_flash_attention", "cpu_op", 112, 20),
        ev("cudaLaunchKernel", "cuda_runtime", 114, 2, correlation=15),
        ev("aten::totally_new_op", "cpu_op", 140, 5),
        ev("cudaLaunchKernel", "cuda_runtime", 141, 2, correlation=16),
        # the GPU stream
        ev("sm80_xmma_gemm_f16f16_f16f32_f32_tn_n_tilesize128x128x32", "kernel", 10, 400, tid=7, pid=0, correlation=11),
        ev("void causal_conv1d_fwd_kernel<Causal_conv1d_fwd_kernel_traits<128, 4, true, c10::Half, c10::Half> >", "kernel", 410, 100, tid=7, pid=0, correlation=12),
        ev("_chunk_scan_fwd_kernel_0d1d2d3d", "kernel", 510, 300, tid=7, pid=0, correlation=13),
        ev("_state_passing_fwd_kernel", "kernel", 810, 200, tid=7, pid=0, correlation=14),
        ev("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<64, 128, 64, 4> >", "kernel", 1010, 250, tid=7, pid=0, correlation=15),
        ev("mystery_kernel", "kernel", 1260, 50, tid=7, pid=0, correlation=16),
    ]}


def test_gpu_trace_device_and_host_bases_stay_separate():
    r = attribute(gpu_trace())
    dev, host = r["device"], r["host"]
    assert dev.basis == "device" and host.basis == "host"
    us = {k: round(v * 1e6) for k, v in dev.categories.items() if v}
    assert us == {"gemm": 400, "conv1d": 100, "ssm_scan": 500, "attention": 250, "other": 50}
    assert dev.coverage == pytest.approx(1 - 50 / 1300)
    assert dev.unclassified_top[0][0] == "mystery_kernel"
    # host basis: self time of CPU ops (linear 8-6=2, addmm 6, fused scan Function 60, sdpa 20, new op 5)
    hus = {k: round(v * 1e6) for k, v in host.categories.items() if v}
    assert hus == {"gemm": 8, "ssm_scan": 60, "attention": 20, "other": 5}
    assert dev.total_s != host.total_s  # never summed


def test_cli_reads_any_trace(tmp_path):
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps(gpu_trace()))
    out = subprocess.run([sys.executable, "-m", "kernels_profile", str(path), "--json"], capture_output=True,
                         text=True, cwd=REPO)
    data = json.loads(out.stdout)
    assert data["basis"] == "device" and round(data["categories"]["ssm_scan"] * 1e6) == 500
    assert data["host"]["basis"] == "host"
    bad = subprocess.run([sys.executable, "-m", "kernels_profile", str(tmp_path / "missing.json")],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_steps_are_attributed_apart_and_one_slow_step_does_not_decide_the_shares(tmp_path):
    """Three profiler steps of one GEMM and one scan kernel each; the second step's scan is
    ten times slower (an outlier): the median shares are the other steps', the spread shows it."""
    from kernels_profile.attribute import median_breakdown, per_step, share_spread, split_steps

    events = []
    for k, scan_us in enumerate((100, 1000, 100)):
        t, c = 10_000 * k, 100 * k
        events += [ev(f"ProfilerStep#{k + 1}", "user_annotation", t, 5000),
                   ev("module: model.layers.0.mixer (Mamba2Mixer)", "user_annotation", t + 1, 100),
                   ev("aten::addmm", "cpu_op", t + 2, 6),
                   ev("cudaLaunchKernel", "cuda_runtime", t + 3, 2, correlation=c + 1),
                   ev("MambaSplitConv1dScanCombinedFn", "cpu_op", t + 20, 60),
                   ev("cudaLaunchKernel", "cuda_runtime", t + 22, 2, correlation=c + 2),
                   # kernels may run after the step's host range closed: tied by correlation
                   ev("sm80_xmma_gemm_f16f16", "kernel", t + 6000, 300, tid=7, pid=0, correlation=c + 1),
                   ev("_chunk_scan_fwd_kernel", "kernel", t + 6300, scan_us, tid=7, pid=0, correlation=c + 2)]
    trace = {"traceEvents": events}
    assert len(split_steps(trace)) == 3
    steps = per_step(trace)
    assert [round(b.categories["ssm_scan"] * 1e6) for b in steps] == [100, 1000, 100]
    assert all(round(b.categories["gemm"] * 1e6) == 300 for b in steps)
    med = median_breakdown(steps)
    assert med.basis == "device" and med.categories["ssm_scan"] == pytest.approx(100e-6)
    lo, mid, hi = share_spread(steps)["ssm_scan"]
    assert mid == pytest.approx(0.25) and hi == pytest.approx(1000 / 1300) and lo == mid
    (tmp_path / "t.json").write_text(json.dumps(trace))
    out = subprocess.run([sys.executable, "-m", "kernels_profile", str(tmp_path / "t.json"), "--json"],
                         capture_output=True, text=True, cwd=REPO)
    read = json.loads(out.stdout)
    assert read["steps"] == 3 and read["categories"]["ssm_scan"] == pytest.approx(100e-6)


def test_the_study_grouping_sums_cpu_and_gpu_time_and_keeps_fused_functions_whole(tmp_path):
    r = attribute(gpu_trace())
    study = r["study"]
    assert study.basis == "cpu+gpu"
    us = {k: round(v * 1e6) for k, v in study.categories.items() if v}
    # the fused Function: its 60 us of CPU time plus its conv1d (100) and scan kernels (500), whole;
    # GEMM: linear+addmm CPU (8) and their GEMM kernel (400), plus SDPA's CPU (20) and kernel (250)
    assert us == {"SSM_Scan": 660, "GEMM": 678, "other": 55}
    assert r["device"].categories["conv1d"] > 0  # ours keeps the conv apart from the scan
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps(gpu_trace()))
    out = subprocess.run([sys.executable, "-m", "kernels_profile", str(path), "--json", "--grouping", "study"],
                         capture_output=True, text=True, cwd=REPO)
    data = json.loads(out.stdout)
    assert data["grouping"] == "study" and data["basis"] == "cpu+gpu"
    assert round(data["categories"]["SSM_Scan"] * 1e6) == 660
    text = subprocess.run([sys.executable, "-m", "kernels_profile", str(path), "--grouping", "study"],
                          capture_output=True, text=True, cwd=REPO).stdout
    assert "summed" in text and "SSM_Scan" in text


ELEMENTWISE = ("void at::native::vectorized_elementwise_kernel<4, at::native::exp_kernel_cuda(at::TensorIteratorBase&)"
               "::{lambda()#1}::operator()() const::{lambda(float)#1}, at::detail::Array<char*, 2> >")


def graph_trace():
    """A decode step replayed from a CUDA graph: one cudaGraphLaunch, its kernels carrying Kineto's
    "graph id" and no launching op."""
    return {"traceEvents": [
        ev("module: model.layers.0.mixer (Mamba2Mixer)", "user_annotation", 0, 50),
        ev("cudaGraphLaunch", "cuda_runtime", 1, 2, correlation=21),
        ev(ELEMENTWISE, "kernel", 10, 30, tid=7, pid=0, correlation=21, **{"graph id": 3, "graph node id": 1}),
        ev("_chunk_scan_fwd_kernel", "kernel", 40, 50, tid=7, pid=0, correlation=21, **{"graph id": 3}),
        ev("ampere_sgemm_128x64_tn", "kernel", 90, 20, tid=7, pid=0, correlation=21, **{"graph id": 3}),
    ]}


def eager_companion():
    """The same step run eagerly: each kernel with its op and the scan function's scope."""
    return {"traceEvents": [
        ev("module: model.layers.0.mixer (Mamba2Mixer)", "user_annotation", 0, 100),
        ev("fn: segment_sum", "user_annotation", 1, 20),
        ev("aten::exp", "cpu_op", 2, 10),
        ev("cudaLaunchKernel", "cuda_runtime", 3, 2, correlation=1),
        ev("aten::linear", "cpu_op", 30, 10),
        ev("cudaLaunchKernel", "cuda_runtime", 31, 2, correlation=2),
        ev(ELEMENTWISE, "kernel", 100, 30, tid=7, pid=0, correlation=1),
        ev("ampere_sgemm_128x64_tn", "kernel", 140, 20, tid=7, pid=0, correlation=2),
    ]}


def test_graph_replays_are_classified_by_name_and_by_an_eager_companion(tmp_path):
    from kernels_profile.attribute import learned_categories

    alone = attribute(graph_trace())["device"]
    assert alone.graph_s == pytest.approx(100e-6) and alone.as_dict()["graph_s"] == pytest.approx(100e-6)
    assert round(alone.categories["elementwise"] * 1e6) == 30  # by its own name: no op, no scope
    learned = learned_categories(eager_companion())
    assert learned[ELEMENTWISE] == "ssm_scan"  # eagerly it runs inside the scan function
    paired = attribute(graph_trace(), companion=learned)["device"]
    us = {k: round(v * 1e6) for k, v in paired.categories.items() if v}
    assert us == {"ssm_scan": 80, "gemm": 20}
    graph, eager = tmp_path / "graph.json", tmp_path / "eager.json"
    graph.write_text(json.dumps(graph_trace()))
    eager.write_text(json.dumps(eager_companion()))
    out = subprocess.run([sys.executable, "-m", "kernels_profile", str(graph), "--json", "--companion", str(eager)],
                         capture_output=True, text=True, cwd=REPO)
    assert round(json.loads(out.stdout)["categories"]["ssm_scan"] * 1e6) == 80
    bad = subprocess.run([sys.executable, "-m", "kernels_profile", str(graph), "--companion", str(tmp_path / "no")],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def _in_step(trace: dict) -> dict:
    """The trace inside one profiler step, as torch.profiler's schedule writes it."""
    return {"traceEvents": [ev("ProfilerStep#1", "user_annotation", -1, 1000), *trace["traceEvents"]]}


class GraphDecodeDriver:
    """A worker in cudagraph mode: an eager profile request writes the eager step's trace, any
    other writes the replayed one; it remembers what it was asked."""

    def __init__(self):
        self.asked = []

    def request(self, req):
        from charsuite.records import Reply

        self.asked.append(req.eager)
        trace = eager_companion() if req.eager else graph_trace()
        with open(req.trace_path, "w") as f:
            json.dump(_in_step(trace), f)
        return Reply(latency_s=1e-4, latency_samples_s=[1e-4])


def test_a_graph_replayed_decode_is_profiled_with_its_eager_companion(tmp_path):
    from charsuite.profiling import profile_point
    from charsuite.recorder import Recorder
    from helpers import compose

    run = compose("+model=mamba2", "model.size=tiny", "workload.mode=cudagraph")
    (tmp_path / "profiles").mkdir()
    driver = GraphDecodeDriver()
    point = profile_point(run, driver, Recorder(tmp_path, run, 1), "decode", 256)
    assert driver.asked == [True, False]  # the eager companion first, then the replayed step
    us = {k: round(v * 1e6) for k, v in point.breakdown.items() if isinstance(v, float) and v and k != "coverage"}
    assert us == {"ssm_scan": 80, "gemm": 20}
    plain = GraphDecodeDriver()
    assert profile_point(run, plain, Recorder(tmp_path, run, 1), "prefill", 256) is not None
    assert plain.asked == [False]  # prefill is never graph-replayed: no companion asked
