"""How often torch.compile compiled while a point ran, and for how long, from dynamo's own
counters: a point whose timed calls recompiled measured compilation, not the model (a compiled
decode at 256 tokens once recorded compile_s 1.83 s and took 63 s).

    before = count(); ...; after = count(); after - before -> Compiles(frames, seconds)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Compiles:
    frames: int      # frames dynamo compiled (the first compilation and every recompile)
    seconds: float   # dynamo's own compile time for them (its _compile.compile_inner metric)

    def __sub__(self, other: Compiles) -> Compiles:
        return Compiles(self.frames - other.frames, max(0.0, self.seconds - other.seconds))


def count() -> Compiles:
    """Dynamo's running totals in this process (zero where dynamo keeps none)."""
    try:
        from torch._dynamo.utils import compilation_time_metrics, counters
    except ImportError:  # a torch without dynamo
        return Compiles(0, 0.0)
    return Compiles(int(counters["frames"].get("ok", 0)),
                    float(sum(compilation_time_metrics.get("_compile.compile_inner", []))))


class PerCall:
    """Compilations of each call of a repeated step (repeat()'s on_step: read between calls, never
    inside the timed region)."""

    def __init__(self) -> None:
        self.last = count()
        self.frames: list[int] = []

    def __call__(self) -> None:
        now = count()
        self.frames.append(now.frames - self.last.frames)
        self.last = now


def fields(result: Any, noise: Any) -> dict[str, Any]:
    """A compiled point's counts for its line (measure.PhaseResult's); a point whose timed calls
    recompiled is noisy, and its noise reason says so first."""
    if result.timed_recompiles:  # its samples hold compilation, not the model
        noise.noisy = True
        noise.noise_reason = "; ".join(filter(None, [f"recompiled {result.timed_recompiles}x during its timed calls",
                                                     noise.noise_reason]))
    return dict(compiles=result.compiles, compiles_s=result.compiles_s, timed_recompiles=result.timed_recompiles)
