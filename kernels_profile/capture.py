"""Capture a torch.profiler trace of one phase with module and function scopes.

Scopes are record_function ranges, so they travel inside the Chrome trace and any later
reader (`python -m kernels_profile TRACE.json`) can attribute the trace on its own:
  "module: PATH (Class)"  opened/closed by forward pre-/post-hooks on every nn.Module
  "fn: NAME"              around module-level functions of SSM mixer modules that match
                          the taxonomy's `scoped_functions` (transformers' Mamba2 calls
                          its chunk scan and causal conv1d as free functions)
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function, schedule

from kernels_profile.attribute import FUNCTION_PREFIX, MODULE_PREFIX
from kernels_profile.taxonomy import load

# classes of recurrent mixers: their modules' free functions get scopes
MIXER_CLASS = ("mamba", "mixer", "ssm", "deltanet", "shortconv")


@contextlib.contextmanager
def module_scopes(model: torch.nn.Module, opener=record_function):
    """A scope per module call, opened by `opener(label)` (a context manager: a profiler range, or the dry-run's
    op-cost recorder keeping the same context)."""
    open_ranges: dict[int, list] = {}
    handles = []
    for path, mod in model.named_modules():
        label = f"{MODULE_PREFIX}{path or 'model'} ({type(mod).__name__})"

        def pre(m, args, label=label):
            rf = opener(label)
            rf.__enter__()
            open_ranges.setdefault(id(m), []).append(rf)

        def post(m, args, out):
            stack = open_ranges.get(id(m))
            if stack:
                stack.pop().__exit__(None, None, None)

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post, always_call=True))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def function_scopes(model: torch.nn.Module, opener=record_function):
    """Wrap the matching free functions of every module that defines an SSM mixer, each call in `opener(label)`."""
    pattern = load().scoped_functions
    patched = []
    modules = {type(m).__module__ for m in model.modules() if any(k in type(m).__name__.lower() for k in MIXER_CLASS)}
    for modname in modules:
        pymod = sys.modules.get(modname)
        if pymod is None:
            continue
        for name, fn in list(vars(pymod).items()):
            if callable(fn) and not inspect.isclass(fn) and pattern.search(name):

                def wrapped(*a, __fn=fn, __label=f"{FUNCTION_PREFIX}{name}", **kw):
                    with opener(__label):
                        return __fn(*a, **kw)

                functools.update_wrapper(wrapped, fn)
                setattr(pymod, name, wrapped)
                patched.append((pymod, name, fn))
    try:
        yield [f"{m.__name__}.{n}" for m, n, _ in patched]
    finally:
        for pymod, name, fn in patched:
            setattr(pymod, name, fn)


@contextlib.contextmanager
def profiled(model: torch.nn.Module | None, trace_path: Path, device: torch.device, warmup: int = 1,
             active: int = 1):
    """A profiler around whatever steps run inside: yields the `on_step` callback the
    stopwatch (charsuite.measure.repeat) calls after each step. Schedule: wait 0, `warmup`
    traced-but-discarded steps, then `active` steps (each its own ProfilerStep# range, which
    attribute.split_steps separates); the Chrome trace is written when the last active step
    ends. Module and function scopes are open for the whole block."""
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    trace_path = Path(trace_path)
    trace_path.parent.mkdir(parents=True, exist_ok=True)
    scopes = (module_scopes(model), function_scopes(model)) if model is not None else ()
    with contextlib.ExitStack() as stack:
        for s in scopes:
            stack.enter_context(s)
        prof = stack.enter_context(profile(
            activities=activities, schedule=schedule(wait=0, warmup=warmup, active=active, repeat=1),
            on_trace_ready=lambda p: p.export_chrome_trace(str(trace_path))))
        yield prof.step
