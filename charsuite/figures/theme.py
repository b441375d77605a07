"""One paper style for every figure: widths, fonts, and a fixed color per family and model."""

from __future__ import annotations

import plotly.graph_objects as go

ONE_COLUMN_PX = 520   # exported at scale 1: about a 3.5 in column
TWO_COLUMN_PX = 1040
HEIGHT_PX = 360
FONT = dict(family="Helvetica, Arial, sans-serif", size=13, color="#222")

FAMILY_ORDER = ("ssm", "hybrid", "transformer")
FAMILY_NAMES = {"ssm": "SSM", "hybrid": "Hybrid", "transformer": "Transformer"}
# Blues for SSMs, greens for hybrids, reds for Transformers; each model keeps its color everywhere.
FAMILY_PALETTES = {
    "ssm": ["#1f4e9c", "#3b7dd8", "#7fb2f0", "#123366", "#5a8fd6"],
    "hybrid": ["#1b7a3a", "#4fb06b", "#95d3a2", "#0f4f24", "#7cc48b"],
    "transformer": ["#b2182b", "#e0603c", "#f4a582", "#7f0f1e", "#d6604d", "#fdae6b"],
}
MODEL_ORDER = ("mamba", "mamba2", "zamba2", "falcon_h1", "jamba", "bamba", "nemotron_h",
               "qwen2_5", "llama3_2", "phi3", "tinyllama", "gpt_neo")
CATEGORY_COLORS = {
    "ssm_scan": "#1f4e9c", "conv1d": "#7fb2f0", "attention": "#b2182b", "gemm": "#f4a582",
    "norm": "#4fb06b", "elementwise": "#fdd49e", "memory": "#969696", "embedding": "#8c6bb1",
    "logits": "#e7298a", "communication": "#66a61e", "other": "#d9d9d9",
}
MEM_COLORS = {"weights": "#636363", "kv_cache": "#b2182b", "ssm_state": "#1f4e9c", "logits": "#e7298a",
              "activations": "#fdae6b"}


def model_color(family: str, model: str) -> str:
    palette = FAMILY_PALETTES.get(family, ["#444"])
    same = [m for m in MODEL_ORDER if m in _FAMILY_OF.get(family, ())]
    idx = same.index(model) if model in same else abs(hash(model)) % len(palette)
    return palette[idx % len(palette)]


_FAMILY_OF = {"ssm": ("mamba", "mamba2"), "hybrid": ("zamba2", "falcon_h1", "jamba", "bamba", "nemotron_h"),
              "transformer": ("qwen2_5", "llama3_2", "phi3", "tinyllama", "gpt_neo")}
DASHES = ["solid", "dash", "dot", "dashdot", "longdash"]


def style(fig: go.Figure, title: str, width: int = ONE_COLUMN_PX, height: int = HEIGHT_PX) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=14)),
        width=width, height=height, font=FONT, template="simple_white",
        margin=dict(l=70, r=20, t=50, b=60),
        legend=dict(font=dict(size=11), tracegroupgap=4, bgcolor="rgba(255,255,255,0.8)"),
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eee", ticks="outside")
    fig.update_yaxes(showgrid=True, gridcolor="#eee", ticks="outside")
    return fig
