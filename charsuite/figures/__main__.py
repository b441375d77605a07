"""`python -m charsuite.figures RUN_OR_BATCH_DIR... --out DIR [analysis.include_noisy=true]`: every
figure the data supports, as PDF, SVG and PNG, plus one self-contained report.html.

Static images go through kaleido, which drives a Chrome/Chromium: set BROWSER_PATH if
yours is not found (Debian: apt-get install chromium; BROWSER_PATH=/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from charsuite import __version__, results
from charsuite.analysis.trust import include_noisy_arg
from charsuite.errors import UsageError, description, one_line, run_command
from charsuite.figures import report
from charsuite.figures.common import Data, Skip
from charsuite.figures.registry import FIGURES

FORMATS = ("pdf", "svg", "png")
GROUPINGS = ("family", "mixers")  # what --group-by groups legends by (plots.legend_group)


def find_browser() -> str | None:
    """The Chrome/Chromium kaleido will drive (BROWSER_PATH, else the PATH), or None."""
    if os.environ.get("BROWSER_PATH"):
        return os.environ["BROWSER_PATH"]
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        path = shutil.which(name)
        if path:
            os.environ["BROWSER_PATH"] = path
            return path
    return None


def build_figures(paths: list[Path], include_noisy: bool = False,
                  group_by: str = "family") -> tuple[dict, list[str], Data]:
    data = Data(results.load_table(paths), results.load_summaries(paths), include_noisy, group_by)
    if data.points.empty:
        raise UsageError(f"no results.jsonl under {', '.join(map(str, paths))}")
    figures, notes = {}, []
    for name, make in FIGURES.items():
        try:
            figures[name] = make(data)
        except Skip as why:
            notes.append(f"skipped {name}: {why}")
    return figures, notes, data


def export_figures(figures: dict, out: Path, formats=FORMATS) -> list[Path]:
    import plotly.io as pio

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


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m charsuite.figures", description=description(__doc__))
    ap.add_argument("--version", action="version", version=f"charsuite.figures (charsuite) {__version__}")
    ap.add_argument("dirs", nargs="+", type=Path, help="run folders and batch folders")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--formats", default=",".join(FORMATS), help="comma-separated: pdf,svg,png (empty: html only)")
    ap.add_argument("--group-by", default="family", help="legend groups: family (the kind) or mixers (token mixers)")
    argv, include_noisy = include_noisy_arg(list(argv if argv is not None else sys.argv[1:]))
    args = ap.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"unknown format {unknown[0]!r} in --formats; choose from: {', '.join(FORMATS)}")
    if args.group_by not in GROUPINGS:
        raise UsageError(f"unknown --group-by {args.group_by!r}; choose from: {', '.join(GROUPINGS)}")
    results.check_folders(args.dirs)
    results.check_writable(args.out)  # before any work
    figures, notes, data = build_figures(args.dirs, include_noisy, args.group_by)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    report.write(args.out / "report.html", figures, data, notes, [str(d) for d in args.dirs])  # first: no
    written = []                                                                               # browser needed
    if formats and figures:
        browser = find_browser()
        if browser is None:
            print("note: no Chrome/Chromium found, so no PDF/SVG/PNG; install one (Debian: apt-get install "
                  "chromium) or set BROWSER_PATH; report.html needs none", file=sys.stderr)
        else:
            try:
                written = export_figures(figures, args.out, formats)
            except Exception as exc:  # noqa: BLE001 - a browser that does not start: report.html is written
                print(f"charsuite.figures: no PDF/SVG/PNG: the browser {browser} failed ({one_line(exc)[:200]}); "
                      f"report.html is in {args.out}; set BROWSER_PATH to a working Chrome/Chromium",
                      file=sys.stderr)
                return 1
    print(f"{len(figures)} figures ({len(written)} files) and report.html in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("charsuite.figures", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
