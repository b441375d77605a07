"""Calibrate's rates of the op classes that run far below the triad's bandwidth (issue 30): a masked fill with a
broadcast mask, a cumulative sum down a chunk, an exp over a tensor that holds infinities (a float's special value
takes a slow path in a CPU's vector exp), a depthwise conv1d. The SSD reference path of Mamba-2, Falcon-H1 and
Zamba2 is made of them (segsum's masked_fill(-inf), cumsum and exp over (chunk x chunk) blocks, the causal conv1d);
the latency model takes an op of a class at its measured rate (bytes as the dry-run counts them: what it reads and
writes) and every other op at the triad's.

Which ops belong to a class is decided here too (`op_class`), so a benchmark and the ops it stands for are one
definition. The benchmarks run on (CHUNK x CHUNK) blocks as the reference code makes them, ELEMENTS elements in
all; the depthwise conv over 1024 channels in the layout models call it in (channels innermost: a transposed
projection), over a prefill's length and over a decode step's few positions, where its fixed cost per call is all
there is (on a 2-core Xeon its rate wanders between 1 and 5 GB/s with the channels and the length from one run to the
next). A class's rate is looked up at the nearest measured key in log scale (`rate_at`: the elements of the op's
first input), so a grid of keys can be added where a device needs one."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from charsuite.calibrate_timing import measured

CHUNK = 64               # segsum's (chunk x chunk) blocks (a small model's chunk size; 256 at real sizes)
ELEMENTS = 2**20         # 4 MiB of float32 a tensor: the blocks of a 2K-token prefill, within the caches like them
CHANNELS = 1024          # a depthwise conv1d's channels (Mamba-2's conv over x, B and C), its kernel CONV_WIDTH wide
CONV_WIDTH = 4
CONV_LENGTHS = (ELEMENTS // CHANNELS, CONV_WIDTH)  # a prefill's positions; a decode step's (its last CONV_WIDTH)
WARM_UPS = 8             # calls before the timed ones: a fresh process's first outputs are mapped, then reused

# class -> the ops it holds (an exp only where its input holds infinities; a convolution only where depthwise)
CLASSES = {"masked_fill": ("aten::masked_fill", "aten::masked_fill_"),
           "cumsum": ("aten::cumsum", "aten::cumsum_", "aten::cumprod"),
           "exp_infinite": ("aten::exp", "aten::exp_"),
           "depthwise_conv": ("aten::convolution", "aten::_convolution")}


def op_class(name: str, args: tuple, infinite_input: bool) -> tuple[str, int] | None:
    """The class whose calibrated rate an op runs at and its key (its first input's elements), None for the triad's:
    `infinite_input` says whether its first input holds infinities (the dry-run tracks what masked_fill(-inf) and
    its like wrote)."""
    cls = next((c for c, ops in CLASSES.items() if name in ops), None)
    x = args[0] if args and isinstance(args[0], torch.Tensor) else None
    if cls is None or x is None or (cls == "exp_infinite" and not infinite_input):
        return None
    if cls == "depthwise_conv":
        groups = args[-1]
        depthwise = x.dim() >= 2 and isinstance(groups, int) and 1 < groups == x.shape[1]
        return (cls, int(x.numel())) if depthwise else None
    return cls, int(x.numel())


def infinite_fill(args: tuple, kwargs: dict) -> bool:
    """Whether an op writes an infinity it was given (masked_fill(mask, -inf), full(size, -inf), fill_(inf))."""
    return any(isinstance(v, float) and math.isinf(v) for v in [*args[1:], *kwargs.values()])


def rate_at(rates: tuple[tuple[str, int, float], ...], cls: str, key: int) -> float | None:
    """GB/s of a class at the nearest measured key (log scale); None where the class was not measured."""
    got = [(k, v) for c, k, v in rates if c == cls]
    if not got:
        return None
    return min(got, key=lambda kv: abs(math.log(max(1, key)) - math.log(kv[0])))[1]


def _benchmarks(device: torch.device) -> list[tuple[str, int, Callable[[], Any], int]]:
    """(class, key, its op at its usual shape, the bytes the dry-run would count for it: inputs and output)."""
    x = torch.randn(ELEMENTS // (CHUNK * CHUNK), CHUNK, CHUNK, device=device)
    mask = torch.tril(torch.ones(CHUNK, CHUNK, dtype=torch.bool, device=device))
    infinite = x.masked_fill(~mask, -math.inf)
    tensor = 4 * ELEMENTS
    out = [("masked_fill", ELEMENTS, lambda: x.masked_fill(mask, 0.0), 2 * tensor + mask.numel()),
           ("cumsum", ELEMENTS, lambda: torch.cumsum(x, dim=-2), 2 * tensor),
           ("exp_infinite", ELEMENTS, lambda: torch.exp(infinite), 2 * tensor)]
    c = CHANNELS
    weight = torch.randn(c, 1, CONV_WIDTH, device=device)
    for length in CONV_LENGTHS:
        seq = torch.randn(1, length, c, device=device).transpose(1, 2)  # channels innermost, as models call it

        def conv(s=seq):
            return torch.nn.functional.conv1d(s, weight, groups=c, padding=CONV_WIDTH - 1)

        out.append(("depthwise_conv", seq.numel(), conv,
                    4 * (seq.numel() + weight.numel() + c * (length + CONV_WIDTH - 1))))
    return out


def op_rates(device: torch.device, repeats: int) -> list[dict[str, Any]]:
    """GB/s of each class's benchmark at each key (the median of `repeats`, its interval and noise verdict)."""
    out = []
    for cls, key, fn, nbytes in _benchmarks(device):
        try:
            for _ in range(WARM_UPS):  # glibc settles its heap over the first few fresh outputs (2-4 ms, then 0.6)
                fn()
            out.append({"class": cls, "key": key, **measured(fn, device, nbytes / 1e9, repeats), "bytes": nbytes})
        except RuntimeError as exc:  # an op this device cannot run: the class falls back on the triad
            out.append({"class": cls, "key": key, "error": str(exc).splitlines()[0][:200]})
    return out


def rates_of(cal: dict) -> tuple[tuple[str, int, float], ...]:
    """(class, key, GB/s) of a saved calibration's op rates; () where it has none (an older file, a data sheet)."""
    rows = cal.get("op_rates") if isinstance(cal, dict) else None
    return tuple((r["class"], int(r["key"]), float(r["value"])) for r in rows or []
                 if isinstance(r, dict) and isinstance(r.get("class"), str) and isinstance(r.get("key"), int)
                 and isinstance(r.get("value"), (int, float)) and 0 < r["value"] < float("inf"))
