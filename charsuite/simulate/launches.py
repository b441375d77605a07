"""Shape-only kernel launches: a kernel library's own Python (mamba_ssm, causal_conv1d) run on fake
tensors, so that every tensor its wrappers allocate is the real one, by construction, and only the
launches - which compute and allocate nothing - are replaced:

- Triton: `kernel[grid](...)` (triton/runtime/jit.py KernelInterface.__getitem__, which autotuned and
  heuristic kernels inherit) returns a launcher that records the kernel's name and does nothing;
- the CUDA extensions' entry points: `causal_conv1d_cuda.causal_conv1d_fwd` / `causal_conv1d_update` write
  into outputs their Python wrapper allocated (causal_conv1d/cpp_functions.py: `out = torch.empty_like(x)`),
  so they do nothing; `selective_scan_cuda.fwd` allocates in C++ (mamba-ssm 2.3.2.post1
  csrc/selective_scan/selective_scan.cpp, selective_scan_fwd): `out = torch::empty_like(delta)`, the chunk
  states `x` of (batch, dim, ceil(seqlen / 2048), 2 * dstate) in the weights' dtype, `out_z =
  torch::empty_like(z)` when z is given - returned as [out, x(, out_z)];
- `torch.cuda.device(index)` (Triton wrappers enter it around a launch) is a no-op on the CPU.

On a machine without the extensions (any CPU), `stand_ins()` puts empty modules in their place before
the library is imported (its modules import them unguarded); on a GPU box the real ones stay and only
their entry points are swapped, for the dry-run's block.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import sys
import types
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from unittest import mock

import torch

EXTENSIONS = ("selective_scan_cuda", "causal_conv1d_cuda")
STAND_IN = "__charsuite_stand_in__"  # set on a module put where a CUDA extension was missing
# causal_conv1d 1.6+ wraps its extension calls in custom ops, which fake tensors need a fake impl of
CUSTOM_OPS = ("DaoAILab::_causal_conv1d_fwd_cpp", "DaoAILab::_causal_conv1d_update_cpp")


def stand_ins() -> list[str]:
    """Empty modules for the CUDA extensions this machine cannot import; the names put in place."""
    put = []
    for name in EXTENSIONS:
        try:
            importlib.import_module(name)
        except ImportError:
            module = types.ModuleType(name)
            setattr(module, STAND_IN, True)
            sys.modules[name] = module
            put.append(name)
    return put


def selective_scan_fwd(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, *_):
    """selective_scan_cuda.fwd's allocations (module docstring)."""
    batch, dim, seqlen = u.shape
    out = torch.empty_like(delta)
    x = torch.empty(batch, dim, math.ceil(seqlen / 2048), 2 * A.shape[-1], dtype=A.dtype, device=u.device)
    return [out, x] + ([torch.empty_like(z)] if z is not None else [])


def _nothing(*_, **__) -> None:
    return None


def tell(kernel: str, args: tuple, kwargs: dict, flops: float = 0.0) -> None:
    """A launch, to the active dispatch modes that cost launches (simulate/op_costs.OpCostRecorder.launch):
    `args`/`kwargs` hold the tensors it reads and writes; `flops` its arithmetic where it is known."""
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    for mode in _get_current_dispatch_mode_stack():
        if hasattr(mode, "launch"):
            mode.launch(kernel, args, kwargs, flops)


def _told(kernel: str, fake):
    """`fake`, telling the launch first (an extension's entry point)."""
    def call(*args, **kwargs):
        tell(kernel, args, kwargs)
        return fake(*args, **kwargs)
    return call


ENTRY_POINTS = {"selective_scan_cuda": {"fwd": selective_scan_fwd},
                "causal_conv1d_cuda": {"causal_conv1d_fwd": _nothing, "causal_conv1d_update": _nothing}}


def _register_fakes() -> None:
    for op in CUSTOM_OPS:
        namespace, name = op.split("::")
        if not hasattr(getattr(torch.ops, namespace), name):
            continue  # this causal_conv1d calls its extension directly
        try:
            torch.library.register_fake(op)(_nothing)
        except RuntimeError:  # registered already (an earlier dry-run in this process)
            pass


@dataclass
class Launches:
    kernels: Counter = field(default_factory=Counter)   # Triton kernels launched, by name
    autotuned: set[str] = field(default_factory=set)    # those autotuned: their first call benchmarks configs


@contextlib.contextmanager
def shape_only() -> Iterator[Launches]:
    """Within the block, Triton and extension launches are shape-only; yields what was launched."""
    from triton.runtime.autotuner import Autotuner
    from triton.runtime.jit import KernelInterface

    seen = Launches()

    def launcher(self, grid):
        fn, tuned = self, False
        while hasattr(fn, "fn"):  # Autotuner -> Heuristics -> JITFunction
            tuned = tuned or isinstance(fn, Autotuner)
            fn = fn.fn
        name = getattr(fn, "__name__", type(fn).__name__)
        seen.kernels[name] += 1
        if tuned:
            seen.autotuned.add(name)
        return lambda *args, **kwargs: tell(name, args, kwargs)

    _register_fakes()
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(KernelInterface, "__getitem__", launcher))
        stack.enter_context(mock.patch.object(torch.cuda, "device", lambda *_: contextlib.nullcontext()))
        for ext, calls in ENTRY_POINTS.items():
            module = sys.modules.get(ext)
            for call, fake in calls.items():
                if module is not None:
                    stack.enter_context(mock.patch.object(module, call, _told(f"{ext}.{call}", fake), create=True))
        yield seen
