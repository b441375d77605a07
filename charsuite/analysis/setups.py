"""How a run was executed, as the read side names it: the settings that make two runs of
one model on one device different series (logits kept, mode, prefill chunking, the mixers'
code path), a label that shows only the settings that differ, and each pair's speedup.
"""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

from charsuite.engines import memory_model_applies, setup_label
from charsuite.engines.provenance import summary as impl_summary
from charsuite.units import human_tokens

SETTINGS = ("logits", "mode", "chunk", "impl", "engine")
PAIR_SETTINGS = ("mode", "chunk", "impl", "engine")  # the execution paths the summary compares pairwise


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _first(rows, col: str) -> Any:
    """The first given value of a column of result lines, or None."""
    vals = [v for v in (rows[col] if col in rows else []) if not _missing(v)]
    return vals[0] if vals else None


def setup(rows) -> dict[str, str]:
    """The settings of one run, from its result lines (a DataFrame), lines older than the
    fields read as eager, one-shot."""
    logits = "all" if "all" in set(rows["logits"].dropna()) else "last"
    chunk = _first(rows, "prefill_chunk")
    impl = _first(rows, "impl")
    # a weight type is part of how it ran: "llamacpp q8_0"
    engine = setup_label(_first(rows, "engine"), _first(rows, "quant"))
    return {"logits": logits, "mode": _first(rows, "mode") or "eager",
            "chunk": f"chunk {human_tokens(int(chunk))}" if chunk else "one-shot",
            "impl": impl_summary(impl if isinstance(impl, dict) else None) or "-", "engine": engine}


def modelled(rows) -> bool:
    """Whether the closed-form memory model describes the run of these result lines (a DataFrame):
    a one-shot prefill on the engine it was derived from (engines.memory_model_applies)."""
    return memory_model_applies(_first(rows, "engine"), _first(rows, "prefill_chunk"))


def differing(setups: list[dict[str, str]]) -> list[str]:
    """The settings whose values differ among these runs, in SETTINGS order. Where the engines
    differ, the mixers' code path is not a difference: it is transformers' own, and another
    engine has none to match."""
    keys = [k for k in SETTINGS if len({s[k] for s in setups}) > 1]
    return [k for k in keys if k != "impl"] if "engine" in keys else keys


def like_for_like(a, b) -> bool:
    """Two runs' lines (DataFrames) whose latencies may be compared across architectures: the
    same logits kept, mode, chunking and engine (their mixer paths differ by nature)."""
    sa, sb = setup(a), setup(b)
    return all(sa[k] == sb[k] for k in ("logits", "mode", "chunk", "engine"))


def label(mine: dict[str, str], keys: list[str]) -> str:
    """The given settings' values for this run, as "compile, chunk 4K"."""
    words = [f"logits={mine[k]}" if k == "logits" else mine[k] for k in keys]
    return ", ".join(words)


def bootstrap_speedup(a: dict[int, list[float]], b: dict[int, list[float]], n: int = 500,
                      seed: int = 0) -> dict[str, Any] | None:
    """How many times faster `a` is than `b` over the contexts both measured: the geometric
    mean of median(b)/median(a), with a 95% bootstrap interval (each resample redraws every
    point's repeats, as the crossovers' interval does; none where a point has one sample).
    None without a shared context."""
    shared = sorted(c for c in set(a) & set(b) if a[c] and b[c])
    if not shared:
        return None
    rng = random.Random(seed)

    def gmean(pick) -> float:
        return math.exp(statistics.fmean(math.log(pick(b[c]) / pick(a[c])) for c in shared))

    estimate = gmean(statistics.median)
    if any(len(a[c]) < 2 or len(b[c]) < 2 for c in shared):  # one sample: nothing to resample
        return {"speedup": estimate, "ci95": None, "contexts": shared}
    draws = sorted(gmean(lambda s: statistics.median(rng.choices(s, k=len(s)))) for _ in range(n))
    return {"speedup": estimate, "ci95": (draws[int(0.025 * n)], draws[min(n - 1, int(0.975 * n))]),
            "contexts": shared}
