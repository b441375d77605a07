"""Run mamba-ssm's real SSD kernels (Triton) on CPU tensors under Triton's interpreter, inside the dry-run's
allocation tracker, and print what they allocated and computed as JSON (tests/unit/test_triton_interpreter.py).

A process of its own: the interpreter must be chosen before triton is imported, and the shims below (the CUDA
extensions this CPU cannot build, torch.cuda.device on a CPU tensor's index None, one autotune config: the
interpreter has no driver to benchmark configs with) must not leak into the tests' process.

    python tests/triton_interp_probe.py TRITON_SITE MAMBA_SRC
"""

import contextlib
import json
import os
import sys
import types

os.environ["TRITON_INTERPRET"] = "1"
sys.path[:0] = [sys.argv[1], sys.argv[2]]
for ext in ("selective_scan_cuda", "causal_conv1d_cuda"):
    sys.modules[ext] = types.ModuleType(ext)

import torch  # noqa: E402
import triton  # noqa: E402

torch.cuda.device = lambda index: contextlib.nullcontext()
_autotune = triton.autotune
triton.autotune = lambda configs, key, **kw: _autotune(configs=configs[:1], key=key, **kw)

from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined  # noqa: E402

from charsuite.simulate.tracker import AllocationTracker  # noqa: E402

SHAPE = dict(b=1, L=100, h=2, p=8, g=1, n=16, chunk=32)


def main() -> None:
    b, L, h, p, g, n, chunk = SHAPE.values()
    torch.manual_seed(0)
    x, dt = torch.randn(b, L, h, p), torch.rand(b, L, h) * 0.1 + 0.01
    A, B, C = -torch.rand(h) - 0.5, torch.randn(b, L, g, n), torch.randn(b, L, g, n)
    tracker = AllocationTracker([x, dt, A, B, C])
    with tracker:
        y, final = mamba_chunk_scan_combined(x, dt, A, B, C, chunk, return_final_states=True)
    state = torch.zeros(b, h, p, n)  # the recurrence the chunked scan computes, step by step
    ys = []
    for t in range(L):
        state = state * torch.exp(dt[:, t] * A)[:, :, None, None] + (
            dt[:, t, :, None, None] * x[:, t, :, :, None] * B[:, t, 0][:, None, None, :])
        ys.append(torch.einsum("bhpn,bn->bhp", state, C[:, t, 0]))
    print(json.dumps({"triton": triton.__version__, "shape": SHAPE, "peak": tracker.peak,
                      "events": [e for e, _ in tracker.events if e],
                      "max_abs_error": float((y - torch.stack(ys, 1)).abs().max()),
                      "final_state_error": float((final - state).abs().max())}))


if __name__ == "__main__":
    main()
