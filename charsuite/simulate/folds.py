"""The Mamba-1 reference scan (transformers' `mamba_selective_scan` fallback) loops over
the sequence in Python: a dry-run of it is O(L x layers) fake ops, minutes at 2K tokens
on a 2.8B model. `folded_selective_scan` runs the same code with the loop's allocations
made in aggregate, in the order the loop makes them, so the live bytes and their peak
are those of the loop (checked against real runs in tests/integration/test_dryrun.py):
step i allocates `discrete_A[:, :, i] * state` (float32, batch x d_inner x d_state), then
`+ deltaB_u[:, :, i]` (the new state; the product and the old state die), then a
(batch, d_inner, 1) matmul output kept in a list; after the loop `torch.stack` copies the
list (batch, d_inner, L), and the list lives on until the function returns.
RecurrentGemma's RG-LRU (`RecurrentGemmaRglru._rnn_scan`) loops the same way: each step makes
a float32 (batch, width) product, then the new state (the product and the old state die) and
writes into a preallocated output; folded, the output and the last step's tensors are made once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest import mock

import torch
import torch.nn.functional as F

from charsuite.engines.kernel_paths import modeling_module
from charsuite.simulate.op_costs import OpCost, OpCostRecorder, active_recorder

FOLDED = ("mamba", "jamba", "falcon_mamba", "recurrent_gemma")


def folded_selective_scan(hidden_states, dt, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                          return_last_state=False, **_):
    batch, d_inner, seq_len = hidden_states.shape
    input_dtype = hidden_states.dtype
    if delta_bias is not None:
        dt = dt + delta_bias.to(dt.dtype)[..., None]
    if delta_softplus:
        dt = F.softplus(dt)
    B, C = B.transpose(1, 2), C.transpose(1, 2)
    discrete_A = torch.exp(A[None, :, None, :] * dt[:, :, :, None])
    discrete_B = dt[:, :, :, None] * B[:, None, :, :].float()
    deltaB_u = discrete_B * hidden_states[:, :, :, None].float()
    state = torch.zeros(batch, d_inner, A.shape[-1], dtype=input_dtype, device=hidden_states.device)
    outputs = torch.empty(batch, d_inner, seq_len - 1, dtype=input_dtype, device=hidden_states.device)  # steps 0..L-2
    if seq_len > 1:  # the state entering the last step: float32 from step 0 on
        state = torch.empty(batch, d_inner, A.shape[-1], dtype=discrete_A.dtype, device=hidden_states.device)
    product = discrete_A[:, :, -1] * state
    state = product + deltaB_u[:, :, -1]
    del product
    last = torch.matmul(state.to(input_dtype), C[:, -1, :].unsqueeze(-1))
    scan_output = torch.cat([outputs, last], dim=-1)  # the list stays alive until the function returns
    rec = active_recorder()
    if rec is not None and seq_len > 1:  # a latency prediction: the steps the fold did not run, each as it would
        record_scan_steps(rec, batch, d_inner, A.shape[-1], input_dtype, discrete_A.dtype, seq_len - 1)
    if D is not None:
        scan_output = scan_output + hidden_states * D[None, :, None]
    if z is not None:
        scan_output = scan_output * F.silu(z)
    return (scan_output, state) if return_last_state else scan_output


def record_scan_steps(rec: OpCostRecorder, batch: int, d_inner: int, d_state: int, dtype: torch.dtype,
                      state_dtype: torch.dtype, steps: int) -> None:
    """The loop's ops per step as transformers' mamba_selective_scan runs them (modeling_mamba.py, its recurrent
    branch), `steps` times: `discrete_A[:, :, i] * state + deltaB_u[:, :, i]` (two selects, a mul, an add on a
    batch x d_inner x d_state state), `state.to(dtype)` (a view where the dtype is the state's), `C[:, i, :]
    .unsqueeze(-1)` (a select, an unsqueeze), their matmul, and the select of its output into the list: nine
    dispatches a step, two elementwise kernels over the state and a (d_state x 1) GEMM per row."""
    n = batch * d_inner * d_state
    fs, es = (torch.empty((), dtype=t).element_size() for t in (state_dtype, dtype))
    same = dtype == state_dtype
    per_step = [("aten::select", 0.0, 0, True, None), ("aten::select", 0.0, 0, True, None),
                ("aten::mul", float(n), 3 * n * fs, False, None), ("aten::add", float(n), 3 * n * fs, False, None),
                ("aten::to", 0.0 if same else float(n), 0 if same else n * (fs + es), same, None),
                ("aten::select", 0.0, 0, True, None), ("aten::unsqueeze", 0.0, 0, True, None),
                ("aten::matmul", 2.0 * n, (n + batch * d_state + batch * d_inner) * es, False,
                 (batch * d_inner, d_state, 1)),
                ("aten::select", 0.0, 0, True, None)]
    for op, flops, nbytes, view, mnk in per_step:
        rec.add(OpCost(op, rec.category(op), flops, nbytes, view, mnk, count=steps))


def folded_rnn_scan(original):
    def scan(self, hidden_states, recurrent_gate, reset, recurrent_states, acc_dtype=torch.float32):
        if hidden_states.shape[1] == 1:  # a decode step: no loop
            return original(self, hidden_states, recurrent_gate, reset, recurrent_states, acc_dtype)
        recurrent_gate = recurrent_gate * ~reset
        if recurrent_states is None:
            recurrent_states = torch.zeros(hidden_states[:, 0].shape, dtype=acc_dtype, device=hidden_states.device)
        contextualized_states = torch.zeros_like(hidden_states)
        product = torch.empty(hidden_states[:, 0].shape, dtype=acc_dtype, device=hidden_states.device)
        recurrent_states = torch.empty_like(product)  # the last step's state; its product dies with it
        del product
        rec = active_recorder()
        if rec is not None:  # a latency prediction: every step of the loop, as it would run
            record_rnn_steps(rec, hidden_states[:, 0].numel(), hidden_states.dtype, acc_dtype, hidden_states.shape[1])
        return contextualized_states, recurrent_states
    return scan


def record_rnn_steps(rec: OpCostRecorder, n: int, dtype: torch.dtype, acc_dtype: torch.dtype, steps: int) -> None:
    """The RG-LRU loop's ops per step as transformers' `_rnn_scan` runs them (its linear mode), `steps` times, on
    a state of `n` elements: `recurrent_gate[:, t].type(acc)` and `hidden_states[:, t].type(acc)` (a select each,
    and a copy where the dtypes differ), the mul and the add on the state, and `contextualized_states[:, t] =
    state.type(dtype)` (a copy back where they differ, a select, the copy_ into the output): six dispatches a step,
    nine with the casts (counted under a dispatch mode on real tensors)."""
    fs, es = (torch.empty((), dtype=t).element_size() for t in (acc_dtype, dtype))
    cast = [] if dtype == acc_dtype else [("aten::_to_copy", float(n), n * (es + fs), False)]
    per_step = [("aten::select", 0.0, 0, True), *cast, ("aten::mul", float(n), 3 * n * fs, False),
                ("aten::select", 0.0, 0, True), *cast, ("aten::add", float(n), 3 * n * fs, False), *cast,
                ("aten::select", 0.0, 0, True), ("aten::copy_", float(n), 2 * n * es, False)]
    for op, flops, nbytes, view in per_step:
        rec.add(OpCost(op, rec.category(op), flops, nbytes, view, count=steps))


@contextlib.contextmanager
def folded(model_type: str) -> Iterator[list[str]]:
    if model_type not in FOLDED:
        yield []
        return
    if model_type == "recurrent_gemma":
        cls = modeling_module(model_type).RecurrentGemmaRglru
        with mock.patch.object(cls, "_rnn_scan", folded_rnn_scan(cls._rnn_scan)):
            yield ["RecurrentGemmaRglru._rnn_scan (folded loop)"]
        return
    with mock.patch.object(modeling_module(model_type), "mamba_selective_scan", folded_selective_scan):
        yield ["mamba_selective_scan (folded loop)"]
