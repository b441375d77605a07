"""The stopwatch: every latency in charsuite comes from these functions.

prefill()      one forward over the prompt, up to the first generated token
decode_step()  one cached forward over one token
synchronize()  wait for the device before reading the clock
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

from charsuite.monitors import memory
from charsuite.monitors.power import Monitor, Reading


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_tokens(vocab_size: int, batch: int, length: int, seed: int, device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (batch, length), generator=g).to(device)


@torch.inference_mode()
def prefill(model: torch.nn.Module, input_ids: torch.Tensor,
            logits: str = "last") -> tuple[torch.Tensor, Any, torch.Tensor]:
    """Forward over the prompt; returns (logits, cache, first generated token)."""
    out = model(input_ids=input_ids, use_cache=True, logits_to_keep=1 if logits == "last" else 0)
    first = out.logits[:, -1].argmax(dim=-1, keepdim=True)
    return out.logits, out.cache if hasattr(out, "cache") else out.past_key_values, first


@torch.inference_mode()
def decode_step(model: torch.nn.Module, token: torch.Tensor, cache: Any, position: int) -> tuple[torch.Tensor, Any]:
    """One cached step. transformers 5.x names the cache argument `cache`; the old
    `past_key_values` is swallowed by **kwargs on Mamba2 and decodes from scratch."""
    pos = torch.tensor([position], device=token.device)
    out = model(input_ids=token, cache=cache, use_cache=True, cache_position=pos, logits_to_keep=1)
    return out.logits, out.cache


def timed(fn, device: torch.device) -> tuple[float, Any]:
    """Seconds one call of fn takes on the device, and its result."""
    synchronize(device)
    t0 = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - t0, result


@dataclass
class PhaseResult:
    samples_s: list[float]
    peak_mem_bytes: int
    mem: dict[str, int]
    tokens: int
    energy: Reading | None = None

    @property
    def latency_s(self) -> float:
        return statistics.median(self.samples_s)


def _mem(model: torch.nn.Module, cache: Any, logits: torch.Tensor, peak: int, before: int) -> dict[str, int]:
    weights = memory.weight_bytes(model)
    caches = memory.cache_bytes(cache)
    logit_bytes = memory.tensor_bytes(logits)
    runtime = max(0, before - weights)
    activations = max(0, peak - runtime - weights - caches["kv_cache"] - caches["ssm_state"] - logit_bytes)
    return {"weights": weights, **caches, "logits": logit_bytes, "activations": activations, "runtime": runtime}


def measure_prefill(model, input_ids, repeats: int, warmup: int, logits: str, device: torch.device,
                    monitor: Monitor | None = None) -> PhaseResult:
    """One profiled prefill for the live-tensor peak (untimed, before the peak-memory
    window, so the profiler's own buffers never count), then warmup untimed + repeats timed
    prefills; each sample is time to first token. Energy covers the timed repeats only."""
    monitor = monitor or Monitor()
    tensor_peak, _ = memory.tensor_peak(lambda: prefill(model, input_ids, logits), device)
    memory.release_free_memory(device)
    before = memory.current_bytes(device)
    memory.reset_peak(device)
    for _ in range(warmup):
        timed(lambda: prefill(model, input_ids, logits), device)
    samples = []
    with monitor.measure() as energy:
        for i in range(repeats):
            dt, (out_logits, cache, _) = timed(lambda: prefill(model, input_ids, logits), device)
            samples.append(dt)
            if i < repeats - 1:
                del out_logits, cache
    peak = memory.peak_bytes(device)
    b, n = input_ids.shape
    mem = {**_mem(model, cache, out_logits, peak, before), "tensor_peak": tensor_peak}
    return PhaseResult(samples, peak, mem, tokens=b * n, energy=energy)


def measure_decode(model, input_ids, decode_tokens: int, repeats: int, warmup: int, device: torch.device,
                   monitor: Monitor | None = None) -> PhaseResult:
    """One prefill (untimed), then warmup + repeats runs of decode_tokens cached steps;
    each sample is seconds per generated token of one run. Energy covers the timed runs."""
    monitor = monitor or Monitor()
    memory.release_free_memory(device)
    before = memory.current_bytes(device)
    memory.reset_peak(device)
    out_logits, cache, token = prefill(model, input_ids, "last")
    state = {"cache": cache, "token": token, "position": input_ids.shape[1], "logits": out_logits}

    def run() -> None:
        for _ in range(decode_tokens):
            state["logits"], state["cache"] = decode_step(model, state["token"], state["cache"], state["position"])
            state["token"] = state["logits"][:, -1].argmax(dim=-1, keepdim=True)
            state["position"] += 1

    for _ in range(warmup):
        timed(run, device)
    with monitor.measure() as energy:
        samples = [timed(run, device)[0] / decode_tokens for _ in range(repeats)]
    peak = memory.peak_bytes(device)
    return PhaseResult(samples, peak, _mem(model, state["cache"], state["logits"], peak, before),
                       tokens=input_ids.shape[0], energy=energy)


@torch.inference_mode()
def decode_matches_forward(model: torch.nn.Module, vocab_size: int, device: torch.device, length: int = 48) -> float:
    """Correctness guard: max |logit| difference between a cached decode step and a
    full forward over the same tokens (a wrong cache argument shows up here)."""
    ids = random_tokens(vocab_size, 1, length + 1, seed=1234, device=device)
    full = model(input_ids=ids, logits_to_keep=1).logits[:, -1].float()
    _, cache, _ = prefill(model, ids[:, :length], "last")
    step, _ = decode_step(model, ids[:, length:], cache, length)
    return float((full - step[:, -1].float()).abs().max())
