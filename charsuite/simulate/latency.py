"""Predicted latency from the dry-run's ops (issue 30): per op the larger of its compute time and its memory time
at the machine's peaks, plus one host dispatch per op where the host bounds the phase; per phase the total, the
split by category and what bounds it. The peaks are the machine's own calibration (charsuite.calibrate) where one
was saved, else the profile's data sheet, and every prediction says which. Nothing is fitted to any measurement.

What it does not model yet is KNOWN_GAPS, printed with every prediction."""

from __future__ import annotations

import math
from dataclasses import dataclass

from charsuite.analysis.roofline import calibrated_peaks, number_at
from charsuite.calibrate_ops import rate_at, rates_of
from charsuite.engines import spec as engine_spec
from charsuite.simulate.op_costs import OpCost, OpCostRecorder, OpCosts

KNOWN_GAPS = ("the SSM kernels' arithmetic is not counted, their traffic is (attention's FLOPs are); a GEMM is "
              "taken at the calibrated rate of the nearest measured shape, the slow op classes (masked_fill, cumsum, "
              "exp over infinities, depthwise conv) at theirs, every other op at the triad bandwidth (a strided copy "
              "or an op over tensors larger than calibrate's runs slower); the host's cost per aten op is "
              "calibrate's, on a stack of small decoder blocks, and each transformers forward adds what GPT-2's "
              "cached step costs beyond its ops (calibrate) - each model's own glue (masks, cache bookkeeping) "
              "differs from GPT-2's")


@dataclass(frozen=True)
class Roof:
    tflops: float
    gbs: float
    dispatch_us: float
    basis: str
    grid: tuple[tuple[tuple[int, int, int], float], ...] = ()       # calibrate's GEMM rates by (m, k, n)
    attention: tuple[tuple[tuple[int, int, int], float], ...] = ()  # ... causal attention's by (L, D, L)
    loop_us: float | None = None   # host cost per op dispatched back to back from one frame (a folded loop's steps)
    first_touch_ns: float = 0.0    # per byte of a fresh large allocation where glibc maps it afresh (a CPU prefill)
    forward_us: float = 0.0        # a transformers forward beyond its ops (calibrate's GPT-2 step; library_forward)
    host_basis: str = ""           # where the host costs come from, if not from `basis`
    op_rates: tuple[tuple[str, int, float], ...] = ()  # calibrate's GB/s of the slow op classes (calibrate_ops)

    def rate(self, mnk: tuple[int, int, int] | None, attention: bool = False) -> float:
        """TFLOP/s of a GEMM or of attention: the calibrated rate at the nearest measured shape (in log m, log k,
        log n), else the peak (calibrate_grids.py: decode's one row to prefill's thousands)."""
        grid = self.attention if attention else self.grid
        if mnk is None or not grid:
            return self.tflops
        logs = [math.log(max(1, v)) for v in mnk]
        return min(grid, key=lambda g: sum(abs(a - math.log(b)) for a, b in zip(logs, g[0])))[1]


@dataclass(frozen=True)
class PhaseLatency:
    seconds: float
    device_s: float          # the ops at the peaks, each its larger of compute and memory time
    host_s: float            # one dispatch per op
    bound: str               # compute | memory | host: what most of the time is
    by_category: dict[str, float]


def roof_of(calibration: dict | None, device_cfg, dtype: str, host: dict | None = None) -> Roof | None:
    """The machine's peaks: calibrated where saved (large matmul in the dtype, triad, dispatch), else the data
    sheet's; None where neither gives both rates. A data sheet says nothing of the host: its costs per op and per
    forward come from `host` (the calibration of the machine predicting: a stand-in, said in the basis, with no
    CUDA launch in it - a floor), else 0."""
    cal = calibration or {}
    tflops, gbs, basis = calibrated_peaks(cal, dtype)
    # per aten op of eager module code where calibrate measured it (the dry-run counts aten ops), else the tight loop's
    us = number_at(cal, "module_dispatch", "us_per_op") or number_at(cal, "dispatch", "us_per_op") or 0.0
    if tflops and gbs:
        return Roof(tflops, gbs, us, basis,
                    _grid(cal, "gemm_grid_tflops", dtype), _grid(cal, "attention_grid_tflops", dtype),
                    number_at(cal, "dispatch", "us_per_op"), number_at(cal, "first_touch", "ns_per_byte") or 0.0,
                    forward_us(cal, us), op_rates=rates_of(cal))
    sheet_tflops = (device_cfg.peak_tflops or {}).get(dtype)
    if sheet_tflops and device_cfg.peak_bandwidth_gbs:
        hus = number_at(host, "module_dispatch", "us_per_op") or 0.0
        when = f" {host['measured_at']}" if hus and host.get("measured_at") else ""
        stand_in = f"this machine's calibration{when}, no CUDA launch in it" if hus else ""
        return Roof(float(sheet_tflops), float(device_cfg.peak_bandwidth_gbs), us or hus, "data sheet",
                    forward_us=forward_us(host or {}, hus) if hus else 0.0, host_basis=stand_in)
    return None


def forward_us(cal: dict, us_per_op: float) -> float:
    """What one transformers forward costs the host beyond its ops: calibrate's cached GPT-2 decode step (mask
    building, cache bookkeeping, output records) less its aten ops at the module stack's cost per op; 0 where
    calibrate did not measure it. GPT-2's glue stands for every model's (a known gap: each model's differs)."""
    step_s, ops = number_at(cal, "library_dispatch", "seconds"), number_at(cal, "library_dispatch", "ops")
    if not step_s or not ops or not us_per_op:
        return 0.0
    return max(0.0, step_s * 1e6 - ops * us_per_op)


def _grid(cal: dict, key: str, dtype: str) -> tuple[tuple[tuple[int, int, int], float], ...]:
    rows = (cal.get(key) or {}).get(dtype) if isinstance(cal.get(key), dict) else None
    return tuple((tuple(int(v) for v in g["mnk"]), float(g["value"])) for g in rows or []
                 if isinstance(g, dict) and len(g.get("mnk") or []) == 3 and number_at(g, "value"))


def phase_latency(costs: OpCosts, phase: str, roof: Roof, synchronous: bool = True,
                  mapped: bool = False, forwards: int = 0) -> PhaseLatency:
    """`synchronous` (a CPU): each op runs on the thread that dispatched it, so host and device time add up; on
    a GPU the host queues ahead and the slower of the two bounds the phase. On a CPU a GEMM priced at a calibrated
    shape's rate carries its own dispatch (calibrate timed the whole call), so it adds no host time of its own; a
    folded loop's steps (count > 1) are dispatched back to back, at the tight loop's cost per op. `mapped`: glibc
    maps every large block afresh (a CPU worker's prefill, allocator.py): each fresh output pays calibrate's first
    touch on top of the op (a GEMM's too: the faults stall the threads that compute). `forwards`: the library
    forwards the phase calls (a chunked prefill's chunks; a decode step's one), each at the roof's `forward_us` of
    host time beyond its ops ("other" in the split). A composite op's parts (OpCost.part) pay no dispatch of their
    own: the composite pays Python's one."""
    compute = memory = device = host = 0.0
    by_category: dict[str, float] = {}
    for o in costs.phases.get(phase, []):
        c, m, touch, h = op_seconds(o, roof, synchronous, mapped)
        compute, memory = compute + (c if c >= m else 0.0), memory + (m if m > c else 0.0) + touch
        device, host = device + max(c, m) + touch, host + h
        by_category[o.category] = by_category.get(o.category, 0.0) + max(c, m) + touch + h
    if forwards and roof.forward_us:
        glue = forwards * roof.forward_us * 1e-6
        host += glue
        by_category["other"] = by_category.get("other", 0.0) + glue
    bound = max((("compute", compute), ("memory", memory), ("host", host)), key=lambda kv: kv[1])[0]
    return PhaseLatency(device + host if synchronous else max(device, host), device, host, bound, by_category)


def op_seconds(o: OpCost, roof: Roof, synchronous: bool = True, mapped: bool = False
               ) -> tuple[float, float, float, float]:
    """One recorded op's (compute, memory, first-touch, host) seconds, its count included: the terms
    phase_latency sums, each by the rules its docstring gives."""
    attention = "scaled_dot_product" in o.op
    priced = o.mnk is not None and bool(roof.attention if attention else roof.grid)
    c = o.count * o.flops / (roof.rate(o.mnk, attention) * 1e12)
    gbs = (rate_at(roof.op_rates, *o.rate) if o.rate else None) or roof.gbs
    m = o.count * o.nbytes / (gbs * 1e9)
    # page faults stall the threads that write the output: on top of the op, whether it computes or moves
    touch = o.count * o.new_bytes * roof.first_touch_ns * 1e-9 if mapped else 0.0
    per_op = roof.loop_us if o.count > 1 and roof.loop_us else roof.dispatch_us
    h = 0.0 if (priced and synchronous) or not o.host else o.count * per_op * 1e-6
    return c, m, touch, h


def ladder(run, spec, lengths: list[int], dry_run_options: dict,
           recorded: dict[int, OpCosts] | None = None) -> tuple[list[dict], Roof | None]:
    """Predicted time to first token and seconds per decoded token at each length (predict's `latency=true`:
    fields of its ladder rows),
    and the peaks used; no rows where the machine has neither a calibration nor data-sheet peaks. `recorded`:
    the op costs predict's own ladder dry-runs already recorded; a length without them is dry-run here."""
    from charsuite.calibrate import read_calibration
    from charsuite.simulate.dryrun import PastPositions, dry_run

    # a GPU without its own calibration: the host costs of the machine predicting stand in (its CPU profile's)
    host = read_calibration("cpu") if run.device.kind == "cuda" else None
    roof = roof_of(read_calibration(run.device.name), run.device, run.model.dtype, host=host)
    if roof is None:
        return [], None
    rows = []
    sync = run.device.kind != "cuda"
    library = engine_spec(run.engine.name).library_forward
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
        # a CPU worker's glibc maps large blocks afresh in the prefill, and reuses its heap in decode steps
        mapped = {"prefill": sync and run.device.malloc == "phase", "decode": False}
        chunk = run.workload.prefill_chunk
        forwards = {"prefill": -(-n // chunk) if chunk else 1, "decode": 1} if library else {}
        pre, dec = (phase_latency(costs, p, roof, synchronous=sync, mapped=mapped[p], forwards=forwards.get(p, 0))
                    for p in ("prefill", "decode"))
        # the names ../shared/CONTRACT.md gives predict's ladder rows (latency_bound and latency_by_category:
        # the prefill's; decode_bound beside them)
        rows.append({"context": n, "prefill_s": pre.seconds, "latency_bound": pre.bound,
                     "decode_s_per_token": dec.seconds, "decode_bound": dec.bound,
                     "latency_by_category": pre.by_category, "prefill_ops": costs.totals("prefill")["ops"]})
    return rows, roof
