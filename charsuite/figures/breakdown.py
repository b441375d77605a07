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


def _runs(data: Data, prof: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(run's label, profiled phase, its profile lines by context) per run and phase: two setups of one
    model are two runs, never one merged panel."""
    out = []
    for _, g in prof.groupby("run_dir", sort=False):
        label = data.label(g.iloc[0])
        for ph in ("prefill", "decode"):
            mine = g[g["profiled_phase"] == ph].sort_values("context")
            if not mine.empty:
                out.append((label, ph, mine))
    return sorted(out, key=lambda r: (r[0], r[1] != "prefill"))


def _shares(b: dict, colors: dict[str, str] | None = None) -> dict[str, float]:
    colors = colors or theme.category_colors()
    cats = {k: v for k, v in b.items() if k in colors and isinstance(v, (int, float))}
    total = sum(cats.values()) or 1.0
    return {k: v / total for k, v in cats.items()}


def breakdown(data: Data) -> go.Figure:
    prof = _profiles(data)
    if prof.empty:
        raise Skip("no profile lines (run with profile.enabled=true profile.contexts=[...])")
    runs = _runs(data, prof)
    cols = 2 if len(runs) > 1 else 1
    nrows = -(-len(runs) // cols)
    fig = make_subplots(rows=nrows, cols=cols, shared_yaxes=True, horizontal_spacing=0.06,
                        vertical_spacing=0.5 / max(nrows, 1), subplot_titles=[f"{lab} · {ph}" for lab, ph, _ in runs])
    for i, (_, _, g) in enumerate(runs):
        _stacked_bars(fig, g, row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="% of time", range=[0, 100], col=1)
    basis = prof.iloc[0]["breakdown"].get("time_basis", "host")
    return theme.style(fig, f"Operator breakdown vs context ({basis} time)", width=theme.TWO_COLUMN_PX,
                       height=max(theme.HEIGHT_PX, 220 * nrows + 90))


def breakdown_study(data: Data) -> go.Figure:
    """Our categories beside the reference study's groups, for the same profiled steps: how much
    of the study's SSM_Scan is conv1d and GEMM, and what its CPU+GPU sum adds. Each panel names its run
    and phase; the study's bars are hatched and its legend entries grouped apart."""
    prof = _profiles(data)
    if prof.empty or "breakdown_study" not in prof or not prof["breakdown_study"].map(
            lambda b: isinstance(b, dict)).any():
        raise Skip("no profile lines with the study's grouping (profiled before it was recorded)")
    prof = prof[prof["breakdown_study"].map(lambda b: isinstance(b, dict))]
    runs = _runs(data, prof)
    basis = prof.iloc[0]["breakdown"].get("time_basis", "host")
    titles = [t for lab, ph, _ in runs for t in (f"{lab} · {ph}<br>charsuite's categories ({basis} time)",
                                                f"{lab} · {ph}<br>the study's groups (CPU+GPU summed)")]
    fig = make_subplots(rows=len(runs), cols=2, shared_yaxes=True, horizontal_spacing=0.08,
                        vertical_spacing=0.6 / max(len(runs), 1), subplot_titles=titles)
    fig.update_annotations(font_size=12)
    for i, (_, _, g) in enumerate(runs):
        _stacked_bars(fig, g, row=i + 1, col=1, group="charsuite's categories")
        _stacked_bars(fig, g, row=i + 1, col=2, key="breakdown_study", colors=theme.study_colors(),
                      group="the study's groups", hatch=True)
    fig.update_layout(barmode="stack", legend=dict(groupclick="toggleitem"))
    fig.update_yaxes(title_text="% of time", range=[0, 100], col=1)
    theme.style(fig, "Operator breakdown: charsuite's categories and the reference study's groups",
                width=theme.TWO_COLUMN_PX, height=max(theme.HEIGHT_PX, 250 * len(runs) + 90),
                caption="A group of the study has the color of our category of the same meaning (hatched); "
                        "the study's SSM_Scan holds the fused mixer's conv1d and GEMM too.")
    return fig.update_layout(margin_t=95)  # two-line panel titles clear the figure's title


def _stacked_bars(fig, g: pd.DataFrame, row: int, col: int, key: str = "breakdown",
                  colors: dict[str, str] | None = None, group: str = "", hatch: bool = False) -> None:
    """100% stacked bars of category shares, one bar per context; one legend entry per (group, name)."""
    colors = colors or theme.category_colors()
    if not g.empty:
        shares = [_shares(b, colors) for b in g[key]]
        for cat, color in colors.items():
            ys = [100 * s.get(cat, 0.0) for s in shares]
            if not any(ys):
                continue
            lg = group or cat
            fig.add_trace(go.Bar(x=[human_tokens(c) for c in g["context"]], y=ys, name=cat, marker_color=color,
                                 marker_pattern_shape="/" if hatch else "", legendgroup=lg,
                                 legendgrouptitle_text=group or None,
                                 showlegend=(lg, cat) not in {(t.legendgroup, t.name) for t in fig.data}),
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
