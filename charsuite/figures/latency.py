"""Latency figures: time to first token and per-token decode against context, and the SSM/hybrid
speedup over a Transformer with its crossings."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from charsuite.analysis.crossover import bootstrap_crossings, speedup_curve
from charsuite.analysis.setups import like_for_like
from charsuite.analysis.trust import is_noisy
from charsuite.figures import theme
from charsuite.figures.common import (
    Data,
    SetupDashes,
    Skip,
    context_axis,
    decade_ticks,
    hollow_note,
    interval,
    interval_level,
    line,
    mark_boundaries,
    measured_when,
    width_for_legend,
)
from charsuite.units import human_tokens


def latency(data: Data, phase: str) -> go.Figure:
    series = data.series(phase)
    if not series:
        raise Skip(f"no ok {phase} points")
    fig = go.Figure()
    last_y, all_y = {}, []
    dashes = SetupDashes()
    for label, fam, model, device, f in series:
        y = f["latency_s"] * 1e3
        dash = dashes.dash(model, f.iloc[0]["run_dir"])
        line(fig, data, label, fam, model, f, y, dash_by=dash, error_y=interval(f, 1e3),
              customdata=[[human_tokens(c), r if isinstance(r, str) else "", measured_when(s, load)]
                          for c, r, s, load in zip(f["context"], f.get("noise_reason", [None] * len(f)),
                                                   f.get("session", [None] * len(f)),
                                                   f.get("load_avg", [None] * len(f)))],
              hovertemplate=f"{label}<br>%{{customdata[0]}} tokens: %{{y:.3g}} ms %{{customdata[1]}}"
                            "<br>%{customdata[2]}<extra></extra>")
        last_y[f.iloc[0]["run_dir"]] = (float(f["context"].max()), float(y.iloc[-1]))
        all_y.extend(y.tolist())
        all_y.extend(predicted_line(fig, label, fam, model, f))

    def y_of(r):
        v = last_y.get(r["run_dir"])
        return v[1] if v else None

    mark_boundaries(fig, data, phase, y_of)
    context_axis(fig, data)
    ylab = "time to first token (ms)" if phase == "prefill" else "decode latency per token (ms)"
    fig.update_yaxes(title_text=ylab, **decade_ticks(all_y))
    title = "Prefill latency vs context" if phase == "prefill" else "Decode latency per token vs context"
    setups = "; a colour per model, a dash per setup" if dashes.several else ""
    stopped = ("; triangle: stopped by a timeout, error or crash there"
               if any(getattr(t.marker, "symbol", None) == "triangle-up-open" for t in fig.data) else "")
    bases = sorted({t.meta for t in fig.data if isinstance(t.meta, str) and t.meta})
    simulated = (f"; dotted: the latency model's prediction (simulated: the dry-run's ops at the {', '.join(bases)} "
                 "peaks)" if bases else "")
    caption = (f"Median of the timed repeats, bars: its {interval_level(data, phase)}; "
               f"x: out of memory{stopped}{hollow_note(data)}{setups}{simulated}.")
    return theme.style(fig, title, width=width_for_legend(fig, theme.ONE_COLUMN_PX), caption=caption)


def predicted_line(fig: go.Figure, label: str, fam: str, model: str, f: pd.DataFrame) -> list[float]:
    """The latency model's prediction of the same points (workload.predict_latency), dotted in the measured line's
    colour; its values in ms (for the axis), none where the run predicted nothing."""
    if "latency_predicted_s" not in f or not f["latency_predicted_s"].notna().any():
        return []
    g = f[f["latency_predicted_s"].notna()]
    y = (g["latency_predicted_s"] * 1e3).tolist()
    basis = g["latency_predicted_basis"].dropna().iloc[0] if "latency_predicted_basis" in g and \
        g["latency_predicted_basis"].notna().any() else "unrecorded"
    fig.add_trace(go.Scatter(x=g["context"], y=y, mode="lines", name=f"{label}: predicted", legendgroup=fam,
                             line=dict(color=theme.model_color(fam, model), dash="dot", width=1.5), meta=basis,
                             hovertemplate=f"{label} predicted (simulated)<br>%{{x}} tokens: %{{y:.3g}} ms"
                                           "<extra></extra>"))
    return y


FINE_RATIOS = (0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)


def ratio_ticks(lo: float, hi: float, most: int = 9) -> dict:
    """Log-axis ticks at powers of two labelled as ratios a reader can say: 1/64x, 1/8x, 1x, 8x; within
    a factor of four, finer ones (0.6x, 0.8x, 1x) and a range that holds 1x and the data (a single pair
    once showed one lone '1x' tick)."""
    if max(hi, 1.0) / min(lo, 1.0) <= 4:
        low, high = min(lo, 1.0) / 1.1, max(hi, 1.0) * 1.1
        vals = [v for v in FINE_RATIOS if low <= v <= high]
        return dict(type="log", tickvals=vals, ticktext=[f"{v:g}x" for v in vals],
                    range=[math.log10(low), math.log10(high)])
    a, b = math.floor(math.log2(min(lo, 0.5))), math.ceil(math.log2(max(hi, 2.0)))
    step = max(1, math.ceil((b - a) / (most - 1)))
    ks = [k for k in range(a - a % step, b + step, step)]
    vals = [2.0**k for k in ks]
    text = [f"{v:g}x" if v >= 1 else f"1/{1 / v:g}x" for v in vals]
    return dict(type="log", tickvals=vals, ticktext=text)


def speedup(data: Data, phase: str = "prefill") -> go.Figure:
    series = data.series(phase)
    fast = [s for s in series if s[1] in ("ssm", "hybrid")]
    slow = [s for s in series if s[1] == "transformer"]
    if not fast or not slow:
        raise Skip("needs an SSM or hybrid and a Transformer on the same device")
    fig = go.Figure()
    dashes = iter(theme.DASHES * 10)
    pairs = 0
    ratios: list[float] = []
    for t_label, _, t_model, t_dev, t in slow:
        dash = next(dashes)
        for label, fam, model, dev, f in fast:
            if dev != t_dev or not like_for_like(f, t):
                continue  # compare like with like: same device, logits, mode and chunking
            curve = speedup_curve(dict(zip(f["context"], f["latency_s"])), dict(zip(t["context"], t["latency_s"])))
            if not curve:
                continue
            pairs += 1
            xs, ys = zip(*curve)
            ratios.extend(ys)
            name = f"{label} vs {t_label}"
            noisy = set(f["context"][is_noisy(f)]) | set(t["context"][is_noisy(t)])
            color = theme.model_color(fam, model)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, legendgroup=fam,
                                     legendgrouptitle_text=theme.FAMILY_NAMES[fam],
                                     line=dict(color=color, dash=dash, width=2),
                                     marker=dict(size=7, line=dict(width=1.5), symbol=[
                                         "circle-open" if x in noisy else "circle" for x in xs])))
            for cross in _crossings(data, f, t):
                x, ci = cross["estimate"], cross["ci95"]
                where = f"{human_tokens(int(round(x)))} tokens" + (
                    f" (95%: {human_tokens(int(ci[0]))}-{human_tokens(int(ci[1]))})" if ci else "")
                fig.add_trace(go.Scatter(
                    x=[x], y=[1.0], mode="markers", showlegend=False, legendgroup=fam,
                    error_x=dict(type="data", symmetric=False, array=[ci[1] - x], arrayminus=[x - ci[0]],
                                 color=color, thickness=1.5, width=5) if ci else None,
                    marker=dict(symbol="diamond", size=11, color=color, line=dict(color="black", width=1)),
                    hovertext=f"{name}: crossover at {where}"))
    if not pairs:
        raise Skip("no SSM/hybrid and Transformer share a device and a context range")
    fig.add_hline(y=1.0, line=dict(color="#555", dash="dot", width=1))
    context_axis(fig, data)
    fig.update_yaxes(title_text="speedup over Transformer", **ratio_ticks(min(ratios), max(ratios)))
    fig.update_layout(showlegend=True)  # one pair too: the legend names it
    what = "prefill" if phase == "prefill" else "decode"
    basis = "noisy points included" if data.include_noisy else "crossings from points not flagged noisy"
    return theme.style(fig, f"{what.capitalize()} speedup of SSM/hybrid over Transformer",
                       width=width_for_legend(fig, theme.TWO_COLUMN_PX * 3 // 4),
                       caption=f"Above 1x the SSM/hybrid is faster. Diamonds: every crossing of 1x, bars: its 95% "
                               f"bootstrap interval over the timed repeats ({basis}){hollow_note(data)}.")


def _crossings(data: Data, f: pd.DataFrame, t: pd.DataFrame) -> list[dict]:
    """Every crossing of two latency series with its interval, from their trusted points."""
    if not data.include_noisy:
        f, t = f[~is_noisy(f)], t[~is_noisy(t)]
    a = {c: s for c, s in zip(f["context"], f["latency_samples_s"]) if isinstance(s, list) and s}
    b = {c: s for c, s in zip(t["context"], t["latency_samples_s"]) if isinstance(s, list) and s}
    return bootstrap_crossings(a, b, n=300) if len(set(a) & set(b)) >= 2 else []
