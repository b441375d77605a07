"""Scale the context until the model no longer fits, and find exactly where.

For each phase: walk the ladder; at the first out-of-memory, bisect between the last
length that ran and the first that did not, down to the tolerance, then stop. Every
point is appended to results.jsonl as it finishes; a re-run replays recorded points
instead of measuring them again, so a killed sweep resumes to the same set of points.
The sweep never touches a model: the worker does (isolation.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charsuite import results
from charsuite.config import RunConfig
from charsuite.isolation import Worker
from charsuite.profiling import run_profiles

ENERGY_FIELDS = ("energy_j", "energy_per_token_j", "energy_above_idle_j", "avg_power_w", "idle_power_w",
                 "power_sample_hz", "temperature_max_c", "clock_min_mhz", "throttled")


@dataclass
class Boundary:
    """What a phase's search found: largest length that ran, smallest that ran out of memory."""

    max_ok: int | None = None
    min_oom: int | None = None
    probes: int = 0
    stop_reason: str = "reached context.max"
    failed_at: int | None = None


def search(lengths: list[int], probe: Callable[[int, str], str], tolerance_at: Callable[[int], int]) -> Boundary:
    """Ladder walk then bisection. `probe(length, how)` returns the point's status.
    Probes <= ladder steps up to the first OOM + ceil(log2(gap / tolerance))."""
    b = Boundary()
    for n in lengths:
        status = probe(n, "ladder")
        b.probes += 1
        if status == "ok":
            b.max_ok = n
            continue
        if status == "oom":
            b.min_oom = n
            b.stop_reason = "out of memory"
            break
        b.failed_at, b.stop_reason = n, status
        return b
    if b.min_oom is None or b.max_ok is None:
        return b
    lo, hi = b.max_ok, b.min_oom
    while hi - lo > tolerance_at(lo):
        mid = (lo + hi) // 2
        status = probe(mid, "bisect")
        b.probes += 1
        if status == "ok":
            lo = b.max_ok = mid
        elif status == "oom":
            hi = b.min_oom = mid
        else:
            b.failed_at, b.stop_reason = mid, status
            break
    return b


@dataclass
class Sweep:
    run: RunConfig
    run_dir: Path
    progress: Any = None
    params: int | None = None
    buffer_bytes: int | None = None
    worker: Worker | None = None
    guard: dict[str, Any] | None = None
    done: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    deadline: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    summary: list[dict[str, Any]] = field(default_factory=list)
    skipped: set = field(default_factory=set)

    def base(self, phase: str, context: int) -> dict[str, Any]:
        m, d, w = self.run.model, self.run.device, self.run.workload
        return {
            "model": m.name, "size": m.size, "family": m.family, "params": self.params,
            "device": d.name, "device_name": self.info.get("device_name"), "dtype": m.dtype,
            "batch": w.batch, "phase": phase, "context": context, "logits": w.logits if phase == "prefill" else "last",
        }

    def predicted_mem(self, phase: str, context: int) -> dict[str, int] | None:
        """The analytic memory model's bytes for this point, recorded beside the measurement."""
        from charsuite.analysis.memory_model import predict

        w = self.run.workload
        try:
            p = predict(self.run.model, context, w.batch, w.logits if phase == "prefill" else "last",
                        params=self.params, buffers=self.buffer_bytes)
        except ValueError:  # an architecture the model does not know
            return None
        return p.as_dict()

    # -- the worker ---------------------------------------------------------------
    def ensure_worker(self) -> dict[str, Any] | None:
        """A live worker, or the failed setup reply if the model cannot even be built."""
        if self.worker is not None and self.worker.alive:
            return None
        self.worker = Worker(self.run, setup_timeout_s=max(self.run.workload.timeout_s, 600.0))
        reply = self.worker.start()
        if reply["status"] != "ok":
            self.worker.close()
            self.worker = None
            return reply
        self.info.update(self.worker.info)
        return None

    def retire_worker(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def run_guard(self) -> dict[str, Any] | None:
        if self.guard is None:
            failed = self.ensure_worker()
            if failed:
                return failed
            reply = self.worker.request({"cmd": "guard"}, self.run.workload.timeout_s)
            if reply["status"] != "ok":
                self.retire_worker()
                return reply
            self.guard = {k: reply[k] for k in ("max_abs_dlogit", "tolerance", "passed")}
        return None

    # -- one point ------------------------------------------------------------------
    def measure(self, phase: str, context: int) -> dict[str, Any]:
        if self.deadline is not None and time.monotonic() > self.deadline:
            return {"status": "skipped", "error": f"run budget of {self.run.workload.budget_s:g} s exhausted"}
        if phase == "decode":
            failed = self.run_guard()
            if failed:
                return failed
            if not self.guard["passed"]:
                return {"status": "error", "error": f"cached decode disagrees with a full forward: max |dlogit| "
                                                    f"{self.guard['max_abs_dlogit']:.3g} > {self.guard['tolerance']:g}"}
        failed = self.ensure_worker()
        if failed:
            return failed
        reply = self.worker.request({"cmd": "measure", "phase": phase, "context": context},
                                    self.run.workload.timeout_s)
        if reply["status"] != "ok":
            self.retire_worker()  # after any failure, a fresh process
        return reply

    def probe(self, phase: str, context: int, how: str) -> str:
        rec = self.base(phase, context)
        key = results.point_key(rec)
        if key in self.done:
            status = self.done[key]["status"]
            self.note(phase, context, status, self.done[key], resumed=True)
            return status
        if self.progress:
            self.progress.point(phase, context, how)
        reply = self.measure(phase, context)
        rec.update({
            "device_name": self.info.get("device_name"),
            "status": reply["status"],
            "error": reply.get("error"),
            "latency_s": reply.get("latency_s"),
            "latency_samples_s": reply.get("latency_samples_s"),
            "tokens_per_s": reply.get("tokens_per_s"),
            "peak_mem_bytes": reply.get("peak_mem_bytes"),
            "mem": reply.get("mem"),
            **{k: reply.get(k) for k in ENERGY_FIELDS},
            "power_monitor": reply.get("power_monitor", self.info.get("power_monitor")),
            "breakdown": None,
            "probe": how,
            "stderr_tail": reply.get("stderr_tail"),
            "isolation_overhead_s": (reply["wall_s"] - reply["worker_s"]) if "worker_s" in reply and "wall_s" in reply
            else None,
            "guard_max_abs_dlogit": self.guard["max_abs_dlogit"] if phase == "decode" and self.guard else None,
            "mem_predicted": self.predicted_mem(phase, context),
            "memory_limit_bytes": self.run.device.memory_limit_bytes(),
            "threads": self.info.get("threads"),
            "finished_at": time.time(),
        })
        results.append(self.run_dir, rec)
        if rec["status"] == "skipped":
            self.skipped.add(key)
        else:
            self.done[key] = rec
        self.note(phase, context, rec["status"], rec, resumed=False)
        return rec["status"]

    def note(self, phase, context, status, rec, resumed) -> None:
        if self.progress:
            self.progress.done(phase, context, status, rec, resumed)

    # -- the whole run ----------------------------------------------------------------
    def execute(self) -> list[dict[str, Any]]:
        ctx = self.run.context
        lengths = ctx.lengths()
        if self.run.workload.budget_s is not None:
            self.deadline = time.monotonic() + self.run.workload.budget_s
        if self.progress:
            self.progress.start(len(lengths) * len(self.run.workload.phases))
        try:
            for phase in self.run.workload.phases:
                if self.skipped:
                    self.summary.append({**self._summary_base(phase), "max_context_ok": None, "min_context_oom": None,
                                         "probes": 0, "stop_reason": "run budget exhausted", "failed_at": None})
                    continue
                b = search(lengths, lambda n, how, p=phase: self.probe(p, n, how), ctx.tolerance_at)
                self.summary.append({
                    **self._summary_base(phase),
                    "max_context_ok": b.max_ok, "min_context_oom": b.min_oom, "probes": b.probes,
                    "stop_reason": self._reason(b), "failed_at": b.failed_at,
                })
                if b.stop_reason == "skipped":
                    self._skip_rest(phase, lengths)
            if self.run.profile.enabled and not self.skipped:
                run_profiles(self)
        finally:
            self.retire_worker()
        return self.summary

    def _summary_base(self, phase: str) -> dict[str, Any]:
        keep = ("model", "size", "family", "device", "dtype", "batch", "phase")
        return {k: v for k, v in self.base(phase, 0).items() if k in keep}

    def _reason(self, b: Boundary) -> str:
        if b.stop_reason in ("out of memory", "reached context.max"):
            return b.stop_reason
        if b.stop_reason == "skipped":
            return "run budget exhausted"
        return f"{b.stop_reason} at {b.failed_at}"

    def _skip_rest(self, phase: str, lengths: list[int]) -> None:
        """Record every ladder point the budget kept us from, so nothing is silently dropped."""
        phases = list(self.run.workload.phases)
        for p in phases[phases.index(phase):]:
            for n in lengths:
                key = results.point_key(self.base(p, n))
                if key not in self.done and key not in self.skipped:
                    self.skipped.add(key)
                    rec = {**self.base(p, n), "status": "skipped", "probe": "ladder",
                           "error": f"run budget of {self.run.workload.budget_s:g} s exhausted",
                           "energy_j": None, "finished_at": time.time()}
                    results.append(self.run_dir, rec)
