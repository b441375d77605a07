"""A run folder's life beside its files: an earlier run moved aside (resume=false), and what a run
refused before its first point wrote taken away again, so refusals leave no folders behind."""

from __future__ import annotations

import time
from pathlib import Path

from charsuite import results
from charsuite.results import JOB_STATUS


def move_aside(run_dir: Path) -> Path | None:
    """resume=false on a folder that holds results: the old run moves to a sibling folder."""
    if not (run_dir / results.RESULTS).exists():
        return None
    dest = run_dir.with_name(f"{run_dir.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
    dest.mkdir()
    for name in (results.RESULTS, results.RUN, results.SUMMARY, JOB_STATUS, "profiles"):
        if (run_dir / name).exists():
            (run_dir / name).rename(dest / name)
    return dest


def discard_unused(run_dir: Path) -> None:
    """A run refused before its first point leaves no folder behind: what Hydra and the refused run wrote
    there (.hydra, its log, run.json, the lock) goes, and the folder too if nothing else is in it."""
    import shutil

    if (run_dir / results.RESULTS).exists() or not run_dir.is_dir():
        return
    ours = {".hydra", "__main__.log", results.RUN, ".lock"}
    if any(p.name not in ours for p in run_dir.iterdir()):
        return  # a folder the user keeps other things in: left as it is
    try:
        held = results.lock(run_dir)
    except (results.RunFolderBusy, OSError):
        return  # another driver's run, just started: never touched
    try:
        for p in run_dir.iterdir():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    finally:
        held.close()
    run_dir.rmdir()
