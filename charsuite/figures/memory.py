"""Memory figures: what a point's memory held, band by band, and the largest context each run reached
beside what the closed-form memory model predicts."""

from __future__ import annotations

import math
import textwrap

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from charsuite.analysis.memory_model import predicted_max_for_run, runtime_baseline
from charsuite.analysis.setups import modelled
from charsuite.analysis.stops import max_context_cell
from charsuite.figures import theme
from charsuite.figures.common import Data, Skip, log_ticks
from charsuite.units import human_bytes, human_tokens

# The memory panels' bands, bottom up: what the tensors hold (activations: the live-tensor
# peak less the caches and logits), then what the allocator holds beyond them.
MEM_PARTS = ("weights", "kv_cache", "ssm_state", "logits", "activations", "allocator_slack")


def memory_bands(m: dict) -> dict[str, int]:
    """A point's `mem` as the panels stack it: `activations` is the measured live-tensor peak
    less the caches and logits where the point has one (prefill), and what the worker held
    beyond the tensors (allocator and heap slack) is its own band; else the resident residual."""
    bands = {k: int(m.get(k) or 0) for k in ("weights", "kv_cache", "ssm_state", "logits", "activations")}
    bands["allocator_slack"] = 0
    if m.get("tensor_peak") is not None:
        tensors = max(0, int(m["tensor_peak"]) - bands["kv_cache"] - bands["ssm_state"] - bands["logits"])
        bands["allocator_slack"] = max(0, bands["activations"] - tensors)
        bands["activations"] = tensors
    return bands


def memory(data: Data, phase: str = "prefill") -> go.Figure:
    ok = data.ok(phase)
    if ok.empty or "mem" not in ok:
        raise Skip(f"no {phase} memory data")
    series = data.series(phase)
    n = len(series)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    tops = [max([sum(memory_bands(m).values()) for m in f["mem"] if isinstance(m, dict)] or [1]) or 1
            for *_, f in series]
    shared = max(tops) / min(tops) <= 10  # one scale unless it would flatten a small model's panel
    titles = ["<br>".join(textwrap.wrap(s[0].replace(" (", "\n("), 34, break_on_hyphens=True)).replace("\n", "<br>")
              for s in series]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles,
                        shared_yaxes="all" if shared else False, horizontal_spacing=0.06 if shared else 0.09,
                        vertical_spacing=0.22)
    limits = {}
    if not data.summaries.empty and "memory_limit_bytes" in data.summaries:
        for _, r in data.summaries.iterrows():
            limits[r["run_dir"]] = r["memory_limit_bytes"]
    for i, (label, fam, model, device, f) in enumerate(series):
        r, c = i // cols + 1, i % cols + 1
        top = max(tops) if shared else tops[i]
        unit, div = ("GiB", 2**30) if top >= 2**30 else ("MiB", 2**20)
        if not shared or c == 1:
            fig.update_yaxes(title_text=unit, row=r, col=c)
        bands = [memory_bands(m if isinstance(m, dict) else {}) for m in f["mem"]]
        one = len(f) == 1  # a stacked area of one length draws nothing: a stacked bar instead
        for part in MEM_PARTS:
            y = [b[part] / div for b in bands]
            shown = not any(t.name == part.replace("_", " ") for t in fig.data)
            if one:
                fig.add_trace(go.Bar(x=[human_tokens(int(f["context"].iloc[0]))], y=y, name=part.replace("_", " "),
                                     legendgroup=part, showlegend=shown, marker_color=theme.MEM_COLORS[part],
                                     width=0.4), row=r, col=c)
                continue
            fig.add_trace(go.Scatter(x=f["context"], y=y, stackgroup=f"s{i}", name=part.replace("_", " "),
                                     legendgroup=part, showlegend=shown, mode="lines",
                                     line=dict(color=theme.MEM_COLORS[part], width=0.5)), row=r, col=c)
        limit = limits.get(f.iloc[0]["run_dir"])
        oom = _oom_at(data, f.iloc[0]["run_dir"], phase)
        if limit and not pd.isna(limit) and limit <= 2 * top:
            right = max(f["context"].max(), oom or 0)
            fig.add_trace(go.Scatter(x=[f["context"].min(), right], y=[limit / div] * 2,
                                     mode="lines", name="memory limit", legendgroup="limit", showlegend=(i == 0),
                                     line=dict(color="black", dash="dash", width=1.5)), row=r, col=c)
            if oom:
                fig.add_trace(go.Scatter(x=[oom], y=[limit / div], mode="markers", name="out of memory",
                                         legendgroup="oom", showlegend=not any(t.name == "out of memory"
                                                                               for t in fig.data),
                                         marker=dict(symbol="x", size=11, color="black", line=dict(width=2)),
                                         hovertext=f"{label}: out of memory at {human_tokens(oom)}"), row=r, col=c)
        elif limit and not pd.isna(limit):
            fig.add_annotation(text=f"limit {human_bytes(limit)}: off scale", xref="x domain", yref="y domain",
                               x=0.02, y=0.98, showarrow=False, font=dict(size=10, color="#555"), row=r, col=c)
        if not one:
            fig.update_xaxes(**log_ticks(f["context"].min(), max(f["context"].max(), oom or 0)), row=r, col=c)
    fig.update_xaxes(title_text="context (tokens)", row=rows)
    scale = ("One y-axis for every panel" if shared else
             "Each panel its own y-axis (the models' sizes differ more than tenfold)")
    fig.update_layout(barmode="stack")
    fig.update_annotations(font_size=12)
    theme.style(fig, f"Memory at {phase} vs context", width=theme.TWO_COLUMN_PX, height=300 * rows + 80,
                caption="Stacked, measured. activations: the live-tensor peak (torch's allocator or memory "
                        "profiler) less caches and logits; allocator slack: what the worker held beyond "
                        f"its tensors (caching allocator, heap). {scale}; x: out of memory at the limit; a run "
                        "of one length: a stacked bar.")
    return fig.update_layout(margin_t=110)  # panel titles of several lines clear the figure's title


def _oom_at(data: Data, run_dir: str, phase: str) -> int | None:
    s = data.summaries
    if s.empty:
        return None
    rows = s[(s["run_dir"] == run_dir) & (s["phase"] == phase)]
    v = rows.iloc[0].get("min_context_oom") if len(rows) else None
    return int(v) if v is not None and not pd.isna(v) else None


def _wrapped(label: str, width: int = 18) -> str:
    """An axis label a setting a line, and no line wider than its bar pair (a folder name breaks at its dashes)."""
    parts = label.replace(" (", "\n(").replace(", ", ",\n").split("\n")
    return "<br>".join(line for part in parts for line in textwrap.wrap(part, width, break_on_hyphens=True))


def max_context_bars(data: Data) -> go.Figure:
    s = data.summaries
    if s.empty:
        raise Skip("no summary.json")
    s = s[s["phase"] == "prefill"].copy()
    if s.empty:
        raise Skip("no prefill summaries")
    # the axis labels wrap, one setting a line, never rotated into the caption; the caption keeps them whole
    s["label"] = [data.label(r) for _, r in s.iterrows()]
    s["axis_label"] = [_wrapped(lab) for lab in s["label"]]
    fig = go.Figure()
    for device, g in s.groupby("device"):
        colors = [theme.model_color(r["family"], r["model"]) for _, r in g.iterrows()]
        text = []
        for _, r in g.iterrows():
            text.append("<br>".join(textwrap.wrap(max_context_cell(r.to_dict())[:120], 14)))
        fig.add_trace(go.Bar(x=g["axis_label"], y=g["max_context_ok"].fillna(0), name=f"measured @ {device}",
                             marker_color=colors, text=text, textposition="outside", cliponaxis=False,
                             constraintext="none", outsidetextfont=dict(size=10)))
    top = float(s["max_context_ok"].max() or 1)
    low = float(s["max_context_ok"].dropna().min() or 1) if s["max_context_ok"].notna().any() else 1.0
    predicted, assumptions = [], []
    for _, r in s.iterrows():
        mine = data.points[data.points["run_dir"] == r["run_dir"]]
        runtime = runtime_baseline(mine["mem"]) if "mem" in mine else 0
        predicted.append(predicted_max_for_run(r["run"], r.get("memory_limit_bytes"), runtime) if modelled(mine)
                         else None)
        w = r["run"].section("workload")
        limit = r.get("memory_limit_bytes")
        if predicted[-1] and limit and not pd.isna(limit):
            assumptions.append(f"{r['label']}: cap {human_bytes(int(limit))} less a measured runtime of "
                               f"{human_bytes(runtime)}, batch {w.get('batch', 1)}, logits={w.get('logits', 'last')}")
    if any(predicted):
        fig.add_trace(go.Bar(x=s["axis_label"], y=[p or 0 for p in predicted],
                             name="predicted: closed-form memory model",
                             marker=dict(color="rgba(0,0,0,0)", line=dict(color="#444", width=1.5),
                                         pattern=dict(shape="/", fgcolor="#888")),
                             text=[human_tokens(p) if p else "" for p in predicted], textposition="outside",
                             cliponaxis=False))
        top = max(top, max(p or 0 for p in predicted))
    if top / max(low, 1) > 30:  # measured hundreds beside predicted millions: a log axis shows both
        ticks = log_ticks(max(1, low / 2), top * 2)
        if len(ticks["tickvals"]) > 10:  # every other power of two: legible
            ticks["tickvals"], ticks["ticktext"] = ticks["tickvals"][::2], ticks["ticktext"][::2]
        fig.update_yaxes(title_text="largest context (tokens, log)", **ticks)
        fig.update_yaxes(range=[math.log10(max(1, low / 2)), math.log10(top * 4)])
    else:
        step = 2 ** math.ceil(math.log2(max(top, 8) / 5))  # about five ticks, at round token counts
        ticks = list(range(0, int(top * 1.15) + 1, step))
        fig.update_yaxes(title_text="largest context (tokens)", type="linear", range=[0, top * 1.15], tickvals=ticks,
                         ticktext=[human_tokens(v) if v else "0" for v in ticks])
    fig.update_xaxes(tickangle=0)
    fig.update_layout(showlegend=True, barmode="group", legend=dict(orientation="h", y=1.02, x=1, xanchor="right",
                                                                   yanchor="bottom"))
    caption = ("Measured: the largest prefill that ran, and above each bar how its sweep ended (OOM at "
               "the first length that did not fit, bisected to context.tolerance; a timeout, error or crash at a "
               "length; or context.max reached). Predicted (none for chunked or llama.cpp runs: the closed form "
               "models a one-shot transformers prefill): weights + KV cache / SSM state + activations + "
               "logits (analysis/memory_model.py) against " + ("; ".join(assumptions) if assumptions else "the cap")
               + ".")
    label_lines = max(lab.count("<br>") + 1 for lab in s["axis_label"])
    width = max(theme.TWO_COLUMN_PX * 3 // 4, 130 * len(s) + 160)  # a bar pair per run, labels side by side
    return theme.style(fig, "Largest context per model", width=width, caption=caption,
                       below_axis_px=22 * (label_lines - 1))
