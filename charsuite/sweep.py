"""Scale the context until the model no longer fits, and find exactly where.

For each phase the plan (plan.py) walks the ladder and bisects at the first
out-of-memory; each probe is one point, measured by the worker (driver.py) and recorded
(recorder.py) as it finishes; a re-run replays recorded points instead of measuring them
again, so a killed sweep resumes to the same set of points. The sweep never touches a model.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from charsuite.config import ConfigError, RunConfig
from charsuite.driver import WorkerDriver
from charsuite.phase_summary import PhaseSummary
from charsuite.plan import Boundary, search
from charsuite.profiling import run_profiles
from charsuite.recorder import Recorder
from charsuite.records import Point, Reply, Status
from charsuite.run_predictions import RunPredictions
from charsuite.worker_requests import Measure


class Sweep:
    def __init__(self, run: RunConfig, driver: WorkerDriver, recorder: Recorder, progress: Any = None,
                 predictions: RunPredictions | None = None):
        """`predictions`: what the run's own models predict beside each point (run_predictions.py); None: nothing
        (a test's sweep)."""
        self.run, self.driver, self.recorder, self.progress = run, driver, recorder, progress
        self.predictions = predictions
        self.predicted: int | None = None
        self.deadline = time.monotonic() + run.workload.budget_s if run.workload.budget_s is not None else None

    def measure(self, phase: str, context: int) -> Reply:
        if self.deadline is not None and time.monotonic() > self.deadline:
            return Reply.failed(Status.skipped, self.budget_reason())
        if phase == "decode":
            refused = self.driver.check_guard()
            if refused:
                return refused
        return self.driver.request(Measure(phase, context))

    def probe(self, phase: str, context: int, how: str) -> Status:
        point = self.recorder.point(phase, context)
        earlier = self.recorder.recorded(point)
        if earlier is not None:
            self.note(phase, context, earlier, resumed=True)
            return earlier.status
        if self.progress:
            self.progress.point(phase, context, how)
        fresh = self.driver.fresh
        load_before = os.getloadavg()[0]
        reply = self.measure(phase, context)
        if reply.status is Status.oom and not fresh and self.run.device.kind == "cpu":
            # A warm worker's heap (glibc keeps what earlier points freed) can fail an allocation a
            # fresh process makes: an out-of-memory counts only from a worker with no history, so
            # ladder, bisection and a predicted start agree on one boundary.
            if self.progress:
                self.progress.point(phase, context, f"{how}, out of memory: confirming in a fresh worker")
            self.driver.retire()
            reply = self.measure(phase, context)
        quieter = os.getloadavg()[0] < load_before / 2  # a timeout is tried again only on a quieter machine
        if reply.status is Status.timeout and not quieter:
            reply.error = (f"{reply.error} (not retried: the machine's load is as it was, {os.getloadavg()[0]:.1f}; "
                           "raise workload.timeout_s or re-run when it is quieter)")
        elif reply.status in (Status.crashed, Status.timeout):  # once more, in a fresh worker
            if self.progress:
                self.progress.point(phase, context, f"{how}, retry after {reply.status.value}")
            first = reply
            reply = self.measure(phase, context)
            if reply.status in (Status.crashed, Status.timeout):
                reply.error = f"{reply.error} (and before: {first.error}; retried once in a fresh worker)"
        guard = self.driver.guard
        point = dataclasses.replace(point, **reply.measurement())
        point.power_monitor = reply.power_monitor or self.driver.info.power_monitor
        point.isolation_overhead_s = reply.isolation_overhead_s
        point.device_name = self.driver.info.device_name
        point.threads = self.driver.info.threads
        point.engine, point.impl = self.driver.info.engine, self.driver.info.impl
        point.quant = self.driver.info.quant
        # what the worker built and ran, where it says (the driver's facts are the zoo's transformers build)
        point.params = self.driver.info.params or point.params
        point.mode = self.driver.info.mode or point.mode
        point.probe = how
        point.guard_max_abs_dlogit = guard.max_abs_dlogit if phase == "decode" and guard else None
        if self.predictions is not None:
            point.mem_predicted = self.predictions.memory(phase, context)
            if point.status is Status.ok:
                point.latency_predicted_s = self.predictions.latency(phase, context)
                point.latency_predicted_basis = self.predictions.latency_basis if point.latency_predicted_s else None
        self.recorder.record(point)
        self.note(phase, context, point, resumed=False)
        return point.status

    def note(self, phase: str, context: int, point: Point, resumed: bool) -> None:
        if self.progress:
            self.progress.done(phase, context, point, resumed)

    def execute(self) -> list[PhaseSummary]:
        """Every phase searched, then the profiles; returns summary.json's rows."""
        lengths = self.run.context.lengths()
        phases = list(self.run.workload.phases)
        summary, out_of_budget = [], False
        try:
            self.start_worker()
            if self.run.workload.prefill_chunk:
                self.driver.check_chunking()
            if self.run.context.start == "predicted" and self.predictions is not None:
                self.predicted = self.predictions.boundary(int(self.driver.info.resident_bytes or 0))
            if self.progress:
                profiled = ([(f"profile:{p}", n) for n in self.run.profile.contexts for p in phases]
                            if self.run.profile.enabled else [])
                self.progress.start(len(lengths) * len(phases), [(p, n) for p in phases for n in lengths], profiled)
            for phase in phases:
                reach = self.reach(phase)  # a model with learned positions holds no longer sequence
                mine = [n for n in lengths if reach is None or n <= reach]
                if len(mine) < len(lengths):
                    self._skip([phase], [n for n in lengths if n not in mine],
                               f"past the model's {self.driver.info.max_positions} learned positions")
                if out_of_budget:
                    b = Boundary(stop_reason=Status.skipped.value)
                else:
                    b = search(mine, lambda n, how, p=phase: self.probe(p, n, how), self.run.context.tolerance_at,
                               self.predicted) if mine else Boundary()
                    if len(mine) < len(lengths) and b.stop_reason == "reached context.max":
                        b.stop_reason = f"reached the model's {self.driver.info.max_positions} learned positions"
                    if b.stop_reason == Status.skipped.value:
                        out_of_budget = True
                        self._skip([phase], [n for n in mine if n >= (b.failed_at or 0)], self.budget_reason())
                    elif b.failed_at is not None:  # error, crashed or timeout: the lengths above are not reached
                        self._skip([phase], [n for n in mine if n > b.failed_at], f"not reached: {b.reason}")
                if out_of_budget and b.probes == 0:
                    self._skip([phase], lengths, self.budget_reason())
                summary.append(PhaseSummary(
                    **self._summary_base(phase), max_context_ok=b.max_ok, min_context_oom=b.min_oom, probes=b.probes,
                    stop_reason=b.reason, failed_at=b.failed_at, predicted_start=self.predicted,
                    noisy_points=self.noisy_points(phase)))
            if self.run.profile.enabled and not out_of_budget:
                run_profiles(self.run, self.driver, self.recorder, self.note)
        except BaseException:  # an interrupt or a failure of the driver itself: the worker goes at once
            self.driver.kill()
            raise
        finally:
            self.driver.retire()
        return summary

    def reach(self, phase: str) -> int | None:
        """The longest context a phase can run on a model with learned positions (decode adds its tokens
        after the context: GPT-Neo's 2,048 positions once made its 2K decode point an IndexError)."""
        limit = self.driver.info.max_positions
        if not limit:
            return None
        return limit - (self.run.workload.decode_tokens + 1 if phase == "decode" else 0)

    def start_worker(self) -> None:
        """Build the model once before any point: a model that cannot be set up here
        (pretrained weights offline, an attention implementation not installed, a cap too
        small to load it) fails every point, so it is bad input, said once."""
        failed = self.driver.ensure()
        if failed is not None:
            hint = "; device.memory_gb may be too small to load the model" if failed.status is Status.oom else ""
            raise ConfigError(f"cannot set up {self.run.model.name} {self.run.model.size} in the worker: "
                              f"{failed.error}{hint}")

    def noisy_points(self, phase: str) -> int:
        return sum(bool(p.noisy) for p in self.recorder.points() if p.phase == phase and p.status is Status.ok)

    def budget_reason(self) -> str:
        return f"run budget of {self.run.workload.budget_s:g} s exhausted"

    def _summary_base(self, phase: str) -> dict[str, Any]:
        p = self.recorder.point(phase, 0)
        return {k: getattr(p, k) for k in ("model", "size", "family", "mixers", "device", "dtype", "batch", "phase",
                                           "mode", "prefill_chunk")}

    def _skip(self, phases: list[str], lengths: list[int], reason: str) -> None:
        """Record every ladder point a phase did not reach, and why, so nothing is silently dropped."""
        for phase in phases:
            for n in lengths:
                point = self.recorder.point(phase, n, status=Status.skipped, probe="ladder", error=reason)
                if self.recorder.recorded(point) is None and point.key not in self.recorder.skipped:
                    self.recorder.record(point)


