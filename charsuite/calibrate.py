"""`python -m charsuite.calibrate [device=NAME] [quick=true] [out=FILE]`: this machine's own roofline, measured -
the first piece of the latency model (issue 30): achievable memory bandwidth (a copy and a triad of buffers beyond the
caches), matmul throughput per dtype over a small, a skinny (decode's GEMV) and a large shape, the eager host
cost of one dispatched op, and on CUDA the launch cost and what a CUDA graph saves. Each number is the median of
timed repeats with its interval and the noise verdict every measured point carries (noise.assess). Saved beside
the device profile it describes: conf/device/calibrated/NAME.json (data-sheet peaks stay in the profile)."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import torch

from charsuite.calibrate_grids import GRID, QUICK_GRID, attention_grid, gemm_grid
from charsuite.calibrate_host import first_touch, library_dispatch, module_dispatch
from charsuite.calibrate_ops import op_rates
from charsuite.calibrate_timing import DTYPES, measured
from charsuite.config import CONF_DIR


def bandwidth(device: torch.device, mib: int, repeats: int) -> dict[str, Any]:
    """GB/s moved by a copy (bytes read + written) and a triad a = b + s * c (two read, one written)."""
    n = mib * 2**20 // 4
    b, c, a = (torch.rand(n, device=device) for _ in range(3))
    copy = measured(lambda: a.copy_(b), device, 2 * 4 * n / 1e9, repeats)
    triad = measured(lambda: torch.add(b, c, alpha=1.5, out=a), device, 3 * 4 * n / 1e9, repeats)
    return {"copy_gbs": copy, "triad_gbs": triad, "buffer_mib": mib}


def matmul(device: torch.device, dtype: str, shapes: dict[str, tuple[int, int, int]], repeats: int) -> dict:
    """TFLOP/s of (m x k) @ (k x n) per named shape; a dtype the device cannot multiply in is left out."""
    out = {}
    for name, (m, k, n) in shapes.items():
        try:
            x = torch.randn(m, k, device=device).to(DTYPES[dtype])
            w = torch.randn(k, n, device=device).to(DTYPES[dtype])
            out[name] = {**measured(lambda: x @ w, device, 2 * m * n * k / 1e12, repeats), "mnk": [m, n, k]}
        except RuntimeError as exc:  # e.g. no half matmul on an old CPU build
            out[name] = {"error": str(exc).splitlines()[0][:200]}
    return out


def dispatch(device: torch.device, calls: int, repeats: int) -> dict[str, Any]:
    """Microseconds of host time per eagerly dispatched tiny op (a decode step of a small model pays it once
    per op: the device waits for Python)."""
    x = torch.zeros(1, device=device)

    def many():
        for _ in range(calls):
            x.add_(1)

    r = measured(many, device, calls, repeats)
    return {**r, "us_per_op": 1e6 / r["value"], "calls": calls}


def cuda_graph_saving(device: torch.device, calls: int, repeats: int) -> dict[str, Any]:
    """The same tiny ops eagerly and replayed from a captured CUDA graph: launch cost per op and the saving."""
    x = torch.zeros(1, device=device)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        for _ in range(3):
            x.add_(1)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            x.add_(1)
    eager = dispatch(device, calls, repeats)
    replay = measured(graph.replay, device, calls, repeats)
    return {"eager_us_per_op": eager["us_per_op"], "graph_us_per_op": 1e6 / replay["value"],
            "saving": 1 - (1e6 / replay["value"]) / eager["us_per_op"], "eager": eager, "graph": replay}


def calibrate(device: torch.device, dtypes: list[str], quick: bool = False) -> dict[str, Any]:
    """Every measurement of this machine, as one JSON-able record."""
    repeats = 3 if quick else 9
    big = 256 if device.type == "cuda" else 64
    shapes = ({"small": (64, 64, 64), "skinny": (1, 256, 256), "large": (256, 256, 256)} if quick else
              {"small": (256, 256, 256), "skinny": (1, 4096, 4096),
               "large": (8192, 8192, 8192) if device.type == "cuda" else (2048, 2048, 2048)})
    out: dict[str, Any] = {
        "host": socket.gethostname(), "device": str(device), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bandwidth": bandwidth(device, 4 if quick else big * 4, repeats),
        "matmul_tflops": {d: matmul(device, d, shapes, repeats) for d in dtypes},
        "gemm_grid_tflops": {d: gemm_grid(device, d, QUICK_GRID if quick else GRID, 3) for d in dtypes},
        "attention_grid_tflops": {d: attention_grid(device, d, quick) for d in dtypes},
        "op_rates": op_rates(device, repeats),
        "first_touch": first_touch(device, 4 if quick else 16, repeats),
        "dispatch": dispatch(device, 200 if quick else 2000, repeats),
        "module_dispatch": module_dispatch(device, 4 if quick else 32, repeats),
        "library_dispatch": library_dispatch(device, 3 if quick else 9)}
    if device.type == "cuda":
        out["cuda_graph"] = cuda_graph_saving(device, 200 if quick else 2000, repeats)
    return out


def saved_path(device_name: str) -> Path:
    return CONF_DIR / "device" / "calibrated" / f"{device_name}.json"


def read_calibration(device_name: str) -> dict[str, Any] | None:
    """The saved calibration of a profile, None where there is none or it is unreadable (never a failed run)."""
    try:
        data = json.loads(saved_path(device_name).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def main(argv: list[str] | None = None) -> int:
    from charsuite.errors import ConfigError, help_or_version

    argv = sys.argv[1:] if argv is None else argv
    done = help_or_version("python -m charsuite.calibrate", argv, __doc__)
    if done is not None:
        return done
    opts = dict(a.split("=", 1) for a in argv if "=" in a)
    bad = [a for a in argv if "=" not in a] + [k for k in opts if k not in ("device", "quick", "out")]
    if bad:
        print(f"charsuite.calibrate: unknown argument {bad[0]!r}; takes device=NAME, quick=true and out=FILE",
              file=sys.stderr)
        return 2
    if opts.get("quick", "false") not in ("true", "false"):
        print(f"charsuite.calibrate: quick={opts['quick']!r}; choose one of: true, false", file=sys.stderr)
        return 2
    try:
        from charsuite.compose import compose

        run = compose(["+model=mamba2", f"device={opts.get('device', 'cpu')}"])
    except ConfigError as exc:
        print(f"charsuite.calibrate: {exc}", file=sys.stderr)
        return 2
    kind = run.device.kind
    if kind == "cuda" and not torch.cuda.is_available():
        print(f"charsuite.calibrate: device={run.device.name} is a CUDA profile and this machine has no CUDA GPU; "
              "calibrate on the device itself (its data-sheet peaks stay in the profile meanwhile)", file=sys.stderr)
        return 2
    device = torch.device("cuda" if kind == "cuda" else "cpu")
    dtypes = ["float32", run.device.dtype] if run.device.dtype != "float32" else ["float32"]
    print(f"charsuite.calibrate: measuring {run.device.name} ...", file=sys.stderr)
    record = {"profile": run.device.name, **calibrate(device, dtypes, quick=opts.get("quick") == "true")}
    path = Path(opts["out"]) if "out" in opts else saved_path(run.device.name)
    try:  # written before anything is printed: a measurement is never lost to an unwritable path unsaid
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n")
    except OSError as exc:
        print(f"charsuite.calibrate: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        print(json.dumps(record, indent=2))  # the measurement itself, on stdout
        return 2
    b = record["bandwidth"]
    print(f"bandwidth: copy {b['copy_gbs']['value']:.1f} GB/s, triad {b['triad_gbs']['value']:.1f} GB/s")
    for d, shapes in record["matmul_tflops"].items():
        print(f"matmul {d}: " + ", ".join(f"{k} {v['value']:.3g} TFLOP/s" for k, v in shapes.items() if "value" in v))
    print("slow op classes: " + ", ".join(f"{r['class']} {r['value']:.3g} GB/s" for r in record["op_rates"]
                                          if "value" in r))
    lib = record.get("library_dispatch") or {}
    print(f"dispatch: {record['dispatch']['us_per_op']:.2f} us per eager op in a tight loop, "
          f"{record['module_dispatch']['us_per_op']:.2f} us per aten op of eager module code"
          + (f", {lib['us_per_op']:.2f} us per aten op of transformers' decode step" if lib else ""))
    noisy = [k for k, v in (("copy", b["copy_gbs"]), ("triad", b["triad_gbs"]), ("dispatch", record["dispatch"]))
             if v["noisy"]]
    print(f"saved to {path}" + (f"; noisy: {', '.join(noisy)} (re-run on a quieter machine)" if noisy else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
