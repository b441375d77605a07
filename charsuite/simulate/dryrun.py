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
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from charsuite.config import ConfigError, ModelConfig
from charsuite.engines import spec as engine_spec
from charsuite.engines.kernel_paths import KERNEL_GLOBALS, reference_path
from charsuite.simulate import allocator
from charsuite.simulate.first_call import first_call_bytes, kernel_path_autotuned
from charsuite.simulate.folds import folded
from charsuite.simulate.kernels import patched
from charsuite.simulate.tracker import AllocationTracker

IMPLS = ("reference", "kernels")


class PastPositions(ValueError):
    """A length beyond the model's learned absolute positions: no longer length runs either."""


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
    needed: int = 0         # what must fit: reserved less the free blocks the allocator gives back under pressure
    autotuned: bool = False  # the code that ran launched autotuned Triton kernels (their first call's buffer)

    @property
    def activations(self) -> int:
        return max(0, self.prefill_peak - self.kv_cache - self.ssm_state - self.logits)

    @property
    def peak(self) -> int:
        """Bytes the process needs at its worst moment: weights plus the larger of the two phases."""
        return self.weights + max(self.prefill_peak, self.kv_cache + self.ssm_state + self.decode_peak)

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "activations": self.activations, "peak": self.peak}


@dataclass
class OnFakes:
    """An engine built on fake tensors, with the patches its dry-run needs entered."""

    engine: object
    swapped: list[str]                   # what was replaced for the dry-run (kernel fakes, folded loops)
    autotuned: Callable[[], bool]        # whether the code that ran launched autotuned kernels (first_call)


def transformers_on_fakes(spec: ModelConfig, impl: str, cuda: bool, stack: contextlib.ExitStack,
                          settings: dict) -> OnFakes:
    """The transformers engine's dry-run: its model on fake tensors; on a simulated CUDA device the
    kernel path's fakes (kernels.py) through transformers' own dispatch."""
    from charsuite.engines.transformers import TransformersEngine

    fake = FakeTensorMode()
    with fake:
        engine = TransformersEngine(dataclasses.replace(spec, impl="reference"), torch.device("cpu"),
                                    bind_reference=False)
    model_type = engine.model.config.model_type
    stack.enter_context(fake)
    if impl == "reference":  # for this block only: the process keeps the path it had (issue 28)
        stack.enter_context(reference_path(model_type))
    swapped = stack.enter_context(patched(model_type, ssm_kernels=impl == "kernels", cuda_attention=cuda))
    if impl == "reference" or model_type not in KERNEL_GLOBALS:  # no kernel replaces this loop: fold it
        swapped = swapped + stack.enter_context(folded(model_type))
    return OnFakes(engine, list(swapped), lambda: kernel_path_autotuned(impl, model_type))


def dry_run(spec: ModelConfig, context: int, batch: int = 1, logits: str = "last", impl: str = "reference",
            device_kind: str = "cpu", expandable_segments: bool = True, chunk: int | None = None,
            capability: float | None = None, op_costs=None, engine: str | None = None,
            engine_settings: dict | None = None) -> DryRun:
    """One prefill of `context` tokens (in chunks of `chunk` if given) and one decode step, on fake tensors,
    of `engine`'s code (engines.EngineSpec.dry_run names how it is built on fakes).
    `op_costs` (simulate/op_costs.OpCostRecorder): record each op's cost by phase as well."""
    if impl not in IMPLS:
        raise ValueError(f"unknown impl {impl!r}; choose one of: {', '.join(IMPLS)}")
    t0 = time.perf_counter()
    spec = dataclasses.replace(spec, weights="random")
    how = engine_spec(engine).dry_run
    if how is None:
        raise ConfigError(f"engine={engine} has no dry-run; predict models the engines that have one")
    module, function = how.split(":")
    on_fakes = getattr(importlib.import_module(module), function)
    with contextlib.ExitStack() as stack:
        # an op fake tensors cannot run raises below; torch would also log it at ERROR level
        stack.enter_context(_quiet("torch._subclasses.fake_tensor"))
        built = on_fakes(spec, impl, device_kind == "cuda", stack, engine_settings or {})
        model = built.engine
        if model.max_positions is not None and context > model.max_positions:
            raise PastPositions(f"context {context} exceeds the model's {model.max_positions} learned positions")
        if op_costs is not None:  # each op in its module and function scopes, as the profiler classifies it
            from kernels_profile.capture import function_scopes, module_scopes

            stack.enter_context(module_scopes(model.model, opener=op_costs.scope))
            stack.enter_context(function_scopes(model.model, opener=op_costs.scope))
            stack.enter_context(op_costs)
        ids = torch.zeros(batch, context, dtype=torch.long)
        existing = [ids, *model.model.parameters(), *model.model.buffers()]
        tracker = AllocationTracker(existing)
        with tracker:
            out_logits, cache, first = model.prefill(ids, logits, chunk)
            prefill_peak = tracker.peak
            logit_bytes = out_logits.untyped_storage().nbytes()
            del out_logits
            if cache is None:  # a prefill that keeps no state (engine.prefill_cache=false): decode after one that does
                if op_costs is not None:
                    op_costs.phase = "cache"  # built for the decode step only: no part of the measured prefill
                _, cache, first = model.prefill(ids, "last", chunk, reserve=1)
            caches = model.cache_bytes(cache)
            tracker.reset_peak()
            before = tracker.live
            decode_peak = 0
            if op_costs is not None:
                op_costs.phase = "decode"
            if model.max_positions is None or context < model.max_positions:  # a next position exists
                step_logits, cache = model.decode_step(first, cache, context)
                decode_peak = tracker.peak - before
                del step_logits
        weights = model.weight_bytes()
    events = tracker.events
    if device_kind == "cuda":
        peaks = allocator.replay(events, expandable=expandable_segments, base_allocated=weights)
        allocated, reserved, needed = peaks.allocated, peaks.reserved, peaks.needed
    else:
        allocated = weights + max(prefill_peak, caches["kv_cache"] + caches["ssm_state"] + decode_peak)
        reserved = needed = allocated
    return DryRun(context=context, impl=impl, device_kind=device_kind, weights=weights, kv_cache=caches["kv_cache"],
                  ssm_state=caches["ssm_state"], logits=logit_bytes, prefill_peak=prefill_peak,
                  decode_peak=decode_peak, allocated=allocated, reserved=reserved, needed=needed,
                  seconds=time.perf_counter() - t0, swapped=built.swapped,
                  first_call=first_call_bytes(device_kind, capability, built.autotuned()), autotuned=built.autotuned())
