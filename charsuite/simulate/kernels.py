"""Fakes of the fused kernels for the dry-run: each allocates exactly the outputs and
workspaces its real kernel allocates (the torch.empty calls of the kernel's Python
wrapper or C++ entry point, cited per function; commits: mamba-ssm 2.3.2.post1 e9594ce,
causal-conv1d main) and nothing else, so the tracker sees the kernel path's memory.
Within a kernel nothing else is allocated: Triton and CUDA kernels work in registers and
shared memory. transformers 5.x resolves its kernels once, at import, into module globals
(integrations/hub_kernels.py: use_kernel_func_from_hub_with_fallback); `patched()` swaps
those globals for the fakes for the duration of a dry-run.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from unittest import mock

import torch

from charsuite.engines.kernel_paths import KERNEL_GLOBALS, modeling_module


def causal_conv1d_fn(x, weight, bias=None, activation=None, **_):
    """causal_conv1d/causal_conv1d_interface.py CausalConv1dFn.forward (copies x unless
    channel-first or channel-last) and cpp_functions.causal_conv1d_fwd_function
    (`out = torch.empty_like(x)`)."""
    if x.stride(2) != 1 and x.stride(1) != 1:
        x = x.contiguous()
    return torch.empty_like(x)


def causal_conv1d_update(x, conv_state, weight, bias=None, activation=None, **_):
    """cpp_functions.causal_conv1d_update_function: `out = torch.empty_like(x)`; the conv
    state is updated in place."""
    return torch.empty_like(x)


def selective_state_update(state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=False, **_):
    """mamba_ssm/ops/triton/selective_state_update.py selective_state_update:
    `out = torch.empty_like(x)`; the state is updated in place. Mamba-1 and Mamba-2 decode."""
    return torch.empty_like(x)


def selective_scan_fn(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                      return_last_state=False, **_):
    """mamba_ssm/ops/selective_scan_interface.py SelectiveScanFn.forward (contiguous
    copies of inputs whose last stride is not 1) and csrc/selective_scan/selective_scan.cpp
    selective_scan_fwd: `out = empty_like(delta)`, the chunk states `x` of
    (batch, dim, ceil(L / 2048), 2 * dstate) in A's dtype, `out_z = empty_like(z)`. The
    last state returned is a view into `x`."""
    u, delta, B, C = (t if t.stride(-1) == 1 else t.contiguous() for t in (u, delta, B, C))
    if z is not None and z.stride(-1) != 1:
        z = z.contiguous()
    batch, dim, length = u.shape
    dstate = A.shape[-1]
    out = torch.empty_like(delta)
    x = torch.empty(batch, dim, math.ceil(length / 2048), 2 * dstate, dtype=A.dtype, device=u.device)
    out_z = torch.empty_like(z) if z is not None else None  # out and out_z both live until the return
    result = out if out_z is None else out_z
    last_state = x[:, :, -1, 1::2]
    return (result, last_state) if return_last_state else result


def mamba_chunk_scan_combined(x, dt, A, B, C, chunk_size, D=None, z=None, dt_bias=None, initial_states=None,
                              return_final_states=False, **_):
    """mamba_ssm/ops/triton/ssd_combined.py _mamba_chunk_scan_combined_fwd, in its order:
    contiguous copies; _chunk_cumsum_fwd (dt_out, dA_cumsum: batch x heads x chunks x
    chunk, float32); _chunk_state_fwd (states: batch x chunks x heads x headdim x dstate,
    float32); _state_passing_fwd (out in C's dtype, final_states float32), after which the
    float32 chunk states are dropped; _bmm_chunk_fwd (CB: batch x chunks x groups x chunk
    x chunk, float32); _chunk_scan_fwd (out, and out_x when z is given, in x's dtype)."""
    batch, length, heads, headdim = x.shape
    groups, dstate = B.shape[2], B.shape[3]
    B = B if B.stride(-1) == 1 else B.contiguous()
    C = C if C.stride(-1) == 1 else C.contiguous()
    if x.stride(-1) != 1 and x.stride(1) != 1:
        x = x.contiguous()
    chunks = math.ceil(length / chunk_size)
    f32 = dict(dtype=torch.float32, device=x.device)
    dt_out = torch.empty(batch, heads, chunks, chunk_size, **f32)
    dA_cumsum = torch.empty(batch, heads, chunks, chunk_size, **f32)
    states = torch.empty(batch, chunks, heads, headdim * dstate, **f32)
    passed = torch.empty(batch, chunks, heads, headdim * dstate, dtype=C.dtype, device=x.device)
    final_states = torch.empty(batch, heads, headdim * dstate, **f32)
    del states
    CB = torch.empty(batch, chunks, groups, chunk_size, chunk_size, **f32)
    out = torch.empty(batch, length, heads, headdim, dtype=x.dtype, device=x.device)
    out_x = torch.empty_like(out) if z is not None else None
    del dt_out, dA_cumsum, passed, CB
    result = out if z is None else out_x
    return (result, final_states.view(batch, heads, headdim, dstate)) if return_final_states else result


def flash_sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """The CUDA flash / memory-efficient attention (PyTorch aten/src/ATen/native/transformers/
    cuda/attention.cu, _scaled_dot_product_flash_attention_cuda and the efficient variant):
    the output (batch, heads, L, head_dim) in the query's dtype, stored (batch, L, heads,
    head_dim), and the float32 logsumexp (batch, heads, L), which inference drops. No
    L x L matrix. Its cost, told to a latency dry-run: Q K^T and P V, 2 b h Lq Lk d FLOPs each
    (torch.utils.flop_counter.sdpa_flop_count), half of it where a causal square skips the blocks
    above the diagonal (FlashAttention-2's causal masking), reading Q, K, V and writing the output."""
    from charsuite.simulate.launches import tell

    b, h, lq, d = query.shape
    out = torch.empty(b, lq, h, value.shape[-1], dtype=query.dtype, device=query.device).transpose(1, 2)
    lse = torch.empty(b, h, lq, dtype=torch.float32, device=query.device)
    del lse
    lk = key.shape[-2]
    flops = 2 * b * h * lq * lk * d + 2 * b * h * lq * lk * value.shape[-1]
    tell("flash_attention", (query, key, value, out), {}, flops * (0.5 if is_causal and lq == lk else 1.0))
    return out


def grouped_mm(mat_a, mat_b, offs=None, bias=None, out_dtype=None):
    """torch.nn.functional.grouped_mm as MoE experts call it (2-D tokens x 3-D experts): one
    (tokens, out_features) output (torch/_meta_registrations.py, _meta_grouped_mm_common).
    Swapped in on every dry-run: the meta kernel accepts only bfloat16, while the CPU
    kernel runs any dtype with the same output."""
    return torch.empty(mat_a.shape[0], mat_b.shape[-1], dtype=out_dtype or mat_a.dtype, device=mat_a.device)


FAKES = {"causal_conv1d_fn": causal_conv1d_fn, "causal_conv1d_update": causal_conv1d_update,
         "mamba_selective_scan": selective_scan_fn, "mamba_selective_state_update": selective_state_update,
         "mamba2_chunk_scan": mamba_chunk_scan_combined, "mamba2_selective_state_update": selective_state_update}


@contextlib.contextmanager
def patched(model_type: str, ssm_kernels: bool, cuda_attention: bool) -> Iterator[list[str]]:
    """Swap in the fakes: the SSM kernels of `model_type` (when `ssm_kernels`) and
    torch's SDPA (when `cuda_attention`). Yields the names swapped."""
    with contextlib.ExitStack() as stack:
        names: list[str] = []
        if ssm_kernels and model_type in KERNEL_GLOBALS:
            module = modeling_module(model_type)
            for name in KERNEL_GLOBALS[model_type]:
                if name in FAKES:  # flash-linear-attention's gated delta rule has none: its reference runs
                    stack.enter_context(mock.patch.object(module, name, FAKES[name]))
                    names.append(name)
        if hasattr(torch.nn.functional, "grouped_mm"):
            stack.enter_context(mock.patch.object(torch.nn.functional, "grouped_mm", grouped_mm))
        if cuda_attention:
            stack.enter_context(mock.patch.object(torch.nn.functional, "scaled_dot_product_attention", flash_sdpa))
            names.append("scaled_dot_product_attention")
        yield names
