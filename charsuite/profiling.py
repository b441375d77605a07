"""Operator profiling from the sweep (profile.enabled=true profile.contexts=[...]).

For each profiled context and phase the worker runs the phase's own timed step under
the profiler (kernels_profile.capture.profiled), `profile.steps` times; here the trace is
attributed step by step (kernels_profile.attribute.split_steps) and a `profile` line is
appended with each category's median seconds over the steps (`breakdown`), every step's
(`breakdown_steps`), each category's share as [min, median, max] (`share_spread`), the same
regrouped as the reference study did (`breakdown_study`, CPU and GPU time summed), the
profiled latency beside the unprofiled one of the same point, and the paths of the trace
and the per-op CSV. A decode step replayed from a CUDA graph (workload.mode=cudagraph) has
no ops above its kernels: the same step is first profiled eagerly, and its kernels' learned
categories classify the replayed ones (kernels_profile.attribute.learned_categories). A
profiled step slower than SLOW_STEP x the unprofiled median makes the line noisy: one
outlier does not decide the shares, and it is said.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from charsuite.config import RunConfig
from charsuite.driver import WorkerDriver
from charsuite.recorder import Recorder
from charsuite.records import Breakdown, Point
from charsuite.worker_requests import Profile
from kernels_profile.attribute import (
    attribute,
    attribute_steps,
    learned_categories,
    median_breakdown,
    per_step,
    primary,
    share_spread,
    write_csv,
)

SLOW_STEP = 2.0


def as_record(b) -> dict | None:
    """An attribute.Attribution as the result line carries it (records.Breakdown)."""
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
    companion = None
    if run.workload.mode == "cudagraph" and phase == "decode":
        eager = profiles / f"{phase}_{context}.eager.trace.json"
        reply = driver.request(Profile(phase, context, str(eager), steps=1, eager=True))
        if reply.ok:
            companion = learned_categories(json.loads(eager.read_text()))
    reply = driver.request(Profile(phase, context, str(trace), steps=run.profile.steps))
    point.status, point.error, point.latency_s = reply.status, reply.error, reply.latency_s
    point.latency_samples_s = reply.latency_samples_s
    if reply.ok:
        whole = json.loads(trace.read_text())
        result = attribute(whole, companion=companion)
        ops_csv = profiles / f"{phase}_{context}.ops.csv"
        write_csv(result, ops_csv)
        main = primary(result)
        stepped = attribute_steps(whole, companion)  # once, for our grouping and the study's
        steps = per_step(whole, main, companion=companion, steps=stepped)
        measured = recorder.measured(phase, context)
        unprofiled = measured.latency_s if measured is not None else None
        point.breakdown = as_record(median_breakdown(steps))
        point.breakdown_steps = [b.categories for b in steps]
        point.share_spread = share_spread(steps)
        point.breakdown_host = as_record(result["host"]) if main.basis == "device" else None
        if result["study"] is not None:  # the same trace in the reference study's groups, beside ours
            study_steps = per_step(whole, result["study"], grouping="study", companion=companion, steps=stepped)
            point.breakdown_study = as_record(median_breakdown(study_steps))
        point.unprofiled_latency_s = unprofiled
        point.profiler_overhead = point.latency_s / unprofiled if unprofiled else None
        slow = [i for i, s in enumerate(reply.latency_samples_s or []) if unprofiled and s > SLOW_STEP * unprofiled]
        if slow:
            point.noisy = True
            point.noise_reason = (f"profiled step(s) {', '.join(str(i + 1) for i in slow)} of "
                                  f"{len(reply.latency_samples_s)} took over {SLOW_STEP:g}x the unprofiled median")
        else:
            point.noisy = False
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
