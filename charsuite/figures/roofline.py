"""Where each measured point sits on its device's roofline (issue 30): achieved FLOP/s against arithmetic
intensity (FLOPs per byte moved), the roof drawn from the peaks the point's mfu and mbu divide by - the
machine's calibration where its run recorded one, else the profile's data sheet (analysis/roofline.py)."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from charsuite.analysis.roofline import peaks, point_shares
from charsuite.figures import theme
from charsuite.figures.common import Data, Skip, legend_group, width_for_legend
from charsuite.run_records import RunRecord

SYMBOLS = {"prefill": "circle", "decode": "diamond"}


def _run_record(data: Data, run_dir: str) -> RunRecord | None:
    s = data.summaries[data.summaries["run_dir"] == run_dir] if "run_dir" in data.summaries else None
    return s.iloc[0]["run"] if s is not None and len(s) else None


def roofline(data: Data) -> go.Figure:
    """One marker per measured point (a circle per prefill, a diamond per decode; a colour per model), and a
    roof per device and peak basis: min(peak FLOP/s, intensity x peak bandwidth)."""
    fig = go.Figure()
    roofs: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    xs: list[float] = []
    for phase in ("prefill", "decode"):
        for label, fam, model, device, f in data.series(phase):
            info = _run_record(data, f.iloc[0]["run_dir"])
            if info is None:
                continue
            got = [point_shares(info, r.to_dict()) for _, r in f.iterrows()]
            pts = [(g["arithmetic_intensity"], g["achieved_tflops"]) for g in got
                   if g and g["arithmetic_intensity"] and g["achieved_tflops"]]
            if not pts:
                continue
            tflops, gbs, basis = peaks(info, (info.model_facts or {}).get("dtype", ""))
            roofs[(device, basis)] = (tflops, gbs)
            xs += [p[0] for p in pts]
            group, title = legend_group(data, fam, f)
            fig.add_trace(go.Scatter(
                x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers", name=f"{label}: {phase}",
                legendgroup=group, legendgrouptitle_text=title, showlegend=True,
                marker=dict(color=theme.model_color(fam, model), symbol=SYMBOLS[phase], size=8)))
    if not xs:
        raise Skip("no ok prefill or decode points with model facts to place")
    lo, hi = min(xs) / 4, max(xs) * 4
    grid = [lo * (hi / lo) ** (i / 60) for i in range(61)]
    unroofed = []
    for (device, basis), (tflops, gbs) in sorted(roofs.items()):
        if not tflops and not gbs:
            unroofed.append(device)
            continue
        y = [min(tflops or math.inf, x * gbs / 1e3 if gbs else math.inf) for x in grid]
        fig.add_trace(go.Scatter(x=grid, y=y, mode="lines", name=f"roof: {device} ({basis})",
                                 line=dict(color="#636363", dash="dot", width=1.5)))
    fig.update_xaxes(type="log", title_text="arithmetic intensity (FLOP / byte)")
    fig.update_yaxes(type="log", title_text="achieved TFLOP/s")
    caption = ("FLOPs and bytes per point from the model's layout and the memory it measured (analysis/roofline.py); "
               "the roof from the calibrated peaks where the run recorded a calibration, else the data sheet.")
    if unroofed:
        caption += f" No peaks for {', '.join(sorted(set(unroofed)))}: `charsuite calibrate` measures them."
    return theme.style(fig, "Roofline: each measured point against its device's peaks",
                       width=width_for_legend(fig, theme.TWO_COLUMN_PX, plot_px=700), caption=caption)
