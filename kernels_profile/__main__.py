"""`python -m kernels_profile TRACE.json [--json]`: category breakdown of any torch.profiler
Chrome trace (CPU or GPU, from this machine or another)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from charsuite.errors import UsageError, run_command
from kernels_profile.attribute import attribute, primary


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kernels_profile", description=__doc__.splitlines()[0])
    ap.add_argument("trace", type=Path)
    ap.add_argument("--json", action="store_true", help="print {basis, categories, coverage} as JSON")
    args = ap.parse_args(argv)
    try:
        result = attribute(args.trace)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot read {args.trace} as a torch.profiler Chrome trace: {why}") from None
    main_b = primary(result)
    if args.json:
        out = main_b.as_dict()
        other = result["host"] if main_b.basis == "device" else None
        if other is not None:
            out["host"] = other.as_dict()
        print(json.dumps(out, indent=2))
        return 0
    for b in (result["device"], result["host"]):
        if b is None:
            continue
        print(f"{b.basis} time: {b.total_s * 1e3:.2f} ms, coverage {b.coverage:.1%}")
        for cat, s in sorted(b.categories.items(), key=lambda x: -x[1]):
            if s > 0:
                print(f"  {cat:14s} {s * 1e3:10.3f} ms  {s / b.total_s:6.1%}")
        if b.unclassified_top:
            print("  unclassified: " + ", ".join(f"{n} ({s * 1e3:.2f} ms)" for n, s in b.unclassified_top[:5]))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("kernels_profile", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
