"""One paper style for every figure: widths, fonts, and a fixed color per family and model."""

from __future__ import annotations

import hashlib
import textwrap

import plotly.graph_objects as go

from charsuite import zoo
from charsuite.config import FAMILIES

ONE_COLUMN_PX = 520   # exported at scale 1: about a 3.5 in column
TWO_COLUMN_PX = 1040
HEIGHT_PX = 360
FONT = dict(family="Helvetica, Arial, sans-serif", size=13, color="#222")

FAMILY_ORDER = FAMILIES
FAMILY_NAMES = {"ssm": "SSM", "hybrid": "Hybrid", "transformer": "Transformer"}
# Blues for SSMs, greens and teals for hybrids, reds for Transformers; each model keeps its color
# everywhere, and every zoo model of a family has its own (a test holds the palettes to the zoo's size).
FAMILY_PALETTES = {
    "ssm": ["#1f4e9c", "#3b7dd8", "#7fb2f0", "#123366", "#5a8fd6", "#2c7fb8"],
    "hybrid": ["#1b7a3a", "#4fb06b", "#95d3a2", "#0f4f24", "#7cc48b", "#00897b", "#4db6ac", "#33691e",
               "#9ccc65", "#00695c", "#a5d6a7"],
    "transformer": ["#b2182b", "#e0603c", "#f4a582", "#7f0f1e", "#d6604d", "#fdae6b"],
}
# Colors for the taxonomy's categories (kernels_profile/taxonomy.yaml), in its order;
# a category added there takes the next color of this list, never a random one.
CATEGORY_PALETTE = ["#1f4e9c", "#7fb2f0", "#b2182b", "#f4a582", "#4fb06b", "#fdd49e", "#969696", "#8c6bb1",
                    "#e7298a", "#66a61e", "#a6761d", "#1b9e77", "#e6ab02", "#666666", "#80cdc1"]
OTHER_GREY = "#d9d9d9"  # `other` only: no category shares it (linear_attention once did)
# The reference study's groups (kernels_profile/taxonomy.yaml `study`), each colored like the category of ours
# that means the same (so the two panels of operator_breakdown_study read side by side); a group with no
# such category gets a color no category has: one color, one meaning per figure.
STUDY_SAME_AS = {"SSM_Scan": "ssm_scan", "GEMM": "gemm", "normalization": "norm", "activation": "elementwise",
                 "logit_computation": "logits", "embedding": "embedding", "memory": "memory", "other": "other"}
STUDY_OWN_COLORS = {"arithmetic": "#fb9a99"}
MEM_COLORS = {"weights": "#636363", "kv_cache": "#b2182b", "ssm_state": "#1f4e9c", "logits": "#e7298a",
              "activations": "#fdae6b", "allocator_slack": "#e5e5e5"}


def category_colors() -> dict[str, str]:
    """{category: color} for every category of the taxonomy, each its own, `other` always light grey."""
    from kernels_profile.taxonomy import load

    cats = [c for c in load().categories if c != "other"]
    colors = {c: CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)] for i, c in enumerate(cats)}
    return {**colors, "other": OTHER_GREY}


def study_colors() -> dict[str, str]:
    """{study group: color}: the color of our category of the same meaning, else one of its own."""
    ours = category_colors()
    return {**{g: ours[c] for g, c in STUDY_SAME_AS.items() if c in ours}, **STUDY_OWN_COLORS}


def _stable_index(name: str, n: int) -> int:
    """The same index for the same name in every process (unlike hash(), which is salted)."""
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "big") % n


def model_color(family: str, model: str) -> str:
    """A family's palette, each zoo model at its own place in it; any other name (a model
    not in conf/model) gets a color from its name, the same in every process."""
    palette = FAMILY_PALETTES.get(family, ["#444444"])
    same = zoo.models_of(family) if family in FAMILY_PALETTES else []
    idx = same.index(model) if model in same else _stable_index(model, len(palette))
    return palette[idx % len(palette)]


DASHES = ["solid", "dash", "dot", "dashdot", "longdash"]


CAPTION_FONT = dict(size=11, color="#555")


def style(fig: go.Figure, title: str, width: int = ONE_COLUMN_PX, height: int = HEIGHT_PX,
          caption: str | None = None, below_axis_px: int = 0) -> go.Figure:
    """The paper style; `caption` (what the marks mean, the assumptions) goes under the plot,
    wrapped to its width, and the figure grows to hold it; `below_axis_px`: what axis labels of
    several lines add under the axis (the caption moves down by as much, never under them)."""
    lines = textwrap.wrap(caption, max(40, width // 7)) if caption else []
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=14)),
        width=width, height=height + 15 * len(lines) + below_axis_px, font=FONT, template="simple_white",
        margin=dict(l=70, r=20, t=50, b=(75 if lines else 60) + 15 * len(lines) + below_axis_px),
        legend=dict(font=dict(size=11), tracegroupgap=4, bgcolor="rgba(255,255,255,0.8)"),
    )
    if lines:
        fig.add_annotation(text="<br>".join(lines), xref="paper", yref="paper", x=0, y=0, xanchor="left",
                           yanchor="top", yshift=-64 - below_axis_px, showarrow=False, align="left", font=CAPTION_FONT,
                           name="caption")
    fig.update_xaxes(showgrid=True, gridcolor="#eee", ticks="outside")
    fig.update_yaxes(showgrid=True, gridcolor="#eee", ticks="outside")
    return fig
