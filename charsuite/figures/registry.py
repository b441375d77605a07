"""Every figure charsuite draws, registered in one place: name -> function of the data."""

from __future__ import annotations

from charsuite.figures import breakdown, energy, latency, memory, roofline

FIGURES = {
    "prefill_latency": lambda d: latency.latency(d, "prefill"),
    "decode_latency": lambda d: latency.latency(d, "decode"),
    "speedup_prefill": lambda d: latency.speedup(d, "prefill"),
    "speedup_decode": lambda d: latency.speedup(d, "decode"),
    "memory_prefill": lambda d: memory.memory(d, "prefill"),
    "operator_breakdown": breakdown.breakdown,
    "operator_breakdown_devices": breakdown.breakdown_devices,
    "operator_breakdown_study": breakdown.breakdown_study,
    "throughput_energy": energy.throughput_energy,
    "max_context": memory.max_context_bars,
    "roofline": roofline.roofline,
}
