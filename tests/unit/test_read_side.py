"""The read side (summary, figures, export) on synthetic results folders with known
answers: exact power laws give exact exponents and crossovers; and none of it imports
torch or transformers."""

import json
import subprocess
import sys

import pytest

from charsuite import results
from charsuite.export import export
from charsuite.figures.__main__ import build_figures
from charsuite.summary import markdown
from helpers import REPO
from synthetic import ssm_vs_transformer


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    return ssm_vs_transformer(tmp_path_factory.mktemp("synthetic"))


def _row(md: str, start: str) -> list[str]:
    (line,) = [ln for ln in md.splitlines() if ln.startswith(start)]
    return [c.strip() for c in line.strip("|").split("|")]


def test_summary_finds_the_known_exponents_and_crossovers(batch):
    md = markdown([batch])
    ssm, tfm = _row(md, "| mamba2 | x"), _row(md, "| qwen2_5 | x")
    assert (float(ssm[7]), float(ssm[8])) == (1.0, 0.0)    # prefill linear, decode flat
    assert (float(tfm[7]), float(tfm[8])) == (2.0, 1.0)    # prefill quadratic, decode linear
    # how each sweep ended stands beside its largest context (issue 32): the OOM bracket, or context.max
    assert tfm[4] == "16K (OOM at 32K)" and ssm[4] == "16K (reached context.max)"
    prefill = _row(md, "| mamba2 x | qwen2_5 x | cpu | prefill")
    decode = _row(md, "| mamba2 x | qwen2_5 x | cpu | decode")
    assert abs(_k(prefill[4]) - 4000) <= 1 and abs(_k(decode[4]) - 2000) <= 1, (prefill, decode)


def test_summary_interval_holds_the_true_crossing_under_noise(tmp_path):
    md = markdown([ssm_vs_transformer(tmp_path, rel_noise=0.05)])
    lo, hi = (_k(v) for v in _row(md, "| mamba2 x | qwen2_5 x | cpu | prefill")[5].split(" - "))
    assert lo <= 4000 <= hi


def test_noisy_points_are_counted_and_left_out_of_exponents_unless_asked(tmp_path):
    """Prefill latency *falling* at the longest length, flagged noisy (as contention made it on
    a shared machine): the exponent stays the law's 1.0; asked to include it, it does not."""
    batch = ssm_vs_transformer(tmp_path, ssm_noisy={("prefill", 16384): 0.25, ("decode", 16384): 3.0})
    ssm = _row(markdown([batch]), "| mamba2 | x")
    assert (float(ssm[7]), float(ssm[8])) == (1.0, 0.0) and ssm[9] == "2 of 10"
    included = _row(markdown([batch], include_noisy=True), "| mamba2 | x")
    assert float(included[7]) < 0.5 and float(included[8]) > 0.3
    out = subprocess.run([sys.executable, "-m", "charsuite.summary", str(batch), "analysis.include_noisy=maybe"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 2 and "analysis.include_noisy takes true or false" in out.stderr


def _k(text: str) -> float:
    return float(text[:-1]) * 1024 if text.endswith("K") else float(text)


def test_figures_mark_the_crossovers_and_the_oom(batch):
    figures, notes, _ = build_figures([batch])
    assert {"prefill_latency", "speedup_prefill", "speedup_decode", "memory_prefill", "operator_breakdown",
            "operator_breakdown_study", "max_context"} <= set(figures)
    study = figures["operator_breakdown_study"]
    names = {(t.legendgroup, t.name) for t in study.data}
    theirs, ours = "the study's groups", "charsuite's categories"
    assert {(theirs, "GEMM"), (theirs, "other"), (ours, "gemm")} <= names  # side by side
    assert (theirs, "SSM_Scan") not in names
    diamonds = [t for t in figures["speedup_prefill"].data if getattr(t.marker, "symbol", None) == "diamond"]
    assert len(diamonds) == 1 and diamonds[0].x[0] == pytest.approx(4000, rel=0.01)
    ooms = [t for t in figures["prefill_latency"].data if getattr(t.marker, "symbol", None) == "x"]
    assert [list(t.x) for t in ooms] == [[32768]]
    assert any("operator_breakdown_devices" in n for n in notes)


def test_export_holds_every_point(batch, tmp_path):
    csv, parquet = export([batch], tmp_path / "table")
    import pandas as pd

    table = pd.read_parquet(parquet)
    n_points = sum(len(results.read_points(d / results.RESULTS)) for d in results.run_dirs([batch]))
    assert len(table) == len(pd.read_csv(csv)) == n_points
    ok = table[table["status"] == "ok"].iloc[0]
    assert isinstance(ok["mem"], dict) and ok["mem"]["weights"] > 0   # a struct in Parquet
    assert len(ok["latency_samples_s"]) == 5
    csv_mem = pd.read_csv(csv)["mem"].dropna().iloc[0]
    assert json.loads(csv_mem)["weights"] > 0   # JSON text in the CSV


def test_every_format_prints_from_one_field_list(batch, tmp_path, capsys):
    """issue 27: the machine formats carry every field of every line, the person's formats (markdown, the run's
    table, the progress line) the columns of point_view.COLUMNS, whatever format prints them."""
    import io

    from rich.console import Console

    from charsuite.point_view import COLUMNS, RUN_TABLE
    from charsuite.progress import print_table
    from charsuite.records import Point

    jsonl, md = export([batch], tmp_path / "t", ("jsonl", "md"))
    lines = [json.loads(ln) for ln in jsonl.read_text().splitlines()]
    fields = set(Point.__dataclass_fields__)
    assert lines and all(fields <= set(ln) for ln in lines)  # every field, every line
    rows = md.read_text().splitlines()
    assert rows[0] == "| " + " | ".join(c.name for c in COLUMNS) + " |" and len(rows) == len(lines) + 2
    points = [p for _, p in results.load_points([batch])]
    out = io.StringIO()
    print_table(points[:3], [], console=Console(file=out, width=300))
    header = next(ln for ln in out.getvalue().splitlines() if "phase" in ln)
    import re

    at = [re.search(rf"(?<!\S){re.escape(c.name)}(?!\S)", header) for c in RUN_TABLE]
    assert all(at) and [m.start() for m in at] == sorted(m.start() for m in at)  # all, in order
    with pytest.raises(Exception, match="--format: xml"):
        export([batch], tmp_path / "t", ("xml",))


def test_read_side_imports_no_torch(batch, tmp_path):
    code = f"""
import sys
from charsuite.summary import markdown
from charsuite.figures.__main__ import main as figures
from charsuite.export import export
markdown([{str(batch)!r}])
assert figures([{str(batch)!r}, "--out", {str(tmp_path / "figs")!r}, "--formats", ""]) == 0
export([{str(batch)!r}], {str(tmp_path / "t")!r})
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
print(heavy[:5])
sys.exit(1 if heavy else 0)
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
