"""Analytic FLOPs and bytes per point, and the share of the device's peaks they reach.

Prefill FLOPs: 2 x non-embedding parameters x tokens (every matmul), plus causal
attention (QK^T and PV: 2 x 2 x L^2/2 x heads x head_dim per attention layer), plus the
SSM scan (Mamba-2 SSD: about 2 x L x heads x (chunk x (N + P) + 2 x N x P) per layer;
Mamba-1: about 9 x L x d_inner x d_state), plus the LM head over the kept positions.
Bytes: a lower bound on traffic - weights read once, KV cache written, logits written.
Decode per token: the same with one token, reading the whole KV cache and SSM state.
"""

from __future__ import annotations

from charsuite.analysis.architectures import Layout
from charsuite.run_records import RunRecord


def flops(lay: Layout, params_body: int, context: int, batch: int, phase: str, logits_positions: int = 1) -> float:
    new = context if phase == "prefill" else 1
    total = 2.0 * params_body * new * batch
    if lay.attention_layers:
        d = lay.q_heads * lay.head_dim
        pairs = context * context / 2 if phase == "prefill" else context
        total += lay.attention_layers * 4.0 * pairs * d * batch
    if lay.ssm_kind == "mamba2":
        p = lay.d_inner // max(lay.ssm_heads, 1)
        per_token = 2.0 * lay.ssm_heads * (min(lay.chunk, context) * (lay.d_state + p) + 2 * lay.d_state * p)
        total += lay.ssm_layers * per_token * new * batch
    elif lay.ssm_kind == "mamba1":
        total += lay.ssm_layers * 9.0 * lay.d_inner * lay.d_state * new * batch
    total += 2.0 * lay.hidden * lay.vocab * logits_positions * batch
    return total


def bytes_moved(weights: int, kv_cache: int, ssm_state: int, logits: int, phase: str) -> float:
    if phase == "prefill":
        return float(weights + kv_cache + ssm_state + logits)
    return float(weights + kv_cache + 2 * ssm_state + logits)


def shares(flop: float, nbytes: float, latency_s: float, peak_tflops: float | None,
           peak_bandwidth_gbs: float | None) -> dict[str, float | None]:
    achieved_flops = flop / latency_s
    achieved_bw = nbytes / latency_s
    return {
        "achieved_tflops": achieved_flops / 1e12,
        "achieved_bandwidth_gbs": achieved_bw / 1e9,
        "flops_share": achieved_flops / (peak_tflops * 1e12) if peak_tflops else None,
        "bandwidth_share": achieved_bw / (peak_bandwidth_gbs * 1e9) if peak_bandwidth_gbs else None,
        "arithmetic_intensity": flop / nbytes if nbytes else None,
    }


def point_shares(run: RunRecord | None, point: dict) -> dict[str, float | None] | None:
    """Roofline figures of one measured point, from its run's record (run.json: `model_facts`, `config`,
    `calibration`)."""
    from charsuite.analysis.memory_model import ModelFacts

    facts = ModelFacts.from_dict(run.model_facts) if run is not None else None
    if point.get("status") != "ok" or not point.get("latency_s") or facts is None:
        return None
    lay = facts.layout
    embed = lay.vocab * lay.hidden * (1 if facts.tie_word_embeddings else 2)
    body = max(0, int(point.get("params") or 0) - embed)
    phase, batch, n = point["phase"], point.get("batch", 1), point["context"]
    positions = n if point.get("logits") == "all" else 1
    f = flops(lay, body, n, batch, phase, positions)
    mem = point.get("mem_predicted") or point.get("mem") or {}
    b = bytes_moved(mem.get("weights", 0), mem.get("kv_cache", 0), mem.get("ssm_state", 0), mem.get("logits", 0),
                    phase)
    peak_tflops, peak_gbs, basis = peaks(run, facts.dtype)
    return {**shares(f, b, point["latency_s"], peak_tflops, peak_gbs), "peak_basis": basis}


def peaks(run: RunRecord, dtype: str) -> tuple[float | None, float | None, str]:
    """(TFLOP/s, GB/s, where they come from): the machine's own calibration (charsuite.calibrate: the large
    matmul in the run's dtype, the triad) when run.json carries one, else the profile's data-sheet peaks."""
    tflops, gbs, basis = calibrated_peaks(run.calibration, dtype)
    if tflops or gbs:
        return tflops, gbs, basis
    dev = run.section("device")
    return (dev.get("peak_tflops") or {}).get(dtype), dev.get("peak_bandwidth_gbs"), "data sheet"


def calibrated_peaks(cal: dict | None, dtype: str) -> tuple[float | None, float | None, str]:
    """(TFLOP/s, GB/s, basis) of a calibration: its large matmul in the dtype and its triad - the one rule the
    roofline of measured points and the latency model's peaks share."""
    cal = cal or {}
    return (number_at(cal, "matmul_tflops", dtype, "large", "value"), number_at(cal, "bandwidth", "triad_gbs", "value"),
            f"calibrated {cal.get('measured_at') or ''}".strip())


def number_at(data: object, *keys: str) -> float | None:
    """A positive number down a path of dict keys (a hand-edited calibration file may hold anything)."""
    for k in keys:
        data = data.get(k) if isinstance(data, dict) else None
    ok = isinstance(data, (int, float)) and not isinstance(data, bool) and 0 < data < float("inf")
    return float(data) if ok else None
