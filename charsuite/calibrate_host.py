"""Calibrate's host costs (issue 30): what the host spends per aten op where the device waits for Python - in eager
module code (a stack of small decoder blocks) and in transformers' own decode step (a small GPT-2, a model outside
the zoo, so no predicted model calibrates itself) - and what a fresh allocation costs where glibc maps it afresh, as
a CPU worker's prefill does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from charsuite.calibrate_timing import measured


class _DecoderBlock(torch.nn.Module):
    """A decoder block's op mix (an RMS norm, a gated MLP, the residual) at a width small enough that its time is
    the host's: what eager module code costs per aten op, Python's module calls and glue included."""

    def __init__(self, width: int):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(width))
        self.up = torch.nn.Linear(width, 2 * width, bias=False)
        self.down = torch.nn.Linear(width, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.scale
        gate, value = self.up(h).chunk(2, dim=-1)
        return x + self.down(torch.nn.functional.silu(gate) * value)


def aten_ops(fn: Callable[[], Any]) -> int:
    """The aten ops one call of `fn` dispatches (what a dry-run counts per op: OpCostRecorder)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.n += not func._schema.name.startswith("prim::")
            return func(*args, **(kwargs or {}))

    with Count():
        fn()
    return Count.n


def module_dispatch(device: torch.device, blocks: int, repeats: int) -> dict[str, Any]:
    """Microseconds of host time per aten op of eager module code (a stack of tiny decoder blocks, one token, no
    autograd, as a decode step runs): the tight loop of `dispatch` pays no module call or Python glue, which a
    model's decode step does for every op."""
    model = torch.nn.Sequential(*(_DecoderBlock(64) for _ in range(blocks))).to(device).eval()
    x = torch.randn(1, 1, 64, device=device)

    def step():
        with torch.inference_mode():
            model(x)

    ops = aten_ops(step)
    r = measured(step, device, ops, repeats)
    return {**r, "us_per_op": 1e6 / r["value"], "ops": ops}


def library_dispatch(device: torch.device, repeats: int) -> dict[str, Any] | None:
    """Microseconds per aten op of transformers' own cached decode step (GPT-2, 2 layers of width 64: its time is
    the host's) - the module calls, cache bookkeeping and mask building between ops that a model's decode pays and a
    bare module stack does not; None where transformers cannot build it."""
    try:
        from transformers import GPT2Config, GPT2LMHeadModel

        config = GPT2Config(n_embd=64, n_layer=2, n_head=2, vocab_size=256, n_positions=256, bos_token_id=0,
                            eos_token_id=0)
        model = GPT2LMHeadModel(config).to(device).eval()
        with torch.inference_mode():
            out = model(torch.zeros(1, 32, dtype=torch.long, device=device), use_cache=True)
        cache = getattr(out, "cache", None) or out.past_key_values  # transformers 5.x: `cache`
        token = torch.zeros(1, 1, dtype=torch.long, device=device)

        def step():  # the cache grows by a token a call: 32 to ~45 positions, the same cost at this size
            with torch.inference_mode():
                model(token, cache=cache, use_cache=True)

        ops = aten_ops(step)
        r = measured(step, device, ops, repeats)
    except Exception:  # noqa: BLE001 - a transformers without GPT-2 or its cache API: the module stack stands
        return None
    return {**r, "us_per_op": 1e6 / r["value"], "ops": ops, "model": "gpt2 (2 layers, width 64)"}


def first_touch(device: torch.device, mib: int, repeats: int) -> dict[str, Any] | None:
    """Nanoseconds per byte a fresh allocation costs beyond writing a warm buffer, with glibc mapping every large
    block afresh as a CPU worker's prefill does (allocator.py, `mapped`): the page faults and zeroing every new
    tensor of 128 KiB or more pays there. Measured in a fresh process switched to `mapped` at its start, as a
    worker is (this process's heap has a history a worker's has not). None off a CPU or off glibc."""
    import json
    import subprocess
    import sys

    if device.type != "cpu":
        return None
    code = ("import json; from charsuite.calibrate_host import first_touch_here as f; "
            f"print(json.dumps(f({mib}, {repeats})))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    got = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 and r.stdout.strip() else None
    return got or None


def first_touch_here(mib: int, repeats: int) -> dict[str, Any] | None:
    from charsuite import allocator
    if not allocator.set_mode("mapped"):
        return None
    n, cpu = mib * 2**20 // 4, torch.device("cpu")
    warm = torch.empty(n)
    written = measured(lambda: warm.fill_(1.0), cpu, 4 * n / 1e9, repeats)
    fresh = measured(lambda: torch.empty(n).fill_(1.0), cpu, 4 * n / 1e9, repeats)
    extra = max(0.0, fresh["seconds"] - written["seconds"]) / (4 * n) * 1e9
    return {"ns_per_byte": extra, "fresh_gbs": fresh["value"], "warm_gbs": written["value"], "buffer_mib": mib,
            "noisy": fresh["noisy"] or written["noisy"]}
