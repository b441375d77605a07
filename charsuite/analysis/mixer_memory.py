"""Per-token transient bytes of the 2026 zoo's recurrent mixers in a prefill, read off
transformers 5.24's reference code (the live set at each mixer's peak, as dry-run traces of
tiny configs list it: tests/integration/test_dryrun.py holds the closed form to the dry-run). The
Mamba mixers' terms stay in memory_model.activation_bytes; no torch here either.

gated DeltaNet (Qwen3.5, `torch_chunk_gated_delta_rule`): the conv output (keys, queries,
values), the output gate z and five per-head scalars in the model dtype; in float32, inside
the chunk loop: three heads x chunk x chunk matrices per chunk (the pairwise decay, the UT
system and the intra-chunk attention), six key-sized tensors (padded and decayed queries and
keys, k*beta and its decayed copy, the solved k_cumdecay) and four value-sized ones (the
padded values, v*beta, the solved new values, the output), and six per-head scalars.
flash-linear-attention's kernels are not modelled: with them, this is the reference's peak.
RG-LRU (RecurrentGemma): twelve width-sized tensors in the model dtype (the conv output, the
GELU branch, the gates' products, exponentials and the scan's output; the loop keeps them).
mLSTM (xLSTM, native chunkwise): eight value-sized tensors (the value and output-gate
projections, the chunk states and outputs), four query/key-sized, eight heads x chunk per
token (the intra-chunk decay matrix and its products) and twelve per-head scalars, all in
the model dtype; over `max_inference_chunksize` tokens the backbone runs in chunks of it.
"""

from __future__ import annotations

from charsuite.analysis.architectures import Layout


def mixer_bytes(lay: Layout, elem: int) -> int:
    """Transient bytes per token of one 2026 mixer's prefill (0 for a kind not listed here)."""
    h, dk = lay.ssm_heads, lay.d_state
    if lay.ssm_kind == "gated_deltanet":
        conv = lay.d_inner + 2 * lay.ssm_groups * dk
        return (conv + lay.d_inner + 5 * h) * elem + (3 * h * lay.chunk + 6 * h * dk + 4 * lay.d_inner + 6 * h) * 4
    if lay.ssm_kind == "rglru":
        return 12 * lay.d_inner * elem
    if lay.ssm_kind == "mlstm":
        return (8 * lay.d_inner + 4 * h * dk + 8 * h * lay.chunk + 12 * h) * elem
    return 0
