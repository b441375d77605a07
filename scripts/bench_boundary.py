"""Boundary-search benchmark: probes and wall time to find the out-of-memory boundary
with charsuite's geometric ladder + bisection, the same started from the dry-run's
prediction (context.start=predicted), and a plain linear ladder stepped at the same
resolution. All run for real, on this machine, under the same memory cap and
enforcement (auto, rlimit, or a memory cgroup). With --repeat N each search runs N times;
the table ends with the spread of the boundary over the repeats and over the orders,
against the goal: within the resolution.

    python scripts/bench_boundary.py [--memory-gb 0.7] [--tolerance 2048] [--max 128K] [--enforcement auto]
                                     [--repeat 1] [--no-linear] [OVERRIDE ...]

Trailing OVERRIDEs (Hydra syntax, e.g. device.threads=1) apply to every search.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def sweep(overrides: list[str]) -> tuple[dict, float, int]:
    from charsuite import results
    from charsuite.app import execute
    from charsuite.compose import compose

    run = compose(overrides)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        (summary,) = execute(run, Path(tmp))
        wall = time.perf_counter() - t0
        n = len(results.read_points(Path(tmp) / results.RESULTS))
        worker = results.read_json(Path(tmp) / results.RUN).get("worker") or {}
    summary["threads"], summary["enforcement"] = worker.get("threads"), worker.get("memory_enforcement")
    return summary, wall, n


def main() -> None:
    from charsuite.config import parse_length

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory-gb", default="0.7")
    ap.add_argument("--tolerance", type=int, default=2048)
    ap.add_argument("--min", default="2K")
    ap.add_argument("--max", default="128K")
    ap.add_argument("--enforcement", default="auto", choices=("auto", "rlimit", "cgroup"))
    ap.add_argument("--repeat", type=int, default=1, help="runs of each search")
    ap.add_argument("--no-linear", action="store_true", help="skip the (slow) linear ladder")
    ap.add_argument("overrides", nargs="*", help="more Hydra overrides for every search")
    args = ap.parse_args()
    lo, hi = parse_length(args.min, "--min"), parse_length(args.max, "--max")
    base = ["+model=qwen2_5", "model.size=tiny", "workload.phases=[prefill]", "workload.logits=all",
            "workload.repeats=1", "workload.warmup=0", "workload.max_repeats=2", f"device.memory_gb={args.memory_gb}",
            f"context.min={lo}", f"context.max={hi}", f"context.tolerance={args.tolerance}",
            f"device.memory_enforcement={args.enforcement}", *args.overrides]
    linear = list(range(lo, hi + 1, args.tolerance))
    rows = []
    searches = [("geometric + bisection", []), ("predicted + bisection", ["context.start=predicted"])]
    if not args.no_linear:
        searches.append(("linear ladder", [f"context.ladder=[{','.join(map(str, linear))}]"]))
    for i in range(args.repeat):
        for name, extra in searches:
            s, wall, n = sweep(base + extra)
            rows.append((name, s["max_context_ok"], s["min_context_oom"], s["probes"], wall))
            print(f"run {i + 1}/{args.repeat} {name}: largest ok {s['max_context_ok']}, first oom "
                  f"{s['min_context_oom']}, {s['probes']} probes, {wall:.1f} s, {s['threads']} thread(s), "
                  f"{s['enforcement']}", file=sys.stderr)
            if s.get("predicted_start"):
                print(f"dry-run predicted boundary: {s['predicted_start']}", file=sys.stderr)
    print(f"\nqwen2_5 tiny, logits=all, memory cap {args.memory_gb} GB ({args.enforcement}), resolution "
          f"{args.tolerance} tokens, {args.repeat} run(s) of each search, load average {os.getloadavg()[0]:.2f}"
          + (f", overrides {' '.join(args.overrides)}" if args.overrides else ""))
    print(f"{'search':24s} {'largest ok':>10s} {'first oom':>10s} {'probes':>7s} {'wall s':>8s}")
    for name, ok, oom, probes, wall in rows:
        print(f"{name:24s} {ok!s:>10s} {oom!s:>10s} {probes:7d} {wall:8.1f}")
    found = [ok for _, ok, _, _, _ in rows if ok is not None]
    by_search = {name: [ok for n2, ok, *_ in rows if n2 == name and ok is not None] for name, _ in searches}
    for name, oks in by_search.items():
        if oks:
            print(f"spread over repeats, {name}: {max(oks) - min(oks)} tokens")
    if found:
        spread = max(found) - min(found)
        verdict = "within" if spread <= args.tolerance else "OUTSIDE"
        print(f"spread over every search and repeat: {spread} tokens ({min(found)}..{max(found)}), {verdict} the "
              f"{args.tolerance}-token resolution")


if __name__ == "__main__":
    main()
