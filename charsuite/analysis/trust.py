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
