"""Eager vs compiled latency, measured in one process so the two are compared as ratios of
one run (timings on a shared machine drift between runs). For each model the script builds
the engine twice (eager, and torch.compile with transformers' static cache), checks the
compiled decode against a full forward (the guard), then alternates eager and compiled
points: prefill at each length and decode after it, through charsuite's own stopwatch
(measure.measure_phase). compile_s: the compiled phase's first call less a timed call.

    python scripts/bench_modes.py mamba2:tiny zamba2:tiny qwen2_5:tiny [--contexts 256 1024]
                                  [--decode-tokens 8] [--rounds 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="FAMILY:SIZE")
    ap.add_argument("--contexts", nargs="+", type=int, default=[256, 1024])
    ap.add_argument("--decode-tokens", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2, help="eager/compiled alternations per point")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    import torch

    from charsuite.compose import compose
    from charsuite.engines.transformers import TransformersEngine
    from charsuite.measure import decode_matches_forward, measure_phase, random_tokens

    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    print(f"threads {torch.get_num_threads()}; load {open('/proc/loadavg').read().split()[:3]}", flush=True)
    print("| model | phase | context | eager (ms) | compiled (ms) | speedup | compile_s | guard |")
    print("|---|---|---|---|---|---|---|---|")
    for item in args.models:
        family, size = item.split(":")
        spec = compose([f"+model={family}", f"model.size={size}"]).model
        engines = {mode: TransformersEngine(spec, cpu, mode=mode) for mode in ("eager", "compile")}
        t0 = time.perf_counter()
        guard = decode_matches_forward(engines["compile"], cpu)
        guard_s = time.perf_counter() - t0
        for n in args.contexts:
            ids = random_tokens(engines["eager"].vocab_size, 1, n, 0, cpu)
            for phase in ("prefill", "decode"):
                lat = {"eager": [], "compile": []}
                compile_s = None
                for _ in range(args.rounds):
                    for mode, engine in engines.items():
                        r = measure_phase(engine, cpu, phase, ids, "last", args.decode_tokens, warmup=1, repeats=3)
                        lat[mode] += r.samples_s
                        if r.compile_s is not None and compile_s is None:
                            compile_s = r.compile_s
                e, c = statistics.median(lat["eager"]), statistics.median(lat["compile"])
                unit = 1e3
                print(f"| {family} {size} | {phase} | {n} | {e * unit:.3g} | {c * unit:.3g} | {e / c:.2f}x | "
                      f"{compile_s:.1f} | {guard:.1e} ({guard_s:.0f} s) |", flush=True)


if __name__ == "__main__":
    main()
