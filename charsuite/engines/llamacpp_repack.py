"""Whether llama.cpp's repacked CPU buffers (its "extra buffer types") run quantized weights on this
machine: probed once per machine, llama.cpp build and weight file, in a child process.

On an AMX-INT8 / AVX-512 VM every q8_0 and q4_0 run of llama-cpp-python 0.3.36 died of SIGSEGV in
its first llama_decode with the repacked buffers (plain llama-cpp-python too), and ran with them off
(issue 33). `engine.repack=auto` (the default) keeps llama.cpp's own default where the probe runs
and turns the repacked buffers off where it crashes; the choice and why go on every line (impl).

    python -m charsuite.engines.llamacpp_repack GGUF   (the probe: exit 0 if a short decode runs)
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

PLAIN_TYPES = ("f32", "f16")  # weights llama.cpp never repacks into its crashing kernels here


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return ""


def probe_key(gguf: str) -> str:
    """One probe per llama.cpp build, CPU and weight file."""
    import llama_cpp

    return hashlib.sha1(f"{llama_cpp.__version__}|{_cpu_flags()}|{Path(gguf).name}".encode()).hexdigest()[:16]


def probe(gguf: str, timeout_s: float = 600) -> tuple[bool, str]:
    """Run a short decode with the repacked buffers in a child; (it ran, what happened)."""
    try:
        r = subprocess.run([sys.executable, "-m", "charsuite.engines.llamacpp_repack", gguf], capture_output=True,
                           text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False, f"a probe with them did not finish in {timeout_s:g} s"
    if r.returncode == 0:
        return True, "a probe decoded with them on this CPU"
    how = f"signal {signal.Signals(-r.returncode).name}" if r.returncode < 0 else f"exit code {r.returncode}"
    return False, f"a probe with them died on this CPU ({how})"


def decide(setting: Any, quant: str, gguf: str, cache: Path) -> tuple[bool, str]:
    """(use the repacked buffers, why): engine.repack=true/false as asked; auto by the cached probe."""
    if setting is True or setting is False:
        return setting, f"engine.repack={str(setting).lower()}"
    if quant in PLAIN_TYPES:
        return True, f"auto: llama.cpp's default for {quant} weights"
    key = probe_key(gguf)
    path = cache / "repack_probes.json"
    try:
        known = json.loads(path.read_text())
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    if key not in known:
        works, what = probe(gguf)
        known[key] = {"works": works, "what": what}
        try:
            cache.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(known, indent=1))
        except OSError:
            pass  # probed again next time
    works, what = bool(known[key]["works"]), str(known[key]["what"])
    return works, f"auto: {what}" + ("" if works else "; running without them (engine.repack=false)")


def _probe_child(gguf: str) -> None:
    """Load with the repacked buffers and decode a few tokens, as a run does."""
    import llama_cpp as lib

    quiet = lib.llama_log_callback(lambda *a: None)  # held: llama.cpp keeps only the pointer
    lib.llama_log_set(quiet, None)
    lib.llama_backend_init()
    params = lib.llama_model_default_params()
    params.use_extra_bufts = True
    model = lib.llama_model_load_from_file(gguf.encode(), params)
    if not model:
        raise SystemExit(3)
    cparams = lib.llama_context_default_params()
    cparams.n_ctx, cparams.n_batch, cparams.n_ubatch = 256, 64, 64
    ctx = lib.llama_init_from_model(model, cparams)
    if not ctx:
        raise SystemExit(4)
    vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(model))
    tokens = (lib.llama_token * 32)(*[(7 * i + 1) % vocab for i in range(32)])
    if lib.llama_decode(ctx, lib.llama_batch_get_one(tokens, 32)) != 0:
        raise SystemExit(5)
    for i in range(4):
        one = (lib.llama_token * 1)((11 * i + 3) % vocab)
        if lib.llama_decode(ctx, lib.llama_batch_get_one(one, 1)) != 0:
            raise SystemExit(5)


if __name__ == "__main__":
    _probe_child(sys.argv[1])
