"""Where a latency prediction misses, op by op (issue 30): one model's prefill, profiled for real (torch.profiler, in
this process, glibc mapping every large block afresh as a worker's prefill does) and dry-run for the latency model;
per top-level aten op (the level Python dispatches, as the dry-run records it: a composite's parts go to their
composite) the calls, the predicted and the profiled milliseconds and the bytes the dry-run counts. Nothing is
fitted: the table says which op the model misses, not by how much to scale it.

    python scripts/latency_ops.py mamba2 tiny 2048 [--top 25]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def predicted(run, n: int) -> tuple[dict[str, list], float]:
    """{op: [calls, seconds, bytes]} of the dry-run's prefill at this machine's calibration, and the phase's total."""
    from charsuite.calibrate import read_calibration
    from charsuite.predict import target_impl
    from charsuite.simulate.boundary import options
    from charsuite.simulate.dryrun import dry_run
    from charsuite.simulate.latency import op_seconds, phase_latency, roof_of
    from charsuite.simulate.op_costs import OpCostRecorder

    roof = roof_of(read_calibration(run.device.name), run.device, run.model.dtype)
    if roof is None:
        raise SystemExit("latency_ops: no calibration and no data-sheet peaks for this device")
    rec = OpCostRecorder()
    dry_run(run.model, n, op_costs=rec, **options(run, target_impl(run)))
    out: dict[str, list] = defaultdict(lambda: [0, 0.0, 0])
    parent = ""
    for o in rec.costs.phases.get("prefill", []):
        parent = parent if o.part else o.op
        compute, memory, touch, host = op_seconds(o, roof, synchronous=True, mapped=True)
        row = out[parent]
        row[0] += 0 if o.part else o.count
        row[1] += max(compute, memory) + touch + host
        row[2] += o.count * o.nbytes
    total = phase_latency(rec.costs, "prefill", roof, mapped=True, forwards=1).seconds
    return out, total


def profiled(run, n: int, repeats: int = 3) -> tuple[dict[str, list], float]:
    """{op: [calls, seconds]} of the quickest of `repeats` profiled prefills, and the quickest unprofiled wall."""
    import torch

    from charsuite import allocator
    from charsuite.engines.transformers import build

    allocator.set_mode("mapped")
    model = build(run.model).eval()
    ids = torch.randint(0, 100, (1, n))
    walls, best = [], None
    with torch.inference_mode():
        model(ids, use_cache=False, logits_to_keep=1)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(ids, use_cache=False, logits_to_keep=1)
            walls.append(time.perf_counter() - t0)
        for _ in range(repeats):
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                t0 = time.perf_counter()
                model(ids, use_cache=False, logits_to_keep=1)
                took = time.perf_counter() - t0
            if best is None or took < best[0]:
                best = (took, prof)
    out: dict[str, list] = defaultdict(lambda: [0, 0.0])

    def walk(events) -> None:
        for e in events:
            if e.name.startswith("aten::"):
                out[e.name][0] += 1
                out[e.name][1] += (e.time_range.end - e.time_range.start) * 1e-6
            else:
                walk(e.cpu_children)

    walk([e for e in best[1].events() if e.cpu_parent is None])
    return out, min(walls)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("family")
    ap.add_argument("size")
    ap.add_argument("context", type=int)
    ap.add_argument("--top", type=int, default=25, help="rows, largest first")
    args = ap.parse_args()
    from charsuite.compose import compose

    run = compose([f"+model={args.family}", f"model.size={args.size}", "device.memory_gb=null"])
    pred, total = predicted(run, args.context)
    meas, wall = profiled(run, args.context)
    print(f"{args.family} {args.size}, prefill of {args.context} tokens: measured {wall * 1e3:.1f} ms (quickest "
          f"unprofiled), predicted {total * 1e3:.1f} ms ({total / wall - 1:+.0%})\n")
    print("| op | calls | predicted ms | profiled ms | MB counted | GB/s profiled |")
    print("|---|---:|---:|---:|---:|---:|")
    keys = sorted(set(pred) | set(meas), key=lambda k: -max(pred.get(k, [0, 0.0])[1], meas.get(k, [0, 0.0])[1]))
    for k in keys[:args.top]:
        p, m = pred.get(k, [0, 0.0, 0]), meas.get(k, [0, 0.0])
        gbs = f"{p[2] / m[1] / 1e9:.1f}" if m[1] and p[2] else "-"
        print(f"| {k} | {m[0]} | {p[1] * 1e3:.2f} | {m[1] * 1e3:.2f} | {p[2] / 1e6:.1f} | {gbs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
