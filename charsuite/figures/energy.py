"""Throughput (and energy per token, where a power monitor measured it) against context."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from charsuite.figures import theme
from charsuite.figures.common import Data, Skip, line, log_ticks


def throughput_energy(data: Data) -> go.Figure:
    series = [("prefill", s) for s in data.series("prefill")] + [("decode", s) for s in data.series("decode")]
    if not series:
        raise Skip("no ok points")
    has_energy = "energy_per_token_j" in data.points and data.points["energy_per_token_j"].notna().any()
    fig = make_subplots(rows=1, cols=2 if has_energy else 1, horizontal_spacing=0.12,
                        subplot_titles=["throughput"] + (["energy per token"] if has_energy else []))
    for phase, (label, fam, model, device, f) in series:
        dash = "solid" if phase == "prefill" else "dash"
        line(fig, data, f"{label} ({phase})", fam, model, f, f["tokens_per_s"], row=1, col=1, dash_by=dash)
        if has_energy and f["energy_per_token_j"].notna().any():
            line(fig, data, f"{label} ({phase}) J/token", fam, model, f, f["energy_per_token_j"] * 1e3, row=1,
                  col=2, dash_by=dash, showlegend=False)
    for c in range(1, (2 if has_energy else 1) + 1):
        fig.update_xaxes(title_text="context (tokens)", row=1, col=c,
                         **log_ticks(data.points["context"].min(), data.points["context"].max()))
    fig.update_yaxes(title_text="tokens / s", type="log", row=1, col=1)
    if has_energy:
        fig.update_yaxes(title_text="mJ / token", type="log", row=1, col=2)
    note = "" if has_energy else " (no power monitor: energy not measured)"
    return theme.style(fig, "Throughput" + (" and energy per token" if has_energy else "") + " vs context" + note,
                       width=theme.TWO_COLUMN_PX if has_energy else theme.ONE_COLUMN_PX * 5 // 4)
