"""One row of summary.json - how one phase's search of one run ended - as a record: the sweep writes it, every
report reads it back through `from_dict` (results.load_summaries), so no loose dict lands on disk or is read
from it. A row older than a field reads it as None; a row that is not an object, or whose numbers are not
numbers, is no row (a hand-edited or torn file is read as far as it is whole)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

INTS = ("batch", "max_context_ok", "min_context_oom", "probes", "failed_at", "predicted_start", "noisy_points",
        "prefill_chunk")


@dataclass
class PhaseSummary:
    model: str
    size: str
    family: str
    device: str
    dtype: str
    batch: int
    phase: str                            # prefill | decode
    max_context_ok: int | None = None     # the largest length that ran
    min_context_oom: int | None = None    # the smallest that ran out of memory
    probes: int | None = None
    stop_reason: str | None = None        # why the search stopped, in words
    failed_at: int | None = None          # a length that failed other than by memory
    mixers: dict[str, int] | None = None
    mode: str | None = None
    prefill_chunk: int | None = None
    predicted_start: int | None = None    # context.start=predicted: the dry-run's boundary the search began at
    noisy_points: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> PhaseSummary | None:
        if not isinstance(data, dict):
            return None
        names = {f.name for f in dataclasses.fields(cls)}
        row = {k: v for k, v in data.items() if k in names}
        for k in INTS:
            v = row.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v != v):
                return None
            if v is not None:
                row[k] = int(v)
        if not all(isinstance(row.get(k), str) for k in ("model", "phase")):
            return None
        for k in ("size", "family", "device", "dtype"):
            row[k] = str(row.get(k)) if row.get(k) is not None else ""
        row.setdefault("batch", 1)
        return cls(**row)
