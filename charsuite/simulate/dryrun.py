"""A dry-run: the worker's own prefill and one cached decode step (engines.transformers),
run on fake tensors under torch's FakeTensorMode with every allocation tracked. Nothing is
computed or allocated, so any zoo size at any length runs on this machine in seconds.

The simulated device presents itself as the CPU to torch (a CPU-only torch refuses the
`torch.autocast("cuda")` that transformers' rotary code enters on fake CUDA tensors); on
a simulated CUDA device the code paths are switched where they differ: torch's SDPA is
the flash kernel's fake, and with `impl=kernels` the SSM mixers' fused kernels are the
fakes in kernels.py, reached through transformers' own dispatch (its module globals).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass, field

import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from charsuite.config import ModelConfig
from charsuite.engines.kernel_paths import KERNEL_GLOBALS, reference_path
from charsuite.simulate import allocator
from charsuite.simulate.first_call import first_call_bytes
from charsuite.simulate.folds import folded
from charsuite.simulate.kernels import patched
from charsuite.simulate.tracker import AllocationTracker

IMPLS = ("reference", "kernels")


@contextlib.contextmanager
def _quiet(logger: str):
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


@dataclass(frozen=True)
class DryRun:
    context: int
    impl: str
    device_kind: str
    weights: int            # parameters and buffers, exact
    kv_cache: int           # after the prefill
    ssm_state: int
    logits: int             # the prefill's logits tensor
    prefill_peak: int       # live tensors above the weights during the prefill (what mem.tensor_peak measures)
    decode_peak: int        # live tensors above weights + cache during one cached decode step
    allocated: int          # weights + the larger peak, in the allocator's rounded blocks (CUDA; else exact)
    reserved: int           # what the caching allocator would hold from the driver (CUDA; else = allocated)
    seconds: float
    swapped: list[str] = field(default_factory=list)
    first_call: int = 0     # CUDA: what a fresh process's first call allocates once (simulate/first_call.py), apart

    @property
    def activations(self) -> int:
        return max(0, self.prefill_peak - self.kv_cache - self.ssm_state - self.logits)

    @property
    def peak(self) -> int:
        """Bytes the process needs at its worst moment: weights plus the larger of the two phases."""
        return self.weights + max(self.prefill_peak, self.kv_cache + self.ssm_state + self.decode_peak)

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "activations": self.activations, "peak": self.peak}


def dry_run(spec: ModelConfig, context: int, batch: int = 1, logits: str = "last", impl: str = "reference",
            device_kind: str = "cpu", expandable_segments: bool = True, chunk: int | None = None,
            capability: float | None = None, op_costs=None) -> DryRun:
    """One prefill of `context` tokens (in chunks of `chunk` if given) and one decode step, on fake tensors.
    `op_costs` (simulate/op_costs.OpCostRecorder): record each op's cost by phase as well."""
    from charsuite.engines.transformers import TransformersEngine

    if impl not in IMPLS:
        raise ValueError(f"unknown impl {impl!r}; choose one of: {', '.join(IMPLS)}")
    t0 = time.perf_counter()
    spec = dataclasses.replace(spec, weights="random")
    cpu = torch.device("cpu")
    fake = FakeTensorMode()
    with fake:
        engine = TransformersEngine(dataclasses.replace(spec, impl="reference"), cpu, bind_reference=False)
    if engine.max_positions is not None and context > engine.max_positions:
        raise ValueError(f"context {context} exceeds the model's {engine.max_positions} learned positions")
    model_type = engine.model.config.model_type
    cuda = device_kind == "cuda"
    with contextlib.ExitStack() as stack:
        # an op fake tensors cannot run raises below; torch would also log it at ERROR level
        stack.enter_context(_quiet("torch._subclasses.fake_tensor"))
        stack.enter_context(fake)
        if impl == "reference":  # for this block only: the process keeps the path it had (issue 28)
            stack.enter_context(reference_path(model_type))
        swapped = stack.enter_context(patched(model_type, ssm_kernels=impl == "kernels", cuda_attention=cuda))
        if impl == "reference" or model_type not in KERNEL_GLOBALS:  # no kernel replaces this loop: fold it
            swapped = swapped + stack.enter_context(folded(model_type))
        if op_costs is not None:
            stack.enter_context(op_costs)
        ids = torch.zeros(batch, context, dtype=torch.long)
        existing = [ids, *engine.model.parameters(), *engine.model.buffers()]
        tracker = AllocationTracker(existing)
        with tracker:
            out_logits, cache, first = engine.prefill(ids, logits, chunk)
            prefill_peak = tracker.peak
            logit_bytes = out_logits.untyped_storage().nbytes()
            del out_logits
            caches = engine.cache_bytes(cache)
            tracker.reset_peak()
            before = tracker.live
            decode_peak = 0
            if op_costs is not None:
                op_costs.phase = "decode"
            if engine.max_positions is None or context < engine.max_positions:  # a next position exists
                step_logits, cache = engine.decode_step(first, cache, context)
                decode_peak = tracker.peak - before
                del step_logits
        weights = engine.weight_bytes()
    events = tracker.events
    if cuda:
        peaks = allocator.replay(events, expandable=expandable_segments, base_allocated=weights)
        allocated, reserved = peaks.allocated, peaks.reserved
    else:
        allocated = reserved = weights + max(prefill_peak, caches["kv_cache"] + caches["ssm_state"] + decode_peak)
    return DryRun(context=context, impl=impl, device_kind=device_kind, weights=weights, kv_cache=caches["kv_cache"],
                  ssm_state=caches["ssm_state"], logits=logit_bytes, prefill_peak=prefill_peak,
                  decode_peak=decode_peak, allocated=allocated, reserved=reserved,
                  seconds=time.perf_counter() - t0, swapped=list(swapped),
                  first_call=first_call_bytes(device_kind, capability, impl, model_type))
