"""The figures, each a function of the results table (and the run summaries).
A function raises Skip with a reason when the data cannot support it.

Size: one short function per registered figure (nine) and the helpers they share;
splitting them would scatter the shared axis, label and marker conventions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from charsuite.analysis.crossover import bootstrap_crossings, speedup_curve
from charsuite.analysis.memory_model import predicted_max_for_run, runtime_baseline
from charsuite.analysis.setups import differing, like_for_like, setup
from charsuite.analysis.setups import label as setup_label
from charsuite.analysis.stops import max_context_cell
from charsuite.analysis.trust import is_noisy
from charsuite.figures import theme
from charsuite.noise import spread
from charsuite.units import confidence_range, human_bytes, human_tokens

# The memory panels' bands, bottom up: what the tensors hold (activations: the live-tensor
# peak less the caches and logits), then what the allocator holds beyond them.
MEM_PARTS = ("weights", "kv_cache", "ssm_state", "logits", "activations", "allocator_slack")


class Skip(Exception):
    """The data cannot support this figure; the message says why."""


@dataclass
class Data:
    points: pd.DataFrame      # measured points (prefill, decode, profile lines)
    summaries: pd.DataFrame   # summary.json rows
    include_noisy: bool = False  # crossings claimed from noisy points too (analysis.include_noisy)
    group_by: str = "family"     # legend groups: family kind, or the token mixers present (`mixers`)

    @property
    def multi_device(self) -> bool:
        return self.points["device"].nunique() > 1

    def label(self, row) -> str:
        """model size [@ device] [(the settings that set this run apart from another of the same
        model: logits, mode, chunking, mixer path - analysis/setups.py)]."""
        lab = f"{row['model']} {row['size']}"
        if self.multi_device:
            lab += f" @ {row['device']}"
        runs = self.points[(self.points["model"] == row["model"]) & (self.points["size"] == row["size"])
                           & (self.points["device"] == row["device"])]["run_dir"].unique()
        if len(runs) > 1 and "run_dir" in row:
            setups = {r: setup(self.points[self.points["run_dir"] == r]) for r in runs}
            keys = differing(list(setups.values()))
            lab += f" ({setup_label(setups[row['run_dir']], keys)})" if keys else f" ({Path(row['run_dir']).name})"
        return lab

    def ok(self, phase: str) -> pd.DataFrame:
        p = self.points
        if p.empty or "phase" not in p:
            return p
        return p[(p["phase"] == phase) & (p["status"] == "ok")]

    def series(self, phase: str):
        """(label, family, model, frame sorted by context) per model+size+device."""
        ok = self.ok(phase)
        if ok.empty:
            return []
        out = []
        for _, g in ok.groupby("run_dir", sort=False):
            row = g.iloc[0]
            out.append((self.label(row), row["family"], row["model"], row["device"], g.sort_values("context")))
        order = {f: i for i, f in enumerate(theme.FAMILY_ORDER)}
        return sorted(out, key=lambda s: (order.get(s[1], 9), s[0]))


def log_ticks(lo: float, hi: float) -> dict:
    vals = [2 ** k for k in range(int(math.floor(math.log2(max(lo, 1)))), int(math.ceil(math.log2(max(hi, 2)))) + 1)]
    return dict(type="log", tickvals=vals, ticktext=[human_tokens(v) for v in vals])


def markers(frame: pd.DataFrame, size: int = 7) -> dict:
    """Filled markers, hollow (and larger, to be seen) where the point is noisy."""
    noisy = list(is_noisy(frame))
    return dict(size=[size + 3 if n else size for n in noisy], symbol=["circle-open" if n else "circle" for n in noisy],
                line=dict(width=2))


def interval(frame: pd.DataFrame, scale: float = 1.0) -> dict:
    """Error bars: each point's median interval (noise.spread of its samples) around the median."""
    lo, hi = [], []
    for lat, samples in zip(frame["latency_s"], frame["latency_samples_s"]):
        s = spread(samples) if isinstance(samples, list) and samples else None
        lo.append((lat - s.low) * scale if s else 0.0)
        hi.append((s.high - lat) * scale if s else 0.0)
    return dict(type="data", symmetric=False, array=hi, arrayminus=lo, thickness=1.2, width=3)


def legend_group(data: Data, family: str, frame: pd.DataFrame) -> tuple[str, str]:
    """(group, its title) of a series' legend entry: its family kind, or with --group-by mixers
    the token mixers it has ("mamba2 + attention"; lines older than `mixers`: the family)."""
    mixers = frame["mixers"].iloc[0] if data.group_by == "mixers" and "mixers" in frame else None
    if isinstance(mixers, dict) and mixers:
        name = " + ".join(sorted(mixers, key=lambda m: (m == "attention", m)))
        return name, name
    return family, theme.FAMILY_NAMES.get(family, family)


def _line(fig, data: Data, label, family, model, frame, y, row=None, col=None, dash_by=None, **kw):
    group, title = legend_group(data, family, frame)
    trace = go.Scatter(
        x=frame["context"], y=y, mode="lines+markers", name=label,
        legendgroup=group, legendgrouptitle_text=title,
        line=dict(color=theme.model_color(family, model), dash=dash_by or "solid", width=2),
        marker=markers(frame), **kw)
    fig.add_trace(trace, row=row, col=col) if row else fig.add_trace(trace)


def measured_when(session, load) -> str:
    """Which session measured a point and the load meanwhile (a curve resumed across sessions says whose)."""
    parts = [f"session {session}" if isinstance(session, str) else "",
             f"load {load:.1f}" if isinstance(load, (int, float)) and load == load else ""]
    return ", ".join(p for p in parts if p)


def interval_level(data: Data, phase: str) -> str:
    """The bars' true confidence, from the plotted points' ci_coverage (a median's interval is 95% only
    from six samples; three give 75%)."""
    p = data.points
    cov = p[(p["status"] == "ok") & (p["phase"] == phase)]["ci_coverage"] if "ci_coverage" in p else pd.Series([])
    short = bool((cov.dropna() < 0.95).any())
    return f"{confidence_range(cov)} interval" + (" (95% needs six samples)" if short else "")


def hollow_note(data: Data) -> str:
    """The caption's word on noisy points, when there are any."""
    n = int(is_noisy(data.points[data.points["status"] == "ok"]).sum()) if not data.points.empty else 0
    return f"; hollow: noisy ({n})" if n else ""


def _context_axis(fig, data: Data, phase: str | None = None):
    p = data.points
    fig.update_xaxes(title_text="context length (tokens)", **log_ticks(p["context"].min(), p["context"].max()))


def _mark_boundaries(fig, data: Data, phase: str, y_of):
    """An x at each model's first out-of-memory length and its largest length that ran."""
    s = data.summaries
    if s.empty:
        return
    for _, r in s[s["phase"] == phase].iterrows():
        oom = r.get("min_context_oom")
        if oom is not None and not pd.isna(oom):
            fam = r["family"]
            y = y_of(r)
            if y is None:
                continue
            fig.add_trace(go.Scatter(
                x=[oom], y=[y], mode="markers", name=f"{data.label(r)} OOM", showlegend=False,
                legendgroup=fam, marker=dict(symbol="x", size=11, color=theme.model_color(fam, r["model"]),
                                             line=dict(width=2)),
                hovertext=f"{data.label(r)}: out of memory at {human_tokens(int(oom))}; "
                          f"max {human_tokens(int(r['max_context_ok'])) if not pd.isna(r['max_context_ok']) else '-'}"))


def latency(data: Data, phase: str) -> go.Figure:
    series = data.series(phase)
    if not series:
        raise Skip(f"no ok {phase} points")
    fig = go.Figure()
    last_y = {}
    seen: dict[str, int] = {}  # a model's colour is the model's; its setups (engine, mode, chunk) differ by dash
    for label, fam, model, device, f in series:
        y = f["latency_s"] * 1e3
        dash = theme.DASHES[seen.get(model, 0) % len(theme.DASHES)]
        seen[model] = seen.get(model, 0) + 1
        _line(fig, data, label, fam, model, f, y, dash_by=dash, error_y=interval(f, 1e3),
              customdata=[[human_tokens(c), r if isinstance(r, str) else "", measured_when(s, load)]
                          for c, r, s, load in zip(f["context"], f.get("noise_reason", [None] * len(f)),
                                                   f.get("session", [None] * len(f)),
                                                   f.get("load_avg", [None] * len(f)))],
              hovertemplate=f"{label}<br>%{{customdata[0]}} tokens: %{{y:.3g}} ms %{{customdata[1]}}"
                            "<br>%{customdata[2]}<extra></extra>")
        last_y[f.iloc[0]["run_dir"]] = (float(f["context"].max()), float(y.iloc[-1]))

    def y_of(r):
        v = last_y.get(r["run_dir"])
        return v[1] if v else None

    _mark_boundaries(fig, data, phase, y_of)
    _context_axis(fig, data)
    ylab = "time to first token (ms)" if phase == "prefill" else "decode latency per token (ms)"
    fig.update_yaxes(title_text=ylab, type="log")
    title = "Prefill latency vs context" if phase == "prefill" else "Decode latency per token vs context"
    setups = "; a colour per model, a dash per setup" if any(v > 1 for v in seen.values()) else ""
    return theme.style(fig, title, caption=f"Median of the timed repeats, bars: its {interval_level(data, phase)}; "
                                           f"x: out of memory{hollow_note(data)}{setups}.")


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
    _context_axis(fig, data)
    fig.update_yaxes(title_text="speedup over Transformer", **ratio_ticks(min(ratios), max(ratios)))
    fig.update_layout(showlegend=True)  # one pair too: the legend names it
    what = "prefill" if phase == "prefill" else "decode"
    basis = "noisy points included" if data.include_noisy else "crossings from points not flagged noisy"
    return theme.style(fig, f"{what.capitalize()} speedup of SSM/hybrid over Transformer",
                       width=theme.TWO_COLUMN_PX * 3 // 4,
                       caption=f"Above 1x the SSM/hybrid is faster. Diamonds: every crossing of 1x, bars: its 95% "
                               f"bootstrap interval over the timed repeats ({basis}){hollow_note(data)}.")


def _crossings(data: Data, f: pd.DataFrame, t: pd.DataFrame) -> list[dict]:
    """Every crossing of two latency series with its interval, from their trusted points."""
    if not data.include_noisy:
        f, t = f[~is_noisy(f)], t[~is_noisy(t)]
    a = {c: s for c, s in zip(f["context"], f["latency_samples_s"]) if isinstance(s, list) and s}
    b = {c: s for c, s in zip(t["context"], t["latency_samples_s"]) if isinstance(s, list) and s}
    return bootstrap_crossings(a, b, n=300) if len(set(a) & set(b)) >= 2 else []


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
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[s[0].replace(" (", "<br>(") for s in series],
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
        for part in MEM_PARTS:
            y = [b[part] / div for b in bands]
            fig.add_trace(go.Scatter(x=f["context"], y=y, stackgroup=f"s{i}", name=part.replace("_", " "),
                                     legendgroup=part, showlegend=(i == 0), mode="lines",
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
        fig.update_xaxes(**log_ticks(f["context"].min(), max(f["context"].max(), oom or 0)), row=r, col=c)
    fig.update_xaxes(title_text="context (tokens)", row=rows)
    scale = ("One y-axis for every panel" if shared else
             "Each panel its own y-axis (the models' sizes differ more than tenfold)")
    return theme.style(fig, f"Memory at {phase} vs context", width=theme.TWO_COLUMN_PX, height=300 * rows + 80,
                       caption="Stacked, measured. activations: the live-tensor peak (torch's allocator or memory "
                               "profiler) less caches and logits; allocator slack: what the worker held beyond "
                               f"its tensors (caching allocator, heap). {scale}; x: out of memory at the limit.")


def _oom_at(data: Data, run_dir: str, phase: str) -> int | None:
    s = data.summaries
    if s.empty:
        return None
    rows = s[(s["run_dir"] == run_dir) & (s["phase"] == phase)]
    v = rows.iloc[0].get("min_context_oom") if len(rows) else None
    return int(v) if v is not None and not pd.isna(v) else None


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


def throughput_energy(data: Data) -> go.Figure:
    series = [("prefill", s) for s in data.series("prefill")] + [("decode", s) for s in data.series("decode")]
    if not series:
        raise Skip("no ok points")
    has_energy = "energy_per_token_j" in data.points and data.points["energy_per_token_j"].notna().any()
    fig = make_subplots(rows=1, cols=2 if has_energy else 1, horizontal_spacing=0.12,
                        subplot_titles=["throughput"] + (["energy per token"] if has_energy else []))
    for phase, (label, fam, model, device, f) in series:
        dash = "solid" if phase == "prefill" else "dash"
        _line(fig, data, f"{label} ({phase})", fam, model, f, f["tokens_per_s"], row=1, col=1, dash_by=dash)
        if has_energy and f["energy_per_token_j"].notna().any():
            _line(fig, data, f"{label} ({phase}) J/token", fam, model, f, f["energy_per_token_j"] * 1e3, row=1,
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


def max_context(data: Data) -> go.Figure:
    s = data.summaries
    if s.empty:
        raise Skip("no summary.json")
    s = s[s["phase"] == "prefill"].copy()
    if s.empty:
        raise Skip("no prefill summaries")
    # the axis labels wrap, one setting a line, never rotated into the caption; the caption keeps them whole
    s["label"] = [data.label(r) for _, r in s.iterrows()]
    s["axis_label"] = [lab.replace(" (", "<br>(").replace(", ", ",<br>") for lab in s["label"]]
    fig = go.Figure()
    for device, g in s.groupby("device"):
        colors = [theme.model_color(r["family"], r["model"]) for _, r in g.iterrows()]
        text = []
        for _, r in g.iterrows():
            text.append(max_context_cell(r.to_dict()).replace(" (", "<br>(").replace(": ", ":<br>", 1)[:120])
        fig.add_trace(go.Bar(x=g["axis_label"], y=g["max_context_ok"].fillna(0), name=f"measured @ {device}",
                             marker_color=colors, text=text, textposition="outside", cliponaxis=False,
                             constraintext="none", outsidetextfont=dict(size=10)))
    top = float(s["max_context_ok"].max() or 1)
    low = float(s["max_context_ok"].dropna().min() or 1) if s["max_context_ok"].notna().any() else 1.0
    predicted, assumptions = [], []
    for _, r in s.iterrows():
        mine = data.points[data.points["run_dir"] == r["run_dir"]]
        runtime = runtime_baseline(mine["mem"]) if "mem" in mine else 0
        how = setup(mine)  # the closed form models a one-shot transformers prefill only (no llama.cpp, no chunks)
        modelled = how["chunk"] == "one-shot" and how["engine"] == "transformers"
        predicted.append(predicted_max_for_run(r, r.get("memory_limit_bytes"), runtime) if modelled else None)
        w = ((r.get("config") or {}).get("workload") or {}) if isinstance(r.get("config"), dict) else {}
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
    return theme.style(fig, "Largest context per model", width=theme.TWO_COLUMN_PX * 3 // 4, caption=caption,
                       below_axis_px=22 * (label_lines - 1))
