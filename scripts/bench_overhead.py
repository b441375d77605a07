"""Overhead benchmark: charsuite's reported prefill latency against a bare torch loop on
the same model, length, threads and allocator environment. Goal: ratio 1.00 +/- 0.03.

    python scripts/bench_overhead.py [--model mamba2] [--size 130m] [--context 1024] [--repeats 7]

The bare loop runs in its own process (like charsuite's worker) so both start from the
same allocator environment; it calls the model directly with no charsuite code between
the stopwatch and the forward.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BARE = r"""
import json, statistics, sys, time, os, torch, transformers
spec = json.loads(sys.argv[1])
torch.set_num_threads(spec["threads"])
cfg = getattr(transformers, spec["config_class"])(**spec["hf_config"])
model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
g = torch.Generator().manual_seed(0)
ids = torch.randint(0, model.get_input_embeddings().num_embeddings, (1, spec["context"]), generator=g)
samples = []
with torch.inference_mode():
    for i in range(spec["warmup"] + spec["repeats"]):
        t0 = time.perf_counter()
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        out.logits[:, -1].argmax(-1)
        dt = time.perf_counter() - t0
        del out
        if i >= spec["warmup"]:
            samples.append(dt)
print(json.dumps(samples))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mamba2")
    ap.add_argument("--size", default="130m")
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()

    from charsuite import results
    from charsuite.app import execute
    from charsuite.compose import compose

    overrides = [f"+model={args.model}", f"model.size={args.size}", f"context.min={args.context}",
                 f"context.max={args.context}", "workload.phases=[prefill]", f"workload.repeats={args.repeats}",
                 f"workload.warmup={args.warmup}"]
    run = compose(overrides)
    threads = run.device.threads or len(os.sched_getaffinity(0))

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        execute(run, Path(tmp))
        (point,) = [p.to_dict() for p in results.read_points(Path(tmp) / results.RESULTS)]
        suite_wall = time.perf_counter() - t0

    spec = {"config_class": run.model.config_class, "hf_config": run.model.hf_config, "context": args.context,
            "threads": threads, "repeats": args.repeats, "warmup": args.warmup}
    env = {**os.environ, **run.device.allocator_env}
    out = subprocess.run([sys.executable, "-c", BARE, json.dumps(spec)], capture_output=True, text=True, env=env,
                         check=True)
    bare = json.loads(out.stdout.strip().splitlines()[-1])

    suite_med = point["latency_s"]
    bare_med = statistics.median(bare)
    print(f"model {args.model} {args.size}, context {args.context}, {threads} threads, {args.repeats} repeats")
    suite_samples = [round(s * 1e3, 1) for s in point["latency_samples_s"]]
    print(f"charsuite prefill median  {suite_med * 1e3:10.2f} ms  samples {suite_samples}")
    print(f"bare torch loop median    {bare_med * 1e3:10.2f} ms  samples {[round(s * 1e3, 1) for s in bare]}")
    print(f"ratio charsuite / bare    {suite_med / bare_med:10.3f}")
    print(f"isolation overhead/point  {point['isolation_overhead_s'] * 1e3:10.2f} ms (driver wall - worker time)")
    print(f"whole charsuite run       {suite_wall:10.1f} s (worker start + model build + measurement)")


if __name__ == "__main__":
    main()
