"""Calibrate's rates by shape (issue 30): GEMMs over a grid from decode's one row to prefill's thousands, and causal
attention (torch's SDPA, as a run's attention calls it) over lengths and head sizes - what the latency model looks an
op up in (simulate/latency.py: the nearest measured shape), since a small or skinny shape runs far below the peak."""

from __future__ import annotations

from typing import Any

import torch

from charsuite.calibrate_timing import DTYPES, measured

# GEMM shapes (m rows, k inner, n columns) from decode's one row to prefill's thousands, a small head's inner
# dimension to a wide hidden size: the latency model takes a GEMM at the rate of the nearest.
GRID = {"m": (1, 64, 1024, 8192), "k": (16, 64, 256, 2048), "n": (1, 64, 512, 4096)}
QUICK_GRID = {"m": (1, 64), "k": (16, 64), "n": (1, 64)}
# Attention: (key length, head size) at 4 heads; as many queries (causal: a prefill) and one query (a decode step)
ATTENTION = {"length": (512, 2048, 8192), "head_dim": (16, 64, 128)}
QUICK_ATTENTION = {"length": (64,), "head_dim": (16,)}
HEADS = 4


def gemm_grid(device: torch.device, dtype: str, grid: dict[str, tuple[int, ...]], repeats: int) -> list[dict]:
    """TFLOP/s of (m x k) @ (k x n) at every shape of the grid: [{"mnk": [m, k, n], "value": ...}, ...]."""
    out = []
    for m in grid["m"]:
        for k in grid["k"]:
            for n in grid["n"]:
                try:
                    x = torch.randn(m, k, device=device).to(DTYPES[dtype])
                    w = torch.randn(k, n, device=device).to(DTYPES[dtype])
                    r = measured(lambda: x @ w, device, 2 * m * n * k / 1e12, repeats)
                except RuntimeError:  # no such matmul in this dtype here: the shape is left out
                    continue
                out.append({"mnk": [m, k, n], "value": r["value"], "noisy": r["noisy"]})
    return out


def attention_grid(device: torch.device, dtype: str, quick: bool = False, repeats: int = 3) -> list[dict[str, Any]]:
    """TFLOP/s of SDPA (FLOPs counted as the latency model counts them: 4 H Lq Lk D, halved for causal), keyed
    like a GEMM by its per-head shape [Lq, D, Lk]: causal over a square as a prefill calls it, and one query over
    the keys as a decode step does (no mask) - a different kernel regime, not a small prefill."""
    shapes = QUICK_ATTENTION if quick else ATTENTION
    out = []
    for n in shapes["length"]:
        for d in shapes["head_dim"]:
            for queries in (n, 1):
                try:
                    q = torch.randn(1, HEADS, queries, d, device=device).to(DTYPES[dtype])
                    k, v = (torch.randn(1, HEADS, n, d, device=device).to(DTYPES[dtype]) for _ in range(2))
                    causal = queries == n

                    def fn(q=q, k=k, v=v, causal=causal):
                        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)

                    flops = 4 * HEADS * queries * n * d / (2 if causal else 1)
                    r = measured(fn, device, flops / 1e12, repeats)
                except RuntimeError:
                    continue
                out.append({"mnk": [queries, d, n], "value": r["value"], "noisy": r["noisy"]})
    return out

