#!/usr/bin/env bash
# Regenerate the paper-style figure set (PDF, SVG, PNG + report.html) and the summary table
# from a batch folder.   scripts/make_paper_figures.sh runs/ispass_rtx4090 [OUT_DIR]
set -euo pipefail
batch=${1:?usage: $0 BATCH_DIR [OUT_DIR]}
out=${2:-$batch/figures}
python -m charsuite.figures "$batch" --out "$out"
python -m charsuite.summary "$batch" > "$out/summary.md"
echo "figures, report.html and summary.md in $out"
