"""What code actually ran, watched while it ran - not read off which packages import.

transformers 5.x picks a mixer's kernel inside a wrapper (integrations/hub_kernels.py) and
falls back to its PyTorch reference with a logged warning only; the attention function is
picked per layer from the config; SDPA picks its backend in C++. `watch()` runs a forward
with `sys.setprofile` (every Python call: which of a kernel function's candidate
implementations executed, which attention function the layers called) and torch's
profiler (which aten SDPA variant ran).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from charsuite.engines import wrappers
from charsuite.errors import ConfigError

ATTENTION_FUNCTIONS = {"eager_attention_forward": "eager", "sdpa_attention_forward": "sdpa",
                       "flash_attention_forward": "flash_attention", "flex_attention_forward": "flex_attention",
                       "_attn": "eager"}  # GPT-Neo's own eager attention method
SDPA_BACKENDS = {"aten::_scaled_dot_product_flash_attention_for_cpu": "flash (cpu)",
                 "aten::_scaled_dot_product_flash_attention": "flash",
                 "aten::_scaled_dot_product_efficient_attention": "efficient",
                 "aten::_scaled_dot_product_cudnn_attention": "cudnn",
                 "aten::_scaled_dot_product_attention_math": "math",
                 "aten::_scaled_dot_product_fused_attention_overrideable": "overrideable"}
PACKAGES = {"mamba_ssm": "mamba-ssm", "causal_conv1d": "causal-conv1d", "fla": "flash-linear-attention",
            "flash_attn": "flash-attn", "kernels": "hub kernels"}
REFERENCE = "pytorch reference"
NOT_MIXERS = ("attention", "sdpa_backend")  # the `impl` entries that name no mixer function


def mixer_paths(impl: dict[str, Any] | None) -> dict[str, str]:
    """The mixer functions' entries of an `impl` (its attention entries left out)."""
    return {k: v for k, v in (impl or {}).items() if k not in NOT_MIXERS}


def implementation_of(module: str) -> str:
    """The name charsuite reports for code in `module`: a kernel package, or the reference."""
    top = module.split(".", 1)[0]
    if top == "transformers":
        return REFERENCE
    return PACKAGES.get(top, module)


@dataclass
class Seen:
    """What ran under watch(): kernel wrapper -> implementation, attention functions, SDPA ops."""

    mixers: dict[str, str] = field(default_factory=dict)
    attention: set[str] = field(default_factory=set)
    sdpa: set[str] = field(default_factory=set)

    def as_impl(self) -> dict[str, str]:
        """The result line's `impl`: one entry per kernel function, plus the attention path."""
        out = dict(sorted(self.mixers.items()))
        if self.attention:
            out["attention"] = "+".join(sorted(self.attention))
        if self.sdpa:
            out["sdpa_backend"] = "+".join(sorted(self.sdpa))
        return out


def candidates(module: Any, names: tuple[str, ...]) -> dict[Any, tuple[str, str]]:
    """{code object or builtin: (kernel function name, implementation)} for every function a
    modeling module's kernel global may end up running: the global itself and, through
    transformers' wrapper (its closure's `implementation` and `torch_function`, through kernels' Func
    module from transformers 5.25: engines/wrappers.py), both the package's function and the PyTorch
    reference."""
    out: dict[Any, tuple[str, str]] = {}
    for name in names:
        fn = getattr(module, name, None)
        stack, seen_ids = [fn], set()
        while stack:
            f = stack.pop()
            if f is None or id(f) in seen_ids:
                continue
            seen_ids.add(id(f))
            below = wrappers.wrapped_by(f)
            stack += below
            if not below:  # a leaf: the code that does the work
                key = getattr(f, "__code__", f)
                out[key] = (name, implementation_of(getattr(f, "__module__", "") or ""))
    return out


@contextlib.contextmanager
def watch(targets: dict[Any, tuple[str, str]] | None = None, profile_ops: bool = True) -> Iterator[Seen]:
    """Watch the Python calls (and, with `profile_ops`, torch's ops) of the block; `targets`
    (candidates()) names the kernel functions' implementations to look out for."""
    seen = Seen()
    targets = targets or {}

    def on_event(frame, event, arg) -> None:
        if event == "c_call":
            hit = targets.get(arg) if not isinstance(arg, type) else None
        elif event == "call":
            name = frame.f_code.co_name
            if name in ATTENTION_FUNCTIONS:
                seen.attention.add(ATTENTION_FUNCTIONS[name])
            hit = targets.get(frame.f_code)
        else:
            return
        if hit is not None:
            seen.mixers[hit[0]] = hit[1]

    with contextlib.ExitStack() as stack:
        prof = None
        if profile_ops:
            from torch.profiler import ProfilerActivity, profile

            prof = stack.enter_context(profile(activities=[ProfilerActivity.CPU]))
        previous = sys.getprofile()
        sys.setprofile(on_event)
        try:
            yield seen
        finally:
            sys.setprofile(previous)
        if prof is not None:
            stack.close()
            seen.sdpa = {SDPA_BACKENDS[e.name] for e in prof.events() if e.name in SDPA_BACKENDS}


def check_kernels(asked: str, impl: dict[str, str], family: str) -> None:
    """model.impl=kernels with any mixer function run by the PyTorch reference is bad input:
    one line, never a silent fallback."""
    if asked != "kernels":
        return
    fallen = sorted(k for k, v in mixer_paths(impl).items() if v == REFERENCE)
    if fallen:
        raise ConfigError(f"model.impl=kernels, but {family} ran {', '.join(fallen)} on the PyTorch reference "
                          "(the kernel packages did not dispatch); install them with pip install -e '.[cuda]' "
                          "or use model.impl=auto")


def summary(impl: dict[str, Any] | None) -> str | None:
    """A short label of the mixers' path for series names: kernels, reference or mixed."""
    paths = set(mixer_paths(impl).values())
    if not paths:
        return None
    if paths == {REFERENCE}:
        return "reference"
    return "kernels" if REFERENCE not in paths else "mixed"
