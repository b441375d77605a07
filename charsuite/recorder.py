"""What a run has recorded: builds each Point with the run's identity, appends it to
results.jsonl, and remembers finished points so a resumed run replays instead of
measuring again: ok and oom points are kept; error, crashed, timeout and skipped points
are measured again (and, with remeasure=noisy, ok points flagged noisy), and so are points
measured elsewhere (another host, or a local run's points in a Slurm job)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from charsuite import results
from charsuite.analysis.roofline import point_shares
from charsuite.config import RunConfig
from charsuite.environment import measured_on
from charsuite.records import Point, Status
from charsuite.run_records import RunRecord


class Recorder:
    def __init__(self, run_dir: Path, run: RunConfig, params: int | None, run_id: str | None = None,
                 mixers: dict[str, int] | None = None, record: RunRecord | None = None):
        """`record`: run.json's record (model facts, config, calibration, the plan's cap) - each ok point's
        roofline position (mfu, mbu) is read against it as the point is recorded."""
        self.run_dir, self.run, self.params, self.run_id, self.mixers = run_dir, run, params, run_id, mixers
        self.record_of_run = record
        self.done: dict[tuple, Point] = {}
        self.skipped: set[tuple] = set()
        self.here = measured_on()
        self.elsewhere: set[str] = set()  # where the points this run measures again were measured
        if run.resume:
            self.done = results.finished(results.read_points(run_dir / results.RESULTS), run_id)
            self.elsewhere = {p.measured_on for p in self.done.values() if p.measured_on not in (None, self.here)}
            self.done = {k: p for k, p in self.done.items() if p.measured_on in (None, self.here)}
            if run.remeasure == "noisy":  # measured again; the newer line wins
                self.done = {k: p for k, p in self.done.items() if not (p.status is Status.ok and p.noisy)}
        # which driver session measured a line (its start, UTC): a curve resumed across sessions says so
        self.session = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def point(self, phase: str, context: int, **fields: Any) -> Point:
        """A new point of this run (not yet recorded)."""
        m, d, w = self.run.model, self.run.device, self.run.workload
        base = dict(model=m.name, size=m.size, family=m.family, mixers=self.mixers, params=self.params,
                    device=d.name, dtype=m.dtype, batch=w.batch, phase=phase, context=context,
                    logits=w.logits if phase == "prefill" else "last",
                    mode=w.mode, prefill_chunk=w.prefill_chunk,
                    memory_limit_bytes=(self.record_of_run.memory_limit_bytes if self.record_of_run is not None
                                        else d.memory_limit_bytes()), run_id=self.run_id, session=self.session,
                    measured_on=self.here)
        return Point(**{**base, **fields})

    def recorded(self, point: Point) -> Point | None:
        return self.done.get(point.key)

    def measured(self, phase: str, context: int) -> Point | None:
        """The recorded `ok` point of a phase at a length, if any."""
        p = self.done.get(self.point(phase, context).key)
        return p if p is not None and p.status is Status.ok else None

    def record(self, point: Point) -> Point:
        point.finished_at = time.time()
        if self.record_of_run is not None and point.status is Status.ok and point.phase in ("prefill", "decode"):
            shares = point_shares(self.record_of_run, point.to_dict())
            if shares is not None and (shares["flops_share"] is not None or shares["bandwidth_share"] is not None):
                point.mfu, point.mbu = shares["flops_share"], shares["bandwidth_share"]
                point.peak_basis = shares["peak_basis"]
        results.append(self.run_dir, point)
        if point.status is Status.skipped:
            self.skipped.add(point.key)
        else:
            self.done[point.key] = point  # in this run's memory even if a resume would measure it again
        return point

    def points(self) -> list[Point]:
        return list(self.done.values())
