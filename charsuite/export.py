"""Export the results of run and batch folders as one table (CSV and Parquet).

    python -m charsuite.export RUN_OR_BATCH_DIR... --out TABLE   (writes TABLE.csv and TABLE.parquet)

Nested fields: JSON text in the CSV; typed (structs, lists) in Parquet where they can be.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from charsuite import __version__, results
from charsuite.errors import UsageError, run_command


def export(paths: list[Path], out: Path) -> list[Path]:
    results.check_folders(paths)
    out = Path(out)
    results.check_writable(out.parent)
    table = results.load_table(paths)
    if table.empty:
        raise UsageError(f"no results under {', '.join(map(str, paths))}")
    nested = [c for c in table.columns if table[c].map(lambda v: isinstance(v, (dict, list))).any()]
    written = [out.with_suffix(".csv"), out.with_suffix(".parquet")]
    as_text = table.copy()
    for col in nested:  # CSV: nested values (mem, mem_predicted, samples, breakdowns) as JSON text
        as_text[col] = table[col].map(_json)
    as_text.to_csv(written[0], index=False)
    parquet_table(table, nested).to_parquet(written[1], index=False)
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
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    for p in export(args.dirs, args.out):
        print(p)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("charsuite.export", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
