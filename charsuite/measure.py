"""The stopwatch: every latency in charsuite comes from these functions.

synchronize()   wait for the device before reading the clock
timed()         seconds of one call
repeat()        warmup untimed + timed calls of one step until the stop rule says enough (noise.py),
                trackers around the timed ones
phase_step()    the step a phase times: a prefill, or a run of cached decode steps
measure_phase() a point: the step timed, memory and energy tracked; outside eager mode the
                first call (compilation, graph capture) is timed apart as compile_s
decode_matches_forward()   the correctness guard, in the engine's own mode
chunked_matches_one_shot() the chunked prefill's guard

Profiling is a switch, not a copy: the worker passes `on_step` (the profiler's step) to
the same `repeat()` over the same `phase_step()`.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from charsuite import allocator, compiles
from charsuite.engines.base import Engine
from charsuite.noise import StopRule
from charsuite.trackers import memory
from charsuite.trackers.base import Tracker


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_tokens(vocab_size: int, batch: int, length: int, seed: int, device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (batch, length), generator=g).to(device)


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """Seconds one call of fn takes on the device, and its result."""
    synchronize(device)
    t0 = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - t0, result


def stop_rule(repeats: int | StopRule) -> StopRule:
    """A stop rule as given, or exactly `repeats` timed calls."""
    return repeats if isinstance(repeats, StopRule) else StopRule(repeats, repeats, target_rel_ci=0.0)


def repeat(step: Callable[[], Any], device: torch.device, warmup: int, repeats: int | StopRule,
           trackers: Sequence[Tracker] = (), on_step: Callable[[], None] | None = None):
    """`warmup` untimed then timed calls of step - `repeats` of them, or as many as the
    stop rule asks for - the trackers around the timed calls only. Returns (seconds per
    timed call, the last call's result, the trackers' readings)."""
    rule = stop_rule(repeats)
    for _ in range(warmup):
        timed(step, device)
        if on_step:
            on_step()
    samples, result, spent = [], None, 0.0
    with contextlib.ExitStack() as stack:
        readings = [stack.enter_context(t.track()) for t in trackers]
        while not rule.done(samples, spent):
            dt, result = timed(step, device)
            samples.append(dt)
            spent += dt
            if on_step:
                on_step()
    return samples, result, readings


@dataclass
class PhaseStep:
    """What one timed call of a phase does, and how to read its seconds."""

    run: Callable[[], Any]
    tokens: int          # tokens one call produces or consumes (prefill: batch x context; decode: batch x n)
    per_call: int        # latency divisor: 1 for prefill (time to first token), n for decode (s/token)
    state: dict[str, Any]  # the live tensors (logits, cache) after the last call


def phase_step(engine: Engine, phase: str, input_ids: torch.Tensor, logits: str, decode_tokens: int,
               malloc: bool = False, chunk: int | None = None, decode_calls: int = 0) -> PhaseStep:
    """Prefill: one forward over the prompt up to the first token (in chunks of `chunk`
    tokens if given), keeping `logits` (last | all). Decode: after one (untimed) prefill
    keeping the last logits only, `decode_tokens` cached steps, each feeding the argmax back;
    a static cache holds room for `decode_calls` such calls. `malloc`: the set-up (and a
    prefill) runs in glibc's mapped mode, decode steps in its retained mode (allocator.py)."""
    b, n = input_ids.shape
    state: dict[str, Any] = {}
    if malloc:
        allocator.set_mode("mapped")
    if phase == "prefill":
        def run_prefill():
            state.clear()  # the previous call's outputs are freed before the next one runs
            state["logits"], state["cache"], _ = engine.prefill(input_ids, logits, chunk)
        return PhaseStep(run_prefill, tokens=b * n, per_call=1, state=state)
    state["logits"], state["cache"], state["token"] = engine.prefill(input_ids, "last", chunk,
                                                                     reserve=decode_tokens * decode_calls + 1)
    state["position"] = n
    if malloc:
        allocator.set_mode("retained")

    def run_decode():
        for _ in range(decode_tokens):
            state["logits"], state["cache"] = engine.decode_step(state["token"], state["cache"], state["position"])
            state["token"] = state["logits"][:, -1].argmax(dim=-1, keepdim=True)
            state["position"] += 1
    return PhaseStep(run_decode, tokens=b * decode_tokens, per_call=decode_tokens, state=state)


@dataclass
class PhaseResult:
    samples_s: list[float]       # seconds per token produced (prefill: time to first token)
    peak_mem_bytes: int
    mem: dict[str, int]
    tokens: int                  # tokens one timed call handles
    per_call: int                # tokens-per-latency divisor (see PhaseStep)
    readings: list[Any]          # the power trackers' readings
    compile_s: float | None = None  # compile/capture: the first call's seconds less a timed call's
    compiles: int = 0               # frames torch.compile compiled for the point (first call, warmups, timed)
    compiles_s: float = 0.0         # dynamo's own seconds for them
    timed_recompiles: int = 0       # of them, during the timed calls: their samples hold compilation

    @property
    def latency_s(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / (self.latency_s * self.per_call)


def _mem(engine: Engine, state: dict[str, Any], peak: int, before: int) -> dict[str, int]:
    weights = engine.weight_bytes()
    caches = engine.cache_bytes(state.get("cache"))
    logit_bytes = memory.tensor_bytes(state.get("logits"))
    runtime = max(0, before - weights)
    activations = max(0, peak - runtime - weights - sum(caches.values()) - logit_bytes)
    return {"weights": weights, **caches, "logits": logit_bytes, "activations": activations, "runtime": runtime}


def measure_phase(engine: Engine, device: torch.device, phase: str, input_ids: torch.Tensor, logits: str,
                  decode_tokens: int, warmup: int, repeats: int | StopRule,
                  trackers: Sequence[Tracker] = (), malloc: bool = False, chunk: int | None = None,
                  warm_first: bool | None = None) -> PhaseResult:
    """A point. Outside eager mode the phase's first call compiles (or captures) and is timed
    on its own, before anything else, and at least one warmup call absorbs recompiles.
    A one-shot prefill then runs one untimed forward under torch's memory profiler for the
    live-tensor peak (outside the resident-peak window, so the profiler's own buffers never
    count). The memory tracker spans setup, warmup and timed calls; `trackers` (power, thermal, load)
    span the timed calls only. `malloc`: switch glibc's modes (allocator.py). `warm_first` (default: on CUDA):
    one untimed prefill at the point's length before the live-tensor peak is read, so what a process's first
    call allocates once (cuBLAS's workspace, Triton's autotune buffer) is recorded apart, as mem.first_call."""
    tensor_peak = first_s = first_call = None
    rule = stop_rule(repeats)
    compiled = engine.mode != "eager"
    warmup = max(warmup, 1) if compiled else warmup
    calls = warmup + rule.max_repeats + 1
    at_start = compiles.count()
    if compiled:
        first = phase_step(engine, phase, input_ids, logits, decode_tokens, malloc, chunk, calls)
        first_s, _ = timed(first.run, device)
        del first
    if malloc:
        allocator.set_mode("mapped")
    if phase == "prefill" and not chunk and engine.torch_tensors:
        # not chunked: torch's profiler records every chunk's ops, and what it keeps resident grows
        # with the prompt (a 64K-token chunked prefill of mamba2 tiny: +490 MiB) - it would decide the
        # boundary of a prefill whose live tensors are one chunk's
        if (device.type == "cuda" if warm_first is None else warm_first) and not compiled:
            first_call, _ = memory.tensor_peak(lambda: engine.prefill(input_ids, logits), device)
        tensor_peak, _ = memory.tensor_peak(lambda: engine.prefill(input_ids, logits), device)
    with memory.MemoryTracker(device).track() as mem_reading:
        step = phase_step(engine, phase, input_ids, logits, decode_tokens, malloc, chunk, calls)
        each_call = compiles.PerCall()
        samples, _, readings = repeat(step.run, device, warmup, rule, trackers, on_step=each_call)
    mem = _mem(engine, step.state, mem_reading.peak_bytes, mem_reading.before_bytes)
    if tensor_peak is not None:
        mem["tensor_peak"] = tensor_peak
    if first_call is not None:  # what the first call held above the same call made again (0 on a warm worker)
        mem["first_call"] = max(0, first_call - tensor_peak)
    compile_s = max(0.0, first_s - statistics.median(samples)) if first_s is not None else None
    total = compiles.count() - at_start
    return PhaseResult([s / step.per_call for s in samples], mem_reading.peak_bytes, mem, step.tokens,
                       step.per_call, readings, compile_s, total.frames, total.seconds,
                       sum(each_call.frames[warmup:]))


def decode_matches_forward(engine: Engine, device: torch.device, length: int = 48) -> float:
    """Correctness guard: max |logit| difference between a cached decode step and a full
    forward over the same tokens (a wrong cache argument shows up here), both run the way
    the engine runs them (eager, compiled, graph-replayed)."""
    ids = random_tokens(engine.vocab_size, 1, length + 1, seed=1234, device=device)
    full, _, _ = engine.prefill(ids, "last")
    _, cache, _ = engine.prefill(ids[:, :length], "last", reserve=1)
    step, _ = engine.decode_step(ids[:, length:], cache, length)
    return float((full[:, -1].float() - step[:, -1].float()).abs().max())


def chunked_matches_one_shot(engine: Engine, device: torch.device, chunk: int) -> tuple[float, int, int]:
    """Chunked prefill's guard: max |logit| difference of the last position between a prefill
    in chunks (the cache carried between them) and one forward over the same prompt. Checked
    at a chunk of min(chunk, 256) tokens over two and a half chunks (the last one partial), so
    a family that cannot carry its cache across a multi-token forward shows, at a size any
    model can run. Returns (difference, chunk checked, prompt length)."""
    c = min(chunk, 256)
    n = 2 * c + max(1, c // 2)
    ids = random_tokens(engine.vocab_size, 1, n, seed=4321, device=device)
    one_shot, _, _ = engine.prefill(ids, "last")
    chunked, _, _ = engine.prefill(ids, "last", c)
    return float((one_shot[:, -1].float() - chunked[:, -1].float()).abs().max()), c, n


def engine_clock(perf: list[tuple[str, float]], phase: str, timed_calls: int, per_call: int) -> float | None:
    """The median of the engine's own clock over the timed calls (the last ones it ran), per
    token for decode as the stopwatch's latency is; None where the engine keeps no clock."""
    own = [s for p, s in perf if p == phase]
    need = timed_calls * per_call
    if not timed_calls or len(own) < need:
        return None
    own = own[-need:]
    return statistics.median(sum(own[i:i + per_call]) / per_call for i in range(0, need, per_call))
