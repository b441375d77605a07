"""A peer tool reads the same trace: HolisticTraceAnalysis's per-kernel device-time totals equal
charsuite's for a GPU-style trace of today's kernel names (categories differ by design; kernel
times must not). CI installs HTA (.ci/run); elsewhere `pip install -e ".[hta]"`."""

import json

import pytest
from test_kernel_names import NAMES, names_trace

from kernels_profile.attribute import attribute

hta_trace_analysis = pytest.importorskip("hta.trace_analysis", reason="HolisticTraceAnalysis is not installed")


def gpu_trace():
    """Every name three times over, with the fields Kineto writes on real kernels (device, stream)
    and one ProfilerStep around it all."""
    trace = names_trace(NAMES * 3)
    for e in trace["traceEvents"]:
        if e["cat"] == "kernel":
            e["args"].update(device=0, stream=7)
    end = max(e["ts"] + e["dur"] for e in trace["traceEvents"])
    trace["traceEvents"].insert(0, {"ph": "X", "name": "ProfilerStep#1", "cat": "user_annotation", "ts": 0,
                                    "dur": end, "pid": 1, "tid": 1, "args": {}})
    trace["distributedInfo"] = {"rank": 0}
    return trace


def test_hta_kernel_totals_equal_charsuites(tmp_path):
    trace = gpu_trace()
    (tmp_path / "rank0.json").write_text(json.dumps(trace))
    analysis = hta_trace_analysis.TraceAnalysis(trace_dir=str(tmp_path))
    _, kernels = analysis.get_gpu_kernel_breakdown(visualize=False, duration_ratio=1.0, num_kernels=10_000)
    theirs = dict(zip(kernels["name"], kernels["sum (us)"]))
    ours: dict[str, float] = {}
    for (_, name), seconds in attribute(trace)["device"].by_name.items():
        ours[name] = ours.get(name, 0.0) + seconds * 1e6
    assert set(theirs) == set(ours)
    assert all(theirs[n] == pytest.approx(ours[n]) for n in ours), {n: (theirs[n], ours[n]) for n in ours}
