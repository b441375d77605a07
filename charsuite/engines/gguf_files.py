"""The GGUF files llama.cpp runs: written once per zoo entry and weight type, then cached.

    python -m charsuite.engines.gguf_files SPEC_JSON OUT QUANT   (what prepare() runs in a child)

A file is named by a hash of the model's config, the writer's FORMAT and the weight type, under
$CHARSUITE_CACHE/gguf (default ~/.cache/charsuite/gguf). It is written by a child process, so the
driver never holds a transformers model, and the worker's memory holds only what llama.cpp
allocates. f32 and f16 are written directly; q8_0, q4_0 and q4_k_m come from the f32 file through
llama.cpp's own quantizer (llama_model_quantize).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from charsuite.config import ConfigError, ModelConfig
from charsuite.processes import pid_alive

QUANT_FTYPES = {"q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
                "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M"}


def cache_dir() -> Path:
    return Path(os.environ.get("CHARSUITE_CACHE") or Path.home() / ".cache" / "charsuite") / "gguf"


def weight_type(spec: ModelConfig) -> str:
    """model.quant, else the type model.dtype names (bfloat16: f16, llama.cpp's CPU has no bf16 matmul here)."""
    return spec.quant or ("f32" if spec.dtype == "float32" else "f16")


def file_for(spec: ModelConfig, quant: str) -> Path:
    from charsuite.engines.gguf_model import FORMAT

    key = json.dumps({"config": spec.hf_config, "class": spec.config_class, "format": FORMAT}, sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return cache_dir() / f"{spec.name}-{spec.size}-{digest}-{quant}.gguf"


def quantize(src: Path, dest: Path, quant: str, threads: int | None = None) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_FTYPES[quant])
    params.nthread = threads or len(os.sched_getaffinity(0))
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dest).encode(), params)
    if rc != 0:
        raise RuntimeError(f"llama.cpp's quantizer failed ({rc}) for {src} -> {quant}")


def ensure(spec: ModelConfig) -> Path:
    """The GGUF for this model and weight type, written (in a child process) if not cached."""
    quant = weight_type(spec)
    path = file_for(spec, quant)
    if path.exists():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot make the GGUF cache {path.parent} ({exc.strerror or exc}); point "
                          "CHARSUITE_CACHE at a writable folder") from None
    sweep_stale(path.parent)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    print(f"charsuite: writing {spec.name} {spec.size} as a GGUF ({quant}) for llama.cpp -> {path}", file=sys.stderr)
    r = subprocess.run([sys.executable, "-m", "charsuite.engines.gguf_files", json.dumps(asdict(spec)), str(tmp),
                        quant], capture_output=True, text=True, preexec_fn=die_with_parent)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        if r.returncode == 2:
            raise ConfigError(last.removeprefix("charsuite: "))
        raise RuntimeError(f"writing the GGUF failed: {last}")
    os.replace(tmp, path)
    return path


def die_with_parent() -> None:
    """The writer's preexec_fn: the kernel kills it when the driver dies, kill -9 included
    (PR_SET_PDEATHSIG; Linux), so no writer runs on alone."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def sweep_stale(folder: Path) -> list[Path]:
    """Remove half-written files a killed driver left (NAME.tmpPID whose PID is gone). Returns them."""
    removed = []
    for f in folder.glob("*.tmp*"):
        pid = f.suffix.removeprefix(".tmp")
        if pid.isdigit() and not pid_alive(int(pid)):
            f.unlink(missing_ok=True)
            removed.append(f)
    return removed


def _write(spec: ModelConfig, out: Path, quant: str) -> None:
    import torch

    from charsuite.engines import gguf_model
    from charsuite.engines.transformers import build

    torch.manual_seed(0)
    model = build(spec)
    if quant in ("f32", "f16"):
        gguf_model.write_gguf(model, out, quant)
        return
    f32 = out.with_name(out.name.replace(".tmp", ".f32.tmp"))  # NAME.f32.tmpPID: swept like its output
    try:
        gguf_model.write_gguf(model, f32, "f32")
        del model
        quantize(f32, out, quant)
    finally:
        f32.unlink(missing_ok=True)


if __name__ == "__main__":
    try:
        _write(ModelConfig(**json.loads(sys.argv[1])), Path(sys.argv[2]), sys.argv[3])
    except ConfigError as exc:
        print(f"charsuite: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
