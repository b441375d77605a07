"""What every figure shares: the data they draw from, the reason one cannot be drawn, and the
axis, marker, legend and interval conventions that make them read alike."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from charsuite.analysis.setups import differing, setup
from charsuite.analysis.setups import label as setup_label
from charsuite.analysis.stops import ended
from charsuite.analysis.trust import is_noisy
from charsuite.figures import theme
from charsuite.noise import spread
from charsuite.units import confidence_range, human_tokens


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
            mine = setup_label(setups[row["run_dir"]], keys) if keys else ""
            twins = [r for r in runs if keys and setup_label(setups[r], keys) == mine]
            if not keys or len(twins) > 1:  # the same setup measured twice: the folders tell them apart
                mine = ", ".join(p for p in (mine, _folder_name(row["run_dir"], twins if keys else runs)) if p)
            lab += f" ({mine})"
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


def _folder_name(run_dir: str, among) -> str:
    """The shortest tail of a run's folder path that no other of `among` shares."""
    parts = Path(run_dir).parts
    for k in range(1, len(parts) + 1):
        tail = "/".join(parts[-k:])
        if not any(r != run_dir and "/".join(Path(r).parts[-k:]) == tail for r in among):
            return tail
    return run_dir


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


def line(fig, data: Data, label, family, model, frame, y, row=None, col=None, dash_by=None, **kw):
    group, title = legend_group(data, family, frame)
    trace = go.Scatter(
        x=frame["context"], y=y, mode="lines+markers", name=label,
        legendgroup=group, legendgrouptitle_text=title,
        line=dict(color=theme.model_color(family, model), dash=dash_by or "solid", width=2),
        marker=markers(frame), **kw)
    fig.add_trace(trace, row=row, col=col) if row else fig.add_trace(trace)


class SetupDashes:
    """A model's colour is the model's; its setups (engine, mode, chunk: one run each) differ by dash, and a
    run keeps its dash in every panel of a figure."""

    def __init__(self) -> None:
        self.of_run: dict[str, str] = {}
        self.per_model: dict[str, int] = {}

    def dash(self, model: str, run: str) -> str:
        if run not in self.of_run:
            n = self.per_model.get(model, 0)
            self.of_run[run], self.per_model[model] = theme.DASHES[n % len(theme.DASHES)], n + 1
        return self.of_run[run]

    @property
    def several(self) -> bool:
        """Whether some model has more than one setup (the caption then says what a dash means)."""
        return any(n > 1 for n in self.per_model.values())


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


def context_axis(fig, data: Data, phase: str | None = None):
    p = data.points
    fig.update_xaxes(title_text="context length (tokens)", **log_ticks(p["context"].min(), p["context"].max()))


def mark_boundaries(fig, data: Data, phase: str, y_of):
    """An x at each model's first out-of-memory length; a triangle where its sweep stopped for another
    reason (a timeout, an error or crash) at the length it stopped at; both at the height of its last point."""
    s = data.summaries
    if s.empty:
        return
    for _, r in s[s["phase"] == phase].iterrows():
        oom, failed = r.get("min_context_oom"), r.get("failed_at")
        if oom is not None and not pd.isna(oom):
            at, symbol, what = oom, "x", f"out of memory at {human_tokens(int(oom))}"
        elif failed is not None and not pd.isna(failed):
            at, symbol, what = failed, "triangle-up-open", ended(r.to_dict())
        else:
            continue
        fam, y = r["family"], y_of(r)
        if y is None:
            continue
        fig.add_trace(go.Scatter(
            x=[at], y=[y], mode="markers", name=f"{data.label(r)} stop", showlegend=False,
            legendgroup=fam, marker=dict(symbol=symbol, size=11, color=theme.model_color(fam, r["model"]),
                                         line=dict(width=2)),
            hovertext=f"{data.label(r)}: {what}; "
                      f"max {human_tokens(int(r['max_context_ok'])) if not pd.isna(r['max_context_ok']) else '-'}"))


def decade_ticks(values) -> dict:
    """A log axis ticked at powers of ten a reader says aloud (0.1, 1, 10, 100, 1k, 10k, 1M), never
    plotly's minor '2' and '5' labels that read as fractions between decades."""
    v = [float(x) for x in values if x == x and x > 0]
    if not v:
        return dict(type="log")
    lo, hi = math.floor(math.log10(min(v))), math.ceil(math.log10(max(v)))
    vals = [10.0**k for k in range(lo, max(hi, lo + 1) + 1)]
    return dict(type="log", tickvals=vals, ticktext=[si_number(x) for x in vals])


def si_number(x: float) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:g}{suffix}"
    return f"{x:g}"


def legend_height(fig: go.Figure, entry_px: int = 21, group_px: int = 26) -> int:
    """Pixels a vertical legend needs for the figure's shown entries and their group titles, so the
    figure can grow to hold it instead of clipping its last entries."""
    shown = [t for t in fig.data if t.showlegend is not False]
    groups = {t.legendgroup for t in shown if t.legendgroup}
    return entry_px * len(shown) + group_px * len(groups) + 40


def width_for_legend(fig: go.Figure, base: int, plot_px: int = 440, char_px: float = 6.6) -> int:
    """The figure's width: `base`, or wider where its legend's longest name would squeeze the plot below
    `plot_px` (a folder of many runs has long names that say what sets each run apart)."""
    names = [t.name or "" for t in fig.data if t.showlegend is not False]
    legend_px = 70 + char_px * max((len(n) for n in names), default=0)
    return int(max(base, plot_px + 90 + legend_px))
