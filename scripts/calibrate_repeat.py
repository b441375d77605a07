"""Two calibrations of one machine side by side (issue 30: "calibrate twice in a row within their own intervals"):
every measured probe of both files - bandwidth, matmul, the shape grids, the slow op classes, the host costs - with
its median seconds, the interval of that median, and whether each run's median lies inside the other's interval.

    python -m charsuite.calibrate out=/tmp/a.json && python -m charsuite.calibrate out=/tmp/b.json
    python scripts/calibrate_repeat.py /tmp/a.json /tmp/b.json [--all]   # --all: the grids' rows too
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def probes(data: object, path: str = "") -> dict[str, dict]:
    """Every measured probe (a dict with median seconds and their interval) by its path in the record."""
    out: dict[str, dict] = {}
    if isinstance(data, dict):
        if isinstance(data.get("median_ci_s"), list) and isinstance(data.get("seconds"), (int, float)):
            out[path] = data
        for k, v in data.items():
            out.update(probes(v, f"{path}.{k}" if path else k))
    elif isinstance(data, list):
        for row in data:
            if isinstance(row, dict):
                key = row.get("mnk") or [row.get("class"), row.get("key")]
                out.update(probes({k: v for k, v in row.items()}, f"{path}[{','.join(map(str, key))}]"))
    return out


def span(p: dict) -> str:
    return f"{p['seconds']:.4g} [{p['median_ci_s'][0]:.4g}, {p['median_ci_s'][1]:.4g}]"


def inside(seconds: float, interval: list) -> bool:
    return len(interval) == 2 and interval[0] <= seconds <= interval[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=Path)
    ap.add_argument("second", type=Path)
    ap.add_argument("--all", action="store_true", help="the GEMM and attention grids' rows too")
    args = ap.parse_args()
    try:
        a, b = (probes(json.loads(p.read_text())) for p in (args.first, args.second))
    except (OSError, ValueError) as exc:
        print(f"calibrate_repeat: {exc}", file=sys.stderr)
        return 2
    keys = [k for k in a if k in b and (args.all or "grid" not in k)]
    print("| probe | first: median s [interval] | second | first within second's | second within first's | "
          "apart |")
    print("|---|---|---|---|---|---:|")
    both = 0
    for k in keys:
        p, q = a[k], b[k]
        mutual = inside(p["seconds"], q["median_ci_s"]) and inside(q["seconds"], p["median_ci_s"])
        overlap = p["median_ci_s"][0] <= q["median_ci_s"][1] and q["median_ci_s"][0] <= p["median_ci_s"][1]
        both += mutual
        first_in, second_in = (inside(x["seconds"], y["median_ci_s"]) for x, y in ((p, q), (q, p)))
        print(f"| {k} | {span(p)} | {span(q)} | {'yes' if first_in else 'no'} | {'yes' if second_in else 'no'}"
              f"{'' if overlap else ' (intervals apart)'} | {q['seconds'] / p['seconds'] - 1:+.1%} |")
    print(f"\n{both} of {len(keys)} probes: each median within the other's interval")
    return 0


if __name__ == "__main__":
    sys.exit(main())
