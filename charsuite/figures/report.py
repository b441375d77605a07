"""One self-contained report.html, the page a reviewer reads first: the findings (largest
context measured and predicted, crossovers with their intervals, exponents, noisy points)
on top, then every figure at the page's full width, interactive, with plotly.js embedded
once (opens with no network) and its toolbar down the right edge, clear of the titles."""

from __future__ import annotations

import html
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from charsuite import summary
from charsuite.figures.common import Data
from charsuite.units import human_tokens

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>charsuite report</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; font-size: 14px; margin-bottom: 1.5em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.figure {{ margin: 1.5em 0 2.5em; width: 100%; }}
.note {{ color: #777; font-size: 13px; }}
</style>
<script type="text/javascript">{plotlyjs}</script>
</head><body>
<h1>charsuite report</h1>
<p class="note">{sources}</p>
<h2>Findings</h2>
<p class="note">{basis}</p>
{findings}
<h3>Crossovers</h3>
{crossovers}
<h2>Figures</h2>
{figures}
<h2>Boundaries</h2>
{table}
{notes}
</body></html>
"""


def _table(columns: list[str], rows: list[list[str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def summary_table(data: Data) -> str:
    s = data.summaries
    if s.empty:
        return "<p class='note'>no summary.json found</p>"
    cols = ["model", "size", "family", "device", "dtype", "phase", "max_context_ok", "min_context_oom", "probes",
            "stop_reason"]
    rows = []
    for _, r in s.iterrows():
        cells = []
        for c in cols:
            v = r.get(c)
            if c in ("max_context_ok", "min_context_oom"):
                v = "-" if v is None or v != v else human_tokens(int(v))
            cells.append(v)
        rows.append(cells)
    return _table([c.replace("_", " ") for c in cols], rows, "summary")


def findings(data: Data) -> tuple[str, str]:
    """The summary's two tables (charsuite.summary computes them; one home for the claims)."""
    if data.summaries.empty:
        return "<p class='note'>no summary.json found</p>", ""
    models = _table(summary.MODEL_COLUMNS, summary.model_rows(data.points, data.summaries, data.include_noisy),
                    "findings")
    rows = summary.crossover_rows(data.points, data.include_noisy)
    crossovers = (_table(summary.CROSSOVER_COLUMNS, rows, "crossovers") if rows is not None else
                  "<p class='note'>no SSM/hybrid and Transformer measured on the same device</p>")
    return models, crossovers


def write(path: Path, figures: dict[str, go.Figure], data: Data, notes: list[str], sources: list[str]) -> None:
    divs = []
    for name, fig in figures.items():
        page = go.Figure(fig)  # the exported figure keeps its paper width; the page's fills the column
        # the toolbar lies across the top margin, above the legend (a vertical one on the right covered the
        # legend's names); the title starts on the left, so the two never meet
        page.update_layout(width=None, autosize=True, modebar=dict(orientation="h"),
                           margin=dict(t=(fig.layout.margin.t or 50) + 30))
        div = page.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{name}", default_width="100%",
                           config={"displaylogo": False, "responsive": True})
        divs.append(f"<div class='figure' data-figure='{name}'>{div}</div>")
    notes_html = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes)
    models, crossovers = findings(data)
    basis = ("Exponents and crossovers include noisy points (analysis.include_noisy=true)." if data.include_noisy
             else "Exponents and crossovers leave noisy points out (analysis.include_noisy=true puts them back).")
    Path(path).write_text(PAGE.format(plotlyjs=get_plotlyjs(), findings=models, crossovers=crossovers, basis=basis,
                                      table=summary_table(data), notes=notes_html, figures="\n".join(divs),
                                      sources=html.escape("from: " + ", ".join(sources))))
