"""The largest context that fits, found by bisection on dry-runs: double from a start
length until a dry-run no longer fits, then halve the gap down to the run's tolerance.
On a CUDA device "fits" means what the caching allocator's live blocks hold at their worst moment
(simulate/allocator.py `needed`: its reserve less the cached free blocks it gives back before it
reports out of memory) is within the usable memory; on the CPU, the live-tensor peak."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from charsuite.config import ModelConfig
from charsuite.narrowing import narrow
from charsuite.simulate.dryrun import DryRun, PastPositions, dry_run


@dataclass
class PredictedBoundary:
    largest: int | None            # tokens; None when not even `lowest` fits
    smallest_failing: int | None   # None when `upper` fits
    probes: list[DryRun] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.probes)


def options(run, impl: str) -> dict:
    """The dry-run settings a run implies: its workload's batch, logits and prefill chunking,
    the device's kind, and whether its CUDA allocator uses expandable segments
    (device.allocator_env)."""
    alloc_conf = run.device.allocator_env.get("PYTORCH_CUDA_ALLOC_CONF", "")
    return dict(batch=run.workload.batch, logits=run.workload.logits, impl=impl, device_kind=run.device.kind,
                expandable_segments="expandable_segments:True" in alloc_conf, chunk=run.workload.prefill_chunk,
                capability=run.device.compute_capability, engine=run.engine.name,
                engine_settings=dataclasses.asdict(run.engine))


def needed_bytes(d: DryRun) -> int:
    return d.needed if d.device_kind == "cuda" else d.allocated


def dry_run_search(spec: ModelConfig, limit_bytes: int, *, batch: int = 1, logits: str = "last",
                   impl: str = "reference", device_kind: str = "cpu", expandable_segments: bool = True,
                   start: int = 1024, upper: int = 1 << 22, lowest: int = 1,
                   tolerance: Callable[[int], int] = lambda n: max(256, n // 100),
                   runtime_bytes: int = 0, chunk: int | None = None, capability: float | None = None,
                   engine: str | None = None, engine_settings: dict | None = None,
                   on_probe: Callable[[int, bool, float], None] | None = None) -> PredictedBoundary:
    """`on_probe(length, fits, seconds)` after each dry-run (predict's progress lines)."""
    out = PredictedBoundary(None, None)

    def fits(n: int) -> bool:
        t0 = time.perf_counter()
        try:
            d = dry_run(spec, n, batch, logits, impl, device_kind, expandable_segments, chunk, capability,
                        engine=engine, engine_settings=engine_settings)
        except PastPositions:
            return False
        out.probes.append(d)
        ok = needed_bytes(d) + runtime_bytes <= limit_bytes
        if on_probe:
            on_probe(n, ok, time.perf_counter() - t0)
        return ok

    lo, hi = None, None
    n = max(lowest, min(start, upper))
    if fits(n):
        lo = n
        while lo < upper:
            n = min(upper, lo * 2)
            if fits(n):
                lo = n
            else:
                hi = n
                break
    else:
        hi = n
        while hi > lowest:
            n = max(lowest, hi // 2)
            if fits(n):
                lo = n
                break
            hi = n
    if lo is None:
        out.smallest_failing = hi
        return out
    if hi is not None:
        lo, hi, _ = narrow(lo, hi, fits, tolerance)
    out.largest, out.smallest_failing = lo, hi
    return out
