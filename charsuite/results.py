"""The one results schema, written once and read by everything else.

results.jsonl  one JSON object per measured point, appended and fsync'd as it finishes
run.json       resolved config + environment
summary.json   per (model, device, phase): the OOM boundary and why the sweep stopped
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA = 1
RESULTS = "results.jsonl"
RUN = "run.json"
SUMMARY = "summary.json"
STATUSES = ("ok", "oom", "timeout", "crashed", "error", "skipped")
# A point is the same point when these match; a re-run skips it.
POINT_KEY = ("model", "size", "device", "dtype", "batch", "phase", "context", "logits", "profiled_phase")


def point_key(rec: dict[str, Any]) -> tuple:
    return tuple(rec.get(k) for k in POINT_KEY)


def append(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one point and make it durable before returning."""
    if record.get("status") not in STATUSES:
        raise ValueError(f"unknown point status {record.get('status')!r}; the schema knows {STATUSES}")
    line = json.dumps({"schema": SCHEMA, **record}, default=float) + "\n"
    with open(run_dir / RESULTS, "a") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_points(path: Path, quiet: bool = False) -> list[dict[str, Any]]:
    """Every complete line of a results.jsonl; a torn or garbled line is reported and skipped."""
    points = []
    if not path.exists():
        return points
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if not quiet:
                    print(f"charsuite: ignoring unreadable line {n} of {path}", file=sys.stderr)
                continue
            if isinstance(rec, dict):
                points.append(rec)
    return points


def finished(points: Iterable[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """Points a resumed run need not repeat (everything but `skipped`), latest wins."""
    return {point_key(p): p for p in points if p.get("status") != "skipped"}


def write_json(path: Path, data: Any) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def run_dirs(paths: Iterable[Path]) -> list[Path]:
    """Run folders under each path (a run folder itself, or a batch of them)."""
    out = []
    for p in map(Path, paths):
        if (p / RESULTS).exists():
            out.append(p)
        else:
            out.extend(sorted(q.parent for q in p.rglob(RESULTS)))
    return out


def load_table(paths: Iterable[Path]):
    """All points of the given run and batch folders as one pandas DataFrame,
    deduplicated (latest line per point and run wins), each row knowing its run folder."""
    import pandas as pd

    rows = []
    for d in run_dirs(paths):
        for rec in finished(read_points(d / RESULTS)).values():
            rows.append({**rec, "run_dir": str(d)})
    return pd.DataFrame(rows)


def load_summaries(paths: Iterable[Path]):
    """Every run's summary.json rows (one per phase) as a DataFrame, with the run's memory limit."""
    import pandas as pd

    rows = []
    for d in run_dirs(paths):
        run = read_json(d / RUN) or {}
        for s in read_json(d / SUMMARY) or []:
            rows.append({**s, "run_dir": str(d), "memory_limit_bytes": run.get("memory_limit_bytes"),
                         "config": run.get("config")})
    return pd.DataFrame(rows)
