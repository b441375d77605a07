"""`python -m kernels_profile TRACE.json [--json] [--grouping study]`: category breakdown of any
torch.profiler Chrome trace (CPU or GPU, from this machine or another); a trace of several
profiler steps reports each category's median over them, and its spread. `--grouping study`
regroups the same trace the way the reference study did (its groups, CPU and GPU time summed).
`--companion EAGER.json`: for a trace of CUDA-graph replays, an eager trace of the same step
whose launching ops classify the replayed kernels by name."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from charsuite import __version__
from charsuite.errors import UsageError, description, run_command
from kernels_profile.attribute import (
    attribute,
    learned_categories,
    median_breakdown,
    per_step,
    primary,
    share_spread,
)

READ_ERRORS = (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, RecursionError)


def _not_a_trace(path: Path, exc: Exception) -> UsageError:
    why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return UsageError(f"cannot read {path} as a torch.profiler Chrome trace: {why}")


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kernels_profile", description=description(__doc__))
    ap.add_argument("--version", action="version", version=f"kernels_profile (charsuite) {__version__}")
    ap.add_argument("trace", type=Path)
    ap.add_argument("--json", action="store_true", help="print {basis, categories, coverage} as JSON")
    ap.add_argument("--grouping", choices=("charsuite", "study"), default="charsuite",
                    help="charsuite's categories (default), or the reference study's groups with CPU+GPU summed")
    ap.add_argument("--companion", type=Path, metavar="EAGER.json",
                    help="an eager trace of the same step: classifies kernels replayed from CUDA graphs by name")
    args = ap.parse_args(argv)
    try:
        companion = learned_categories(json.loads(args.companion.read_text())) if args.companion else None
    except READ_ERRORS as exc:
        raise _not_a_trace(args.companion, exc) from None
    try:
        trace = json.loads(args.trace.read_text())
        result = attribute(trace, companion=companion)
        study = args.grouping == "study"
        steps = per_step(trace, result["study"] if study else primary(result), grouping=args.grouping,
                         companion=companion)
    except READ_ERRORS as exc:
        raise _not_a_trace(args.trace, exc) from None
    main_b = median_breakdown(steps)
    if args.json:
        out = {**main_b.as_dict(), "grouping": args.grouping, "steps": len(steps), "share_spread": share_spread(steps)}
        other = result["host"] if main_b.basis == "device" else None
        if other is not None:
            out["host"] = other.as_dict()
        print(json.dumps(out, indent=2))
        return 0
    spread = share_spread(steps)
    if study:
        print("the reference study's grouping: each top-level op's CPU time plus its kernels' GPU time, summed "
              "(charsuite's own host and device bases never add them); SSM_Scan holds the fused Functions whole")
    print(f"median of {len(steps)} profiled step(s), {main_b.basis} time: {main_b.total_s * 1e3:.2f} ms, "
          f"coverage {main_b.coverage:.1%}")
    for cat, s in sorted(main_b.categories.items(), key=lambda x: -x[1]):
        if s > 0:
            lo, _, hi = spread.get(cat, [0.0, 0.0, 0.0])
            print(f"  {cat:17s} {s * 1e3:10.3f} ms  {s / main_b.total_s:6.1%}  (steps: {lo:.1%} - {hi:.1%})")
    for b in (result["study"],) if study else (result["device"], result["host"]):
        if b is None:
            continue
        print(f"whole trace, {b.basis} time: {b.total_s * 1e3:.2f} ms, coverage {b.coverage:.1%}")
        for cat, s in sorted(b.categories.items(), key=lambda x: -x[1]):
            if s > 0:
                print(f"  {cat:17s} {s * 1e3:10.3f} ms  {s / b.total_s:6.1%}")
        if b.unclassified_top:
            print("  unclassified: " + ", ".join(f"{n} ({s * 1e3:.2f} ms)" for n, s in b.unclassified_top[:5]))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("kernels_profile", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
