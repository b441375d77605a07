"""Which points the claims rest on: `ok` points, less the noisy ones unless a reader asks
for them (`analysis.include_noisy=true` on summary and figures), so an exponent or a
crossover is never fitted to noise without saying so."""

from __future__ import annotations

import pandas as pd

from charsuite.errors import UsageError

KEY = "analysis.include_noisy"


def is_noisy(points: pd.DataFrame) -> pd.Series:
    if "noisy" not in points:
        return pd.Series(False, index=points.index)
    return points["noisy"].fillna(False).astype(bool)


def usable(points: pd.DataFrame, include_noisy: bool = False) -> pd.DataFrame:
    """The `ok` points claims are fitted to."""
    if points.empty:
        return points
    ok = points[points["status"] == "ok"]
    return ok if include_noisy else ok[~is_noisy(ok)]


def include_noisy_arg(argv: list[str]) -> tuple[list[str], bool]:
    """Takes `analysis.include_noisy=true|false` (Hydra's spelling) out of a command line."""
    rest, include = [], False
    for arg in argv:
        if arg.startswith(KEY + "="):
            value = arg.split("=", 1)[1].lower()
            if value not in ("true", "false"):
                raise UsageError(f"{KEY} takes true or false, got {value!r}")
            include = value == "true"
        else:
            rest.append(arg)
    return rest, include


# Two runs compared in one ratio must have run under one machine state: the bootstrap's interval covers
# the spread inside each run, not a change of load or threads between them (once "4.43x [4.11-4.94]"
# from runs measured at loads 3 and 30).
LOAD_PER_CORE_GAP = 0.5


def machine_state(points: pd.DataFrame) -> dict:
    """A run's state while its points ran: threads, and the median load per core."""
    ok = points[points["status"] == "ok"] if "status" in points else points
    threads = sorted({int(t) for t in ok.get("threads", pd.Series(dtype=float)).dropna()})
    load = ok.get("load_avg", pd.Series(dtype=float)).dropna()
    cores = max(threads) if threads else 1
    return {"threads": threads, "load_per_core": float(load.median()) / cores if len(load) else None}


def incomparable(a: pd.DataFrame, b: pd.DataFrame) -> str | None:
    """Why two runs' latencies cannot share one interval (threads or load differ), or None."""
    sa, sb = machine_state(a), machine_state(b)
    if sa["threads"] and sb["threads"] and sa["threads"] != sb["threads"]:
        return f"threads differ ({sa['threads']} vs {sb['threads']})"
    la, lb = sa["load_per_core"], sb["load_per_core"]
    if la is not None and lb is not None and abs(la - lb) > LOAD_PER_CORE_GAP:
        return f"measured at different loads ({la:.1f} vs {lb:.1f} per core)"
    return None
