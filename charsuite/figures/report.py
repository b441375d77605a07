"""One self-contained report.html: the summary table and every figure, interactive,
with plotly.js embedded once (opens with no network)."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from charsuite.units import human_tokens

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>charsuite report</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; font-size: 14px; margin-bottom: 2em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.figure {{ margin: 1.5em 0 2.5em; }}
.note {{ color: #777; font-size: 13px; }}
</style>
<script type="text/javascript">{plotlyjs}</script>
</head><body>
<h1>charsuite report</h1>
<p class="note">{sources}</p>
<h2>Summary</h2>
{table}
{notes}
<h2>Figures</h2>
{figures}
</body></html>
"""


def summary_table(summaries: pd.DataFrame) -> str:
    if summaries.empty:
        return "<p class='note'>no summary.json found</p>"
    cols = ["model", "size", "family", "device", "dtype", "phase", "max_context_ok", "min_context_oom", "probes",
            "stop_reason"]
    head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in cols)
    rows = []
    for _, r in summaries.iterrows():
        cells = []
        for c in cols:
            v = r.get(c)
            if c in ("max_context_ok", "min_context_oom"):
                v = "-" if v is None or pd.isna(v) else human_tokens(int(v))
            cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table id='summary'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def write(path: Path, figures: dict[str, go.Figure], summaries: pd.DataFrame, notes: list[str],
          sources: list[str]) -> None:
    divs = []
    for name, fig in figures.items():
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{name}",
                          config={"displaylogo": False, "responsive": True})
        divs.append(f"<div class='figure' data-figure='{name}'>{div}</div>")
    notes_html = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes)
    Path(path).write_text(PAGE.format(plotlyjs=get_plotlyjs(), table=summary_table(summaries), notes=notes_html,
                                      figures="\n".join(divs), sources=html.escape("from: " + ", ".join(sources))))
