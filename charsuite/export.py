"""Export the results of run and batch folders as one table.

    python -m charsuite.export RUN_OR_BATCH_DIR... --out TABLE [--format csv,parquet,jsonl,md]
                                                 (default: TABLE.csv and TABLE.parquet)

CSV, Parquet and JSON lines carry every field of every line (records.Point); nested fields are JSON text in the
CSV, typed (structs, lists) in Parquet where they can be. Markdown is the table a person reads, the same columns
a run prints at its end (point_view.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from charsuite import __version__, results
from charsuite.errors import UsageError, run_command

FORMATS = ("csv", "parquet", "jsonl", "md")


def export(paths: list[Path], out: Path, formats: tuple[str, ...] = ("csv", "parquet")) -> list[Path]:
    results.check_folders(paths)
    out = Path(out)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UsageError(f"--format: {', '.join(unknown) or 'none given'}; choose from {', '.join(FORMATS)}")
    results.check_writable(out.parent)
    table = results.load_table(paths)
    if table.empty:
        raise UsageError(f"no results under {', '.join(map(str, paths))}")
    nested = [c for c in table.columns if table[c].map(lambda v: isinstance(v, (dict, list))).any()]
    written = [out.with_suffix(f".{f}") for f in formats]
    for fmt, path in zip(formats, written):
        if fmt == "csv":
            as_text = table.copy()
            for col in nested:  # CSV: nested values (mem, mem_predicted, samples, breakdowns) as JSON text
                as_text[col] = table[col].map(_json)
            as_text.to_csv(path, index=False)
        elif fmt == "parquet":
            parquet_table(table, nested).to_parquet(path, index=False)
        elif fmt == "jsonl":
            table.to_json(path, orient="records", lines=True)
        else:
            from charsuite.point_view import markdown_table

            path.write_text(markdown_table(p for _, p in results.load_points(paths)))
    return written


def _json(v):
    return json.dumps(v) if isinstance(v, (dict, list)) else None


def parquet_table(table, nested: list[str]):
    """Parquet keeps what it can type: a column of flat dicts (mem, mem_predicted) becomes a
    struct, of number lists (samples) a list; one it cannot type (mixed breakdowns) stays JSON."""
    import pyarrow as pa

    out = table.copy()
    for col in nested:
        values = [v if isinstance(v, (dict, list)) else None for v in table[col]]
        try:
            pa.array(values)
            out[col] = values
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            out[col] = table[col].map(_json)
    return out


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m charsuite.export", description="Export charsuite results as CSV "
                                 "and Parquet")
    ap.add_argument("--version", action="version", version=f"charsuite.export (charsuite) {__version__}")
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="the table's path; each format adds its suffix")
    ap.add_argument("--format", default="csv,parquet", help=f"comma-separated: {', '.join(FORMATS)}")
    args = ap.parse_args(argv)
    for p in export(args.dirs, args.out, tuple(f.strip() for f in args.format.split(",") if f.strip())):
        print(p)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("charsuite.export", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
