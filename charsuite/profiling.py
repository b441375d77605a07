"""Operator profiling from the sweep (profile.enabled=true profile.contexts=[...]).

For each profiled context and phase the worker runs the phase's own timed step under
the profiler (kernels_profile.capture.profiled); here the trace is attributed
(kernels_profile.attribute) and a `profile` line is appended with the breakdown, the
profiled latency beside the unprofiled one of the same point, and the paths of the
trace and the per-op CSV.
"""

from __future__ import annotations

from collections.abc import Callable

from charsuite.config import RunConfig
from charsuite.driver import WorkerDriver
from charsuite.recorder import Recorder
from charsuite.records import Breakdown, Point
from kernels_profile.attribute import attribute, primary, write_csv


def as_record(b) -> dict | None:
    """An attribute.Breakdown as the result line carries it."""
    if b is None:
        return None
    return Breakdown(categories=b.categories, time_basis=b.basis, coverage=b.coverage,
                     unclassified_top=b.unclassified_top).to_dict()


def profile_point(run: RunConfig, driver: WorkerDriver, recorder: Recorder, phase: str, context: int) -> Point | None:
    point = recorder.point("profile", context, profiled_phase=phase)
    if recorder.recorded(point) is not None:
        return None
    profiles = recorder.run_dir / "profiles"
    trace = profiles / f"{phase}_{context}.trace.json"
    reply = driver.request("profile", phase=phase, context=context, trace_path=str(trace))
    point.status, point.error, point.latency_s = reply.status, reply.error, reply.latency_s
    if reply.ok:
        result = attribute(trace)
        ops_csv = profiles / f"{phase}_{context}.ops.csv"
        write_csv(result, ops_csv)
        main = primary(result)
        measured = recorder.measured(phase, context)
        unprofiled = measured.latency_s if measured is not None else None
        point.breakdown = as_record(main)
        point.breakdown_host = as_record(result["host"]) if main.basis == "device" else None
        point.unprofiled_latency_s = unprofiled
        point.profiler_overhead = point.latency_s / unprofiled if unprofiled else None
        point.trace = str(trace.relative_to(recorder.run_dir))
        point.ops_csv = str(ops_csv.relative_to(recorder.run_dir))
    return recorder.record(point)


def run_profiles(run: RunConfig, driver: WorkerDriver, recorder: Recorder,
                 note: Callable[[str, int, Point, bool], None] | None = None) -> None:
    for context in run.profile.contexts:
        for phase in run.workload.phases:
            point = profile_point(run, driver, recorder, phase, context)
            if point is not None and note:
                note(f"profile:{phase}", context, point, False)
