"""Operator profiling from the sweep (profile.enabled=true profile.contexts=[...]).

For each profiled context and phase the worker captures one traced step
(kernels_profile.capture); here the trace is attributed (kernels_profile.attribute) and a
`profile` line is appended with the breakdown, the profiled latency beside the unprofiled
one of the same point, and the paths of the trace and the per-op CSV.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from charsuite import results
from kernels_profile.attribute import attribute, primary, write_csv

if TYPE_CHECKING:
    from charsuite.sweep import Sweep


def flat(b) -> dict[str, Any] | None:
    """A breakdown as the result line carries it: seconds per category, time_basis, coverage."""
    if b is None:
        return None
    return {**b.categories, "time_basis": b.basis, "coverage": b.coverage, "unclassified_top": b.unclassified_top}


def profile_point(sweep: Sweep, phase: str, context: int) -> None:
    rec = {**sweep.base("profile", context), "profiled_phase": phase}
    key = results.point_key(rec)
    if key in sweep.done:
        return
    profiles = sweep.run_dir / "profiles"
    trace = profiles / f"{phase}_{context}.trace.json"
    failed = sweep.ensure_worker()
    reply = failed or sweep.worker.request({"cmd": "profile", "phase": phase, "context": context,
                                            "trace_path": str(trace)}, sweep.run.workload.timeout_s)
    rec.update({"status": reply["status"], "error": reply.get("error"), "latency_s": reply.get("latency_s"),
                "energy_j": None, "breakdown": None, "finished_at": time.time()})
    if reply["status"] == "ok":
        result = attribute(trace)
        write_csv(result, profiles / f"{phase}_{context}.ops.csv")
        main = primary(result)
        measured = sweep.done.get(results.point_key(sweep.base(phase, context)), {})
        unprofiled = measured.get("latency_s") if measured.get("status") == "ok" else None
        rec.update({
            "breakdown": flat(main),
            "breakdown_host": flat(result["host"]) if main.basis == "device" else None,
            "unprofiled_latency_s": unprofiled,
            "profiler_overhead": rec["latency_s"] / unprofiled if unprofiled else None,
            "trace": str(trace.relative_to(sweep.run_dir)),
            "ops_csv": str((profiles / f"{phase}_{context}.ops.csv").relative_to(sweep.run_dir)),
        })
    else:
        sweep.retire_worker()
    results.append(sweep.run_dir, rec)
    sweep.done[key] = rec
    sweep.note(f"profile:{phase}", context, rec["status"], rec, resumed=False)


def run_profiles(sweep: Sweep) -> None:
    for context in sweep.run.profile.contexts:
        for phase in sweep.run.workload.phases:
            profile_point(sweep, phase, context)
