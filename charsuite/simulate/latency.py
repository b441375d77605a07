"""Predicted latency from the dry-run's ops (issue 30): per op the larger of its compute time and its memory time
at the machine's peaks, plus one host dispatch per op where the host bounds the phase; per phase the total, the
split by category and what bounds it. The peaks are the machine's own calibration (charsuite.calibrate) where one
was saved, else the profile's data sheet, and every prediction says which. Nothing is fitted to any measurement.

What it does not model yet is KNOWN_GAPS, printed with every prediction."""

from __future__ import annotations

from dataclasses import dataclass

from charsuite.analysis.roofline import number_at
from charsuite.simulate.op_costs import OpCostRecorder, OpCosts

KNOWN_GAPS = ("the SSM kernels' arithmetic is not counted, their traffic is (flash attention's FLOPs are); every op is "
              "taken at the peak rates (no efficiency by shape yet); the host's cost per aten op is calibrate's, on a "
              "stack of small decoder blocks - a model's own Python glue (cache bookkeeping, masks) may cost more")


@dataclass(frozen=True)
class Roof:
    tflops: float
    gbs: float
    dispatch_us: float
    basis: str


@dataclass(frozen=True)
class PhaseLatency:
    seconds: float
    device_s: float          # the ops at the peaks, each its larger of compute and memory time
    host_s: float            # one dispatch per op
    bound: str               # compute | memory | host: what most of the time is
    by_category: dict[str, float]


def roof_of(calibration: dict | None, device_cfg, dtype: str) -> Roof | None:
    """The machine's peaks: calibrated where saved (large matmul in the dtype, triad, dispatch), else the data
    sheet's (no dispatch cost known: 0); None where neither gives both rates."""
    cal = calibration or {}
    tflops = number_at(cal, "matmul_tflops", dtype, "large", "value")
    gbs = number_at(cal, "bandwidth", "triad_gbs", "value")
    # per aten op of eager module code where calibrate measured it (the dry-run counts aten ops), else the tight loop's
    us = number_at(cal, "module_dispatch", "us_per_op") or number_at(cal, "dispatch", "us_per_op") or 0.0
    if tflops and gbs:
        return Roof(tflops, gbs, us, f"calibrated {cal.get('measured_at') or ''}".strip())
    sheet_tflops = (device_cfg.peak_tflops or {}).get(dtype)
    if sheet_tflops and device_cfg.peak_bandwidth_gbs:
        return Roof(float(sheet_tflops), float(device_cfg.peak_bandwidth_gbs), us, "data sheet")
    return None


def phase_latency(costs: OpCosts, phase: str, roof: Roof, synchronous: bool = True) -> PhaseLatency:
    """`synchronous` (a CPU): each op runs on the thread that dispatched it, so host and device time add up; on
    a GPU the host queues ahead and the slower of the two bounds the phase."""
    compute = memory = device = 0.0
    by_category: dict[str, float] = {}
    ops = costs.phases.get(phase, [])
    for o in ops:
        c, m = o.flops / (roof.tflops * 1e12), o.nbytes / (roof.gbs * 1e9)
        compute, memory = compute + (c if c >= m else 0.0), memory + (m if m > c else 0.0)
        device += max(c, m)
        by_category[o.category] = by_category.get(o.category, 0.0) + max(c, m) + roof.dispatch_us * 1e-6
    host = len(ops) * roof.dispatch_us * 1e-6
    bound = max((("compute", compute), ("memory", memory), ("host", host)), key=lambda kv: kv[1])[0]
    return PhaseLatency(device + host if synchronous else max(device, host), device, host, bound, by_category)


def ladder(run, spec, lengths: list[int], dry_run_options: dict,
           recorded: dict[int, OpCosts] | None = None) -> tuple[list[dict], Roof | None]:
    """Predicted time to first token and seconds per decoded token at each length (predict's `latency=true`:
    fields of its ladder rows),
    and the peaks used; no rows where the machine has neither a calibration nor data-sheet peaks. `recorded`:
    the op costs predict's own ladder dry-runs already recorded; a length without them is dry-run here."""
    from charsuite.calibrate import read_calibration
    from charsuite.simulate.dryrun import PastPositions, dry_run

    roof = roof_of(read_calibration(run.device.name), run.device, run.model.dtype)
    if roof is None:
        return [], None
    rows = []
    sync = run.device.kind != "cuda"
    for n in lengths:
        costs = (recorded or {}).get(n)
        if costs is None:
            rec = OpCostRecorder()
            try:
                dry_run(spec, n, op_costs=rec, **dry_run_options)
            except PastPositions as exc:
                rows.append({"context": n, "latency_error": str(exc)})
                continue
            costs = rec.costs
        pre, dec = (phase_latency(costs, p, roof, synchronous=sync) for p in ("prefill", "decode"))
        # the names ../shared/CONTRACT.md gives predict's ladder rows (latency_bound and latency_by_category:
        # the prefill's; decode_bound beside them)
        rows.append({"context": n, "prefill_s": pre.seconds, "latency_bound": pre.bound,
                     "decode_s_per_token": dec.seconds, "decode_bound": dec.bound,
                     "latency_by_category": pre.by_category, "prefill_ops": len(costs.phases.get("prefill", []))})
    return rows, roof
