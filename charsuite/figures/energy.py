"""Throughput (and energy per token, where a power monitor measured it) against context."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from charsuite.figures import theme
from charsuite.figures.common import (
    Data,
    SetupDashes,
    Skip,
    decade_ticks,
    legend_height,
    line,
    log_ticks,
    width_for_legend,
)

PHASE_TITLES = {"prefill": "prefill (tokens in / s)", "decode": "decode (tokens out / s)"}


def throughput_energy(data: Data) -> go.Figure:
    """A panel per phase (throughput above, energy per token below where measured): a colour per model,
    a dash per setup of it, the same in every panel, and one legend entry per run."""
    phases = [p for p in ("prefill", "decode") if data.series(p)]
    if not phases:
        raise Skip("no ok points")
    has_energy = "energy_per_token_j" in data.points and data.points["energy_per_token_j"].notna().any()
    rows = 2 if has_energy else 1
    titles = [PHASE_TITLES[p] for p in phases] + ([f"{p}: energy per token" for p in phases] if has_energy else [])
    fig = make_subplots(rows=rows, cols=len(phases), horizontal_spacing=0.1, vertical_spacing=0.16,
                        subplot_titles=titles)
    dashes = SetupDashes()
    shown: set[str] = set()
    y_values: dict[tuple[int, int], list[float]] = {}
    for col, phase in enumerate(phases, start=1):
        for label, fam, model, device, f in data.series(phase):
            dash = dashes.dash(model, f.iloc[0]["run_dir"])
            first = label not in shown
            shown.add(label)
            line(fig, data, label, fam, model, f, f["tokens_per_s"], row=1, col=col, dash_by=dash,
                 showlegend=first)
            y_values.setdefault((1, col), []).extend(f["tokens_per_s"].tolist())
            if has_energy and f["energy_per_token_j"].notna().any():
                mj = f["energy_per_token_j"] * 1e3
                line(fig, data, label, fam, model, f, mj, row=2, col=col, dash_by=dash, showlegend=False)
                y_values.setdefault((2, col), []).extend(mj.dropna().tolist())
    ctx = log_ticks(data.points["context"].min(), data.points["context"].max())
    for (row, col), ys in y_values.items():
        fig.update_yaxes(title_text="tokens / s" if row == 1 else "mJ / token", row=row, col=col, **decade_ticks(ys))
    for col in range(1, len(phases) + 1):
        fig.update_xaxes(title_text="context (tokens)", row=rows, col=col, **ctx)
        if rows == 2:
            fig.update_xaxes(row=1, col=col, **ctx)
    note = "" if has_energy else " (no power monitor: energy not measured)"
    setups = " A colour per model, a dash per setup of it." if dashes.several else ""
    height = max(theme.HEIGHT_PX * rows, legend_height(fig))
    return theme.style(fig, "Throughput" + (" and energy per token" if has_energy else "") + " vs context" + note,
                       width=width_for_legend(fig, theme.TWO_COLUMN_PX, plot_px=800), height=height,
                       caption=f"Median of the timed repeats; hollow: noisy.{setups}")
