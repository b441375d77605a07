"""How each model's sweep of a phase ended, in the words every table, figure and report uses: the
out-of-memory boundary with its bracket, context.max reached, a timeout, error or crash at a length
(with the point's own error line), or a run budget that ran out. Read from summary.json's row
(stop_reason, failed_at, max_context_ok, min_context_oom) and the run's points; no torch.

A run that stopped on a timeout once read "max context prefill 2K" in the Models table, and the
max-context figure's caption said such a bar "stopped at context.max" (issue 32)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from charsuite.units import human_tokens


def _n(v: Any) -> int | None:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else int(v)


def error_line(points: pd.DataFrame, run_dir: str, phase: str, context: int | None) -> str | None:
    """The first line of the error of the point a phase stopped at, from the run's points."""
    if context is None or points.empty or "error" not in points:
        return None
    p = points[(points["run_dir"] == run_dir) & (points["phase"] == phase) & (points["context"] == context)]
    errors = [e for e in p["error"] if isinstance(e, str) and e.strip()]
    return errors[-1].strip().splitlines()[0][:100] if errors else None


def ended(row: Any, error: str | None = None) -> str:
    """How the phase's sweep ended: 'OOM at 2.3K', 'reached context.max', 'timeout at 4K', 'error at
    1K: ...', 'budget ran out'."""
    reason = str(row.get("stop_reason") or "")
    oom, at = _n(row.get("min_context_oom")), _n(row.get("failed_at"))
    if reason == "out of memory" or (not reason and oom):
        return f"OOM at {human_tokens(oom)}" if oom else "out of memory"
    if reason.startswith("reached ") or reason == "run budget exhausted":
        return "budget ran out" if reason == "run budget exhausted" else reason
    word = reason.split(" at ")[0] or "stopped"
    return f"{word} at {human_tokens(at)}" + (f": {error}" if error else "") if at else word


def max_context_cell(row: Any, points: pd.DataFrame | None = None) -> str:
    """'2K (OOM at 2.3K)', '4K (reached context.max)', '2K (timeout at 4K)', 'none (error at 256: ...)'."""
    if row is None or (isinstance(row, dict) and not row):
        return "-"
    ok = _n(row.get("max_context_ok"))
    error = None
    if points is not None and str(row.get("stop_reason") or "").split(" at ")[0] in ("error", "crashed", "timeout"):
        error = error_line(points, row.get("run_dir"), row.get("phase"), _n(row.get("failed_at")))
    return f"{human_tokens(ok) if ok else 'none'} ({ended(row, error)})"
