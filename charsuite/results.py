"""The run folder on disk: written once here, read by everything else.

results.jsonl  one Point (records.py) per line, appended and fsync'd as it finishes
run.json       resolved config, environment, and what the read side needs (layout, sizes)
summary.json   per (model, device, phase): the OOM boundary and why the sweep stopped

This module imports no torch: the read side (summary, figures, export) runs without it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from charsuite.folder_lock import RunFolderBusy, lock
from charsuite.records import SCHEMA, Point, Status
from charsuite.run_records import RunRecord

RESULTS = "results.jsonl"
RUN = "run.json"
SUMMARY = "summary.json"
JOB_STATUS = "job_status.json"  # a batch job's outcome (ok / failed and why), beside its results
BATCH_ID_ENV = "CHARSUITE_BATCH_ID"  # set for a batch's jobs: their job_status.json says which batch ran them
SLURM_JOBS = "slurm_jobs.json"  # in a batch folder: the scheduler's word on every job (charsuite.scheduler)
__all__ = ["SCHEMA", "RESULTS", "RUN", "SUMMARY", "JOB_STATUS", "SLURM_JOBS", "append", "read_points", "finished",
           "write_json", "read_json",
           "run_dirs", "load_table", "load_summaries", "latest", "lock", "RunFolderBusy", "RunFolderError"]


def append(run_dir: Path, point: Point) -> None:
    """Append one point and make it durable before returning. A file whose last line was
    torn (a crash mid-write) gets a newline first, so the new record is a whole line and
    the fragment stays one unreadable line that readers report and skip."""
    line = json.dumps(point.to_dict(), default=float) + "\n"
    path = run_dir / RESULTS
    torn = False
    if path.exists() and path.stat().st_size:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
    try:
        with open(path, "a") as f:
            f.write(("\n" if torn else "") + line)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise RunFolderError(f"cannot write to {run_dir}: {exc.strerror or exc}; every point finished before "
                             f"this one is in {path}") from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a measurement")


def parse_line(raw: bytes) -> Point:
    """One results.jsonl line as a Point; ValueError (with why) for a line that is not one:
    not UTF-8, not JSON, NaN or infinity, a field of the wrong type."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return Point.from_dict(data)


def read_points(path: Path, quiet: bool = False) -> list[Point]:
    """Every complete line of a results.jsonl; lines that are torn, garbled or of the wrong types
    are skipped and counted in one warning line per file."""
    points, bad = [], []
    if not path.exists():
        return points
    if not path.is_file():
        if not quiet:
            print(f"charsuite: ignoring {path}: not a file", file=sys.stderr)
        return points
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                points.append(parse_line(raw))
            except (ValueError, TypeError, AttributeError) as exc:
                bad.append((n, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
    if bad and not quiet:
        listed = ", ".join(f"line {n} ({why})" for n, why in bad[:5]) + (", ..." if len(bad) > 5 else "")
        print(f"charsuite: {path}: skipped {len(bad)} unreadable line{'s' if len(bad) > 1 else ''}: {listed}",
              file=sys.stderr)
    return points


def latest(points: Iterable[Point], run_id: str | None = None) -> dict[tuple, Point]:
    """The latest line of each point, of the run `run_id` when given (lines written under
    other settings are left out; lines older than run ids are kept)."""
    return {p.key: p for p in points if run_id is None or p.run_id in (None, run_id)}


def finished(points: Iterable[Point], run_id: str | None = None) -> dict[tuple, Point]:
    """Points a resumed run need not repeat: ok and oom (their latest line wins)."""
    return {k: p for k, p in latest(points, run_id).items() if p.kept}


class RunFolderError(RuntimeError):
    """The run folder cannot be written (disk full, read-only): the run ends, one line says why."""


def write_json(path: Path, data: Any) -> None:
    """Write atomically: a reader never sees half a file, and a failed write leaves no temp file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunFolderError(f"cannot write {path}: {exc.strerror or exc}") from None


def read_json(path: Path, shape: type | None = None) -> Any:
    """A run folder's JSON file (None where it is absent); ValueError when it is not JSON or,
    with `shape`, its top level is not that type (run.json a dict, summary.json a list of dicts)."""
    if not path.exists():
        return None
    data = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    if shape is not None and not isinstance(data, shape):
        raise ValueError(f"{path.name} holds a JSON {type(data).__name__}, not a {shape.__name__}")
    if shape is list and not all(isinstance(row, dict) for row in data):
        raise ValueError(f"{path.name} holds a list of other things than objects")
    return data


def read_json_or_none(path: Path, shape: type | None = None) -> Any:
    """A run folder's JSON for a reader: a truncated, garbled or misshapen file is reported and read as missing."""
    try:
        return read_json(path, shape)
    except (OSError, ValueError, RecursionError) as exc:
        print(f"charsuite: ignoring unreadable {path} ({' '.join(str(exc).split())[:120]})", file=sys.stderr)
        return None


def read_run(folder: Path) -> RunRecord:
    """run.json for a reader, as its record: empty where it is missing or unreadable, and a field of the wrong
    type left out (with one warning line)."""
    data = read_json_or_none(folder / RUN, dict) or {}
    record = RunRecord.from_dict(data)
    wrong = [k for k, v in record.as_dict().items() if v is None and data.get(k) is not None]
    if wrong:
        print(f"charsuite: ignoring {', '.join(wrong)} in {folder / RUN} (of the wrong type)", file=sys.stderr)
    return record


def check_folders(paths: Iterable[Path]) -> None:
    """Bad input for a reader: a path that is not there, or not a folder."""
    from charsuite.config import ConfigError

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    missing = [str(p) for p in paths if not Path(p).is_dir()]
    if missing:
        raise ConfigError(f"no such folder: {', '.join(missing)}")


def check_writable(folder: Path) -> None:
    """Bad input for a writer: an output folder that cannot be made or written (checked before any work)."""
    from charsuite.config import ConfigError

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"output folder {folder} is not writable")


def run_dirs(paths: Iterable[Path]) -> list[Path]:
    """Run folders under each path (a run folder itself, or a batch of them); one path may be given alone."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = []
    for p in map(Path, paths):
        if (p / RESULTS).exists():
            out.append(p)
        else:
            out.extend(sorted(q.parent for q in p.rglob(RESULTS)))
    return out


def load_points(paths: Iterable[Path]) -> list[tuple[Path, Point]]:
    """Every point of the given run and batch folders with its run folder, deduplicated (latest line per point
    and run wins); lines written under other settings left out (said once per folder), skipped ones too."""
    out = []
    for d in run_dirs(paths):
        points = read_points(d / RESULTS)
        mine = latest(points, read_run(d).fingerprint_id)
        if len(mine) < len({p.key for p in points}):
            print(f"charsuite: {d}: leaving out lines written under other settings", file=sys.stderr)
        out.extend((d, p) for p in mine.values() if p.status is not Status.skipped)
    return out


def load_table(paths: Iterable[Path]):
    """All points of the given run and batch folders as one pandas DataFrame (load_points), each row knowing its
    run folder."""
    import pandas as pd

    return pd.DataFrame([{**p.to_dict(), "run_dir": str(d)} for d, p in load_points(paths)])


def load_summaries(paths: Iterable[Path]):
    """Every run's summary.json rows (one per phase) as a DataFrame, with its run's memory limit and run.json's
    record (`run`: the resolved config, model facts, calibration)."""
    import pandas as pd

    from charsuite.phase_summary import PhaseSummary

    rows = []
    for d in run_dirs(paths):
        run = read_run(d)
        for s in filter(None, map(PhaseSummary.from_dict, read_json_or_none(d / SUMMARY, list) or [])):
            rows.append({**s.as_dict(), "run_dir": str(d), "memory_limit_bytes": run.memory_limit_bytes, "run": run})
    return pd.DataFrame(rows)
