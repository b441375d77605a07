"""Export the results of run and batch folders as one table (CSV and Parquet).

    python -m charsuite.export RUN_OR_BATCH_DIR... --out TABLE   (writes TABLE.csv and TABLE.parquet)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from charsuite import results
from charsuite.errors import UsageError, run_command


def export(paths: list[Path], out: Path) -> list[Path]:
    results.check_folders(paths)
    out = Path(out)
    results.check_writable(out.parent)
    table = results.load_table(paths)
    if table.empty:
        raise UsageError(f"no results under {', '.join(map(str, paths))}")
    for col in table.columns:  # nested values (mem, mem_predicted, samples, breakdowns) as JSON text in both formats
        if table[col].map(lambda v: isinstance(v, (dict, list))).any():
            table[col] = table[col].map(lambda v: json.dumps(v) if isinstance(v, (dict, list)) else None)
    written = [out.with_suffix(".csv"), out.with_suffix(".parquet")]
    table.to_csv(written[0], index=False)
    table.to_parquet(written[1], index=False)
    return written


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m charsuite.export", description="Export charsuite results as CSV "
                                 "and Parquet")
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
