"""Every figure charsuite draws, registered in one place: name -> function of the data."""

from __future__ import annotations

from charsuite.figures import plots

FIGURES = {
    "prefill_latency": lambda d: plots.latency(d, "prefill"),
    "decode_latency": lambda d: plots.latency(d, "decode"),
    "speedup_prefill": lambda d: plots.speedup(d, "prefill"),
    "speedup_decode": lambda d: plots.speedup(d, "decode"),
    "memory_prefill": lambda d: plots.memory(d, "prefill"),
    "operator_breakdown": plots.breakdown,
    "operator_breakdown_devices": plots.breakdown_devices,
    "operator_breakdown_study": plots.breakdown_study,
    "throughput_energy": plots.throughput_energy,
    "max_context": plots.max_context,
}
