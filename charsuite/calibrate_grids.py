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
# Causal attention: (query length, head size) at 4 heads; the key length is the query's (prefill)
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
    """TFLOP/s of causal SDPA (FLOPs counted as the latency model counts them: 4 H L^2 D, halved for causal),
    keyed like a GEMM by its per-head shape [L, D, L]."""
    shapes = QUICK_ATTENTION if quick else ATTENTION
    out = []
    for n in shapes["length"]:
        for d in shapes["head_dim"]:
            try:
                q, k, v = (torch.randn(1, HEADS, n, d, device=device).to(DTYPES[dtype]) for _ in range(3))
                fn = (lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True))
                r = measured(fn, device, 2 * HEADS * n * n * d / 1e12, repeats)
            except RuntimeError:
                continue
            out.append({"mnk": [n, d, n], "value": r["value"], "noisy": r["noisy"]})
    return out

