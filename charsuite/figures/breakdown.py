"""Operator-breakdown figures: where a profiled step's time went, by kernel category, per run, per
device and in the study's grouping."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from charsuite.figures import theme
from charsuite.figures.common import Data, Skip
from charsuite.units import human_tokens


def _profiles(data: Data) -> pd.DataFrame:
    p = data.points
    if p.empty or "breakdown" not in p:
        return p.iloc[0:0]
    prof = p[(p["phase"] == "profile") & (p["status"] == "ok")]
    return prof[prof["breakdown"].map(lambda b: isinstance(b, dict))]


def _run_profiles(prof: pd.DataFrame, model: str, size: str, device: str, phase: str) -> pd.DataFrame:
    """One run's profile lines of one phase, by context."""
    return prof[(prof["model"] == model) & (prof["size"] == size) & (prof["device"] == device) &
                (prof["profiled_phase"] == phase)].sort_values("context")


def _shares(b: dict, colors: dict[str, str] | None = None) -> dict[str, float]:
    colors = colors or theme.category_colors()
    cats = {k: v for k, v in b.items() if k in colors and isinstance(v, (int, float))}
    total = sum(cats.values()) or 1.0
    return {k: v / total for k, v in cats.items()}


def breakdown(data: Data) -> go.Figure:
    prof = _profiles(data)
    if prof.empty:
        raise Skip("no profile lines (run with profile.enabled=true profile.contexts=[...])")
    runs = [k for k, _ in prof.groupby(["model", "size", "device"], sort=True)]
    phases = [ph for ph in ("prefill", "decode") if ph in set(prof["profiled_phase"])]
    titles = [f"{m} {s}{' @ ' + d if data.multi_device else ''} · {ph}" for m, s, d in runs for ph in phases]
    fig = make_subplots(rows=len(runs), cols=len(phases), shared_yaxes=True, horizontal_spacing=0.06,
                        vertical_spacing=0.5 / max(len(runs), 1), subplot_titles=titles)
    for i, (m, s, d) in enumerate(runs):
        for j, ph in enumerate(phases):
            _stacked_bars(fig, _run_profiles(prof, m, s, d, ph), row=i + 1, col=j + 1)
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="% of time", range=[0, 100], col=1)
    basis = prof.iloc[0]["breakdown"].get("time_basis", "host")
    return theme.style(fig, f"Operator breakdown vs context ({basis} time)", width=theme.TWO_COLUMN_PX * 3 // 4,
                       height=220 * len(runs) + 90)


def breakdown_study(data: Data) -> go.Figure:
    """Our categories beside the reference study's groups, for the same profiled steps: how much
    of the study's SSM_Scan is conv1d and GEMM, and what its CPU+GPU sum adds."""
    prof = _profiles(data)
    if prof.empty or "breakdown_study" not in prof or not prof["breakdown_study"].map(
            lambda b: isinstance(b, dict)).any():
        raise Skip("no profile lines with the study's grouping (profiled before it was recorded)")
    prof = prof[prof["breakdown_study"].map(lambda b: isinstance(b, dict))]
    runs = [(k, ph) for k, g in prof.groupby(["model", "size", "device"], sort=True)
            for ph in ("prefill", "decode") if ph in set(g["profiled_phase"])]
    basis = prof.iloc[0]["breakdown"].get("time_basis", "host")
    titles = [t for (m, s, d), ph in runs for t in (f"{m} {s}{' @ ' + d if data.multi_device else ''} · {ph} · "
                                                    f"charsuite ({basis})", "the study's groups (CPU+GPU summed)")]
    fig = make_subplots(rows=len(runs), cols=2, shared_yaxes=True, horizontal_spacing=0.08,
                        vertical_spacing=0.5 / max(len(runs), 1), subplot_titles=titles)
    for i, ((m, s, d), ph) in enumerate(runs):
        g = _run_profiles(prof, m, s, d, ph)
        _stacked_bars(fig, g, row=i + 1, col=1)
        _stacked_bars(fig, g, row=i + 1, col=2, key="breakdown_study", colors=theme.STUDY_COLORS, prefix="study · ")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="% of time", range=[0, 100], col=1)
    return theme.style(fig, "Operator breakdown: charsuite's categories and the reference study's groups",
                       width=theme.TWO_COLUMN_PX, height=220 * len(runs) + 90)


def _stacked_bars(fig, g: pd.DataFrame, row: int, col: int, key: str = "breakdown",
                  colors: dict[str, str] | None = None, prefix: str = "") -> None:
    """100% stacked bars of category shares, one bar per context."""
    colors = colors or theme.category_colors()
    if not g.empty:
        shares = [_shares(b, colors) for b in g[key]]
        for cat, color in colors.items():
            ys = [100 * s.get(cat, 0.0) for s in shares]
            if not any(ys):
                continue
            name = prefix + cat
            fig.add_trace(go.Bar(x=[human_tokens(c) for c in g["context"]], y=ys, name=name, marker_color=color,
                                 legendgroup=name, showlegend=name not in {t.name for t in fig.data}),
                          row=row, col=col)


def breakdown_devices(data: Data) -> go.Figure:
    prof = _profiles(data)
    if prof.empty or prof["device"].nunique() < 2:
        raise Skip("needs profiles of one length on two or more devices")
    length = prof.groupby("context")["device"].nunique().idxmax()
    at = prof[prof["context"] == length]
    fig = go.Figure()
    labels = [f"{r['model']} {r['size']} @ {r['device']} ({r['profiled_phase']})" for _, r in at.iterrows()]
    shares = [_shares(b) for b in at["breakdown"]]
    for cat, color in theme.category_colors().items():
        ys = [100 * s.get(cat, 0.0) for s in shares]
        if any(ys):
            fig.add_trace(go.Bar(x=labels, y=ys, name=cat, marker_color=color))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="share of time (%)", range=[0, 100])
    return theme.style(fig, f"Operator breakdown across devices at {human_tokens(int(length))} tokens",
                       width=theme.TWO_COLUMN_PX)
