"""Predicted against measured latency on this machine (issue 30's table): for each model, a real run measures time to
first token and seconds per decoded token at each length, and charsuite.predict's latency model (the dry-run's
ops at this machine's calibration) predicts them; one markdown row per (model, length, phase) with the error and
what the model says bounds the phase, then the median and largest absolute error. Nothing is fitted: the
prediction never sees the measurement.

    python -m charsuite.calibrate                 # first: this machine's roofline (conf/device/calibrated/cpu.json)
    python scripts/latency_accuracy.py --out /tmp/acc [--models mamba2:tiny,qwen2_5:130m] [--lengths 512,1024] \\
        [--shares 2048]   # and each prefill's category shares at 2048 tokens, predicted beside profiled

Run folders are kept under --out: a second call measures only what is missing (the run's own resume).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TINY = "mamba:tiny,mamba2:tiny,qwen2_5:tiny,llama3_2:tiny,falcon_h1:tiny,zamba2:tiny"


def measured(family: str, size: str, lengths: list[int], folder: Path, extra: list[str]) -> dict:
    """{(phase, context): median seconds} of a real run (prefill: the whole forward; decode: per token)."""
    ladder = "[" + ",".join(map(str, lengths)) + "]"
    cmd = [sys.executable, "-m", "charsuite", f"+model={family}", f"model.size={size}", f"context.ladder={ladder}",
           f"context.min={min(lengths)}", f"context.max={max(lengths)}", "workload.phases=[prefill,decode]",
           f"hydra.run.dir={folder}", *extra]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(f"{family} {size}: the run failed: {r.stderr.strip().splitlines()[-1:]}")
    from charsuite import results

    pts = results.latest(results.read_points(folder / results.RESULTS, quiet=True)).values()
    return {(p.phase, p.context): (p.latency_s, bool(p.noisy), p.family) for p in pts if p.status.value == "ok"}


def predicted(family: str, size: str, lengths: list[int], extra: list[str]) -> tuple[dict, dict]:
    from charsuite.compose import compose
    from charsuite.predict import prediction

    ladder = "[" + ",".join(map(str, lengths)) + "]"
    run = compose([f"+model={family}", f"model.size={size}", f"context.ladder={ladder}",
                   f"context.min={min(lengths)}", f"context.max={max(lengths)}", "device.memory_gb=null", *extra])
    out = prediction(run, latency=True)
    rows = {}
    for r in out["ladder"]:
        if "prefill_s" in r:
            rows[("prefill", r["context"])] = (r["prefill_s"], r["latency_bound"])
            rows[("decode", r["context"])] = (r["decode_s_per_token"], r["decode_bound"])
            rows[("shares", r["context"])] = shares(r.get("latency_by_category") or {})
    return rows, out.get("latency", {})


def shares(seconds: dict) -> dict[str, float]:
    """Each taxonomy category's share of their total (a breakdown's other fields - basis, coverage - left out)."""
    from kernels_profile.taxonomy import load

    kept = {k: float(v) for k, v in seconds.items() if k in load().categories and isinstance(v, (int, float)) and v > 0}
    total = sum(kept.values())
    return {k: v / total for k, v in kept.items()} if total else {}


def profiled(family: str, size: str, n: int, folder: Path, extra: list[str]) -> dict[str, float]:
    """Category shares of a profiled prefill of `n` tokens (torch.profiler, the taxonomy, host basis on a CPU)."""
    cmd = [sys.executable, "-m", "charsuite", f"+model={family}", f"model.size={size}", f"context.ladder=[{n}]",
           f"context.min={n}", f"context.max={n}", "workload.phases=[prefill]", "profile.enabled=true",
           f"profile.contexts=[{n}]", f"hydra.run.dir={folder}", *extra]
    subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    from charsuite import results

    pts = results.latest(results.read_points(folder / results.RESULTS, quiet=True)).values()
    return next((shares(p.breakdown) for p in pts if p.breakdown and p.profiled_phase == "prefill"), {})


def print_shares(compared: list[tuple[str, int, dict, dict]]) -> None:
    """Predicted beside profiled category shares of each prefill, and the largest difference in points."""
    print("\n| model | context | category: predicted % / profiled % | largest difference |")
    print("|---|---:|---|---:|")
    for name, n, pred, prof in compared:
        cats = sorted(set(pred) | set(prof), key=lambda c: -max(pred.get(c, 0), prof.get(c, 0)))
        cells = ", ".join(f"{c} {pred.get(c, 0):.0%} / {prof.get(c, 0):.0%}" for c in cats
                          if max(pred.get(c, 0), prof.get(c, 0)) >= 0.01)
        worst = max((abs(pred.get(c, 0) - prof.get(c, 0)) for c in cats), default=float("nan"))
        print(f"| {name} | {n} | {cells} | {worst * 100:.1f} points |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--models", default=TINY, help="family:size,... (default: every family at tiny size)")
    ap.add_argument("--lengths", default="512,1024,2048,4096,8192")
    ap.add_argument("--shares", type=int, help="also profile each model's prefill at this length and compare its "
                                                "category shares with the predicted ones")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides for both sides (e.g. model.dtype=float32)")
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    rows, errors, peaks, curves, compared = [], [], None, {}, []
    for item in args.models.split(","):
        family, size = item.split(":")
        t0 = time.perf_counter()
        got = measured(family, size, lengths, args.out / f"{family}-{size}", args.overrides)
        pred, lat = predicted(family, size, lengths, args.overrides)
        peaks = lat.get("peaks") or peaks
        if args.shares and ("shares", args.shares) in pred:
            prof = profiled(family, size, args.shares, args.out / f"{family}-{size}-profile", args.overrides)
            compared.append((f"{family} {size}", args.shares, pred[("shares", args.shares)], prof))
        for key in sorted(pred, key=lambda k: (k[0] != "prefill", k[1])):
            if key not in got or key[0] == "shares":
                continue
            (m, noisy, family_kind), (p, bound) = got[key], pred[key]
            curve = curves.setdefault((f"{family} {size}", family_kind, key[0]), ({}, {}))
            curve[0][key[1]], curve[1][key[1]] = m, p
            err = (p - m) / m
            errors.append(abs(err))
            rows.append(f"| {family} | {size} | {key[0]} | {key[1]} | {m * 1e3:.4g} | {p * 1e3:.4g} | {err:+.0%} | "
                        f"{bound} |{' noisy' if noisy else ''}")
        print(f"latency_accuracy: {family} {size} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(f"peaks: {json.dumps(peaks)}\n")
    print("| model | size | phase | context | measured ms | predicted ms | error | predicted bound | |")
    print("|---|---|---|---:|---:|---:|---:|---|---|")
    print("\n".join(rows))
    if errors:
        print(f"\n{len(errors)} rows: median |error| {statistics.median(errors):.0%}, largest {max(errors):.0%}, "
              f"beyond 50%: {sum(e > 0.5 for e in errors)}")
    print_crossovers(curves)
    if compared:
        print_shares(compared)


def print_crossovers(curves: dict) -> None:
    """Where each SSM or hybrid and each Transformer cross, measured and predicted, per phase."""
    from charsuite.analysis.crossover import crossings, speedup_curve

    print("\n| SSM/hybrid | Transformer | phase | measured crossing | predicted crossing | ratio |")
    print("|---|---|---|---|---|---|")
    for (a, kind_a, phase), (ma, pa) in sorted(curves.items()):
        for (b, kind_b, phase_b), (mb, pb) in sorted(curves.items()):
            if kind_a not in ("ssm", "hybrid") or kind_b != "transformer" or phase_b != phase:
                continue
            m, p = crossings(speedup_curve(ma, mb)), crossings(speedup_curve(pa, pb))
            ratio = f"{p[0] / m[0]:.2f}" if m and p else "-"
            print(f"| {a} | {b} | {phase} | {', '.join(f'{x:.0f}' for x in m) or 'none in range'} | "
                  f"{', '.join(f'{x:.0f}' for x in p) or 'none in range'} | {ratio} |")


if __name__ == "__main__":
    main()
