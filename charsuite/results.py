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

from charsuite.records import SCHEMA, Point, Status

RESULTS = "results.jsonl"
RUN = "run.json"
SUMMARY = "summary.json"
JOB_STATUS = "job_status.json"  # a batch job's outcome (ok / failed and why), beside its results
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


def read_points(path: Path, quiet: bool = False) -> list[Point]:
    """Every complete line of a results.jsonl; a torn or garbled line is reported and skipped."""
    points = []
    if not path.exists():
        return points
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                points.append(Point.from_dict(json.loads(line)))
            except (json.JSONDecodeError, ValueError, TypeError, AttributeError):
                if not quiet:
                    print(f"charsuite: ignoring unreadable line {n} of {path}", file=sys.stderr)
    return points


class RunFolderBusy(RuntimeError):
    """Another driver holds the run folder."""


def lock(run_dir: Path):
    """Hold the run folder for this process: an exclusive flock on run_dir/.lock, released
    by the kernel when the process ends however it ends. Raises RunFolderBusy naming the
    holder's pid. Returns the open lock file (keep it referenced)."""
    import fcntl

    f = open(run_dir / ".lock", "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise RunFolderBusy(f"run folder {run_dir} is in use by another charsuite driver (pid {holder}); "
                            "wait for it or pass hydra.run.dir=ANOTHER_FOLDER") from None
    f.truncate(0)
    f.write(str(os.getpid()))
    f.flush()
    return f


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


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def read_json_or_none(path: Path) -> Any:
    """A run folder's JSON for a reader: a truncated or garbled file is reported and read as missing."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        print(f"charsuite: ignoring unreadable {path}", file=sys.stderr)
        return None


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


def load_table(paths: Iterable[Path]):
    """All points of the given run and batch folders as one pandas DataFrame,
    deduplicated (latest line per point and run wins), each row knowing its run folder."""
    import pandas as pd

    rows = []
    for d in run_dirs(paths):
        run_id = (read_json_or_none(d / RUN) or {}).get("fingerprint_id")
        points = read_points(d / RESULTS)
        mine = latest(points, run_id)
        if len(mine) < len({p.key for p in points}):
            print(f"charsuite: {d}: leaving out lines written under other settings", file=sys.stderr)
        rows.extend({**p.to_dict(), "run_dir": str(d)} for p in mine.values() if p.status is not Status.skipped)
    return pd.DataFrame(rows)


def load_summaries(paths: Iterable[Path]):
    """Every run's summary.json rows (one per phase) as a DataFrame, with what run.json
    recorded for the read side (memory limit, resolved config, model facts)."""
    import pandas as pd

    rows = []
    for d in run_dirs(paths):
        run = read_json_or_none(d / RUN) or {}
        for s in read_json_or_none(d / SUMMARY) or []:
            rows.append({**s, "run_dir": str(d), "memory_limit_bytes": run.get("memory_limit_bytes"),
                         "config": run.get("config"), "model_facts": run.get("model_facts")})
    return pd.DataFrame(rows)
