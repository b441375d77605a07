"""`python -m charsuite.figures RUN_OR_BATCH_DIR... --out DIR`: every figure the data
supports, as PDF, SVG and PNG, plus one self-contained report.html.

Static images go through kaleido, which drives a Chrome/Chromium: set BROWSER_PATH if
yours is not found (Debian: apt-get install chromium; BROWSER_PATH=/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from charsuite import results
from charsuite.figures import report
from charsuite.figures.plots import Data, Skip
from charsuite.figures.registry import FIGURES

FORMATS = ("pdf", "svg", "png")


def find_browser() -> None:
    if os.environ.get("BROWSER_PATH"):
        return
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        path = shutil.which(name)
        if path:
            os.environ["BROWSER_PATH"] = path
            return


def build(paths: list[Path]) -> tuple[dict, list[str], Data]:
    data = Data(results.load_table(paths), results.load_summaries(paths))
    if data.points.empty:
        raise SystemExit(f"charsuite.figures: no results.jsonl under {', '.join(map(str, paths))}")
    figures, notes = {}, []
    for name, make in FIGURES.items():
        try:
            figures[name] = make(data)
        except Skip as why:
            notes.append(f"skipped {name}: {why}")
    return figures, notes, data


def export(figures: dict, out: Path, formats=FORMATS) -> list[Path]:
    import plotly.io as pio

    find_browser()
    paths, figs, widths, heights, scales = [], [], [], [], []
    for name, fig in figures.items():
        for fmt in formats:
            paths.append(out / f"{name}.{fmt}")
            figs.append(fig)
            widths.append(fig.layout.width)
            heights.append(fig.layout.height)
            scales.append(2 if fmt == "png" else 1)  # PNG at 2x for slides; vectors as laid out
    pio.write_images(figs, paths, width=widths, height=heights, scale=scales)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m charsuite.figures", description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path, help="run folders and batch folders")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--formats", default=",".join(FORMATS), help="comma-separated: pdf,svg,png (empty: html only)")
    args = ap.parse_args(argv)
    missing = [str(d) for d in args.dirs if not d.exists()]
    if missing:
        print(f"charsuite.figures: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    figures, notes, data = build(args.dirs)
    args.out.mkdir(parents=True, exist_ok=True)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    formats = [f for f in args.formats.split(",") if f]
    written = export(figures, args.out, formats) if formats and figures else []
    report.write(args.out / "report.html", figures, data.summaries, notes, [str(d) for d in args.dirs])
    print(f"{len(figures)} figures ({len(written)} files) and report.html in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
