"""How a result line is shown to a person: one list of columns (a header and the cell of a Point) that every
human-facing format prints from - the table at the end of a run, the progress line as each point finishes,
and export's markdown (llama-bench's printers are the example). The machine formats (CSV, Parquet, JSON lines)
carry every field of the line itself (records.Point), so a column added here is never missing from a file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from charsuite.records import Point
from charsuite.units import confidence, human_bytes, human_seconds, human_tokens


@dataclass(frozen=True)
class Column:
    name: str
    cell: Callable[[Point], str]
    left: bool = False   # text, not a number: aligned left


def _phase(p: Point) -> str:
    return f"profile ({p.profiled_phase})" if p.phase == "profile" and p.profiled_phase else p.phase


def _interval(p: Point) -> str:
    return f"+-{p.median_rel_ci:.1%} ({confidence(p.ci_coverage)})" if p.median_rel_ci is not None else "-"


COLUMNS = (
    Column("model", lambda p: f"{p.model} {p.size}", left=True),
    Column("phase", _phase, left=True),
    Column("context", lambda p: human_tokens(p.context)),
    Column("status", lambda p: p.status.value, left=True),
    Column("latency", lambda p: human_seconds(p.latency_s)),
    Column("interval (conf.)", _interval),
    Column("n", lambda p: str(len(p.latency_samples_s)) if p.latency_samples_s else "-"),
    Column("tokens/s", lambda p: f"{p.tokens_per_s:,.0f}" if p.tokens_per_s is not None else "-"),
    Column("peak mem", lambda p: human_bytes(p.peak_mem_bytes) if p.peak_mem_bytes else "-"),
    Column("noisy", lambda p: "noisy" if p.noisy else "", left=True),
)
BY_NAME = {c.name: c for c in COLUMNS}
RUN_TABLE = tuple(c for c in COLUMNS if c.name != "model")  # one run's table: its model is in the title


def cells(point: Point, columns: Iterable[Column] = COLUMNS) -> list[str]:
    return [c.cell(point) for c in columns]


def in_order(points: Iterable[Point]) -> list[Point]:
    """Prefill before decode before profiles, each by length."""
    return sorted(points, key=lambda r: (r.model, r.size, r.phase != "prefill", r.phase, r.context))


def markdown_table(points: Iterable[Point], columns: Iterable[Column] = COLUMNS) -> str:
    columns = list(columns)
    lines = ["| " + " | ".join(c.name for c in columns) + " |",
             "|" + "|".join(":---" if c.left else "---:" for c in columns) + "|"]
    lines += ["| " + " | ".join(cells(p, columns)) + " |" for p in in_order(points)]
    return "\n".join(lines) + "\n"
