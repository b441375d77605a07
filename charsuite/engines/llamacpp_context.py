"""A llama.cpp context of one length, and what llama.cpp allocated for it, as it says so itself.

llama.cpp reports its buffers - KV cache, recurrent state, compute buffer - in its log when it
makes a context; the log is kept (not printed) and read for them. A context it cannot allocate
is a MemoryError (the point is `oom`) where llama.cpp says an allocation failed; anything else it
declines is LlamaRefused, with its own words (an error, never an out-of-memory).
"""

from __future__ import annotations

import ctypes
import re
from typing import Any

# The relative rounding of a KV cache element (f16: 10 mantissa bits; q8_0: 8-bit values per block of 32)
KV_ROUNDING = {"f32": 0.0, "f16": 2.0**-10, "q8_0": 2.0**-7}
KV_BLOCK = {"q8_0": 32}  # values per block of a quantized cache type (ggml's QK8_0)
# What llama.cpp logs when it makes a context: its buffers, by what they hold
BUFFER_LINES = {"kv_cache": re.compile(r"KV buffer size\s*=\s*([\d.]+) MiB"),
                "ssm_state": re.compile(r"RS buffer size\s*=\s*([\d.]+) MiB"),
                "compute_buffer": re.compile(r"compute buffer size\s*=\s*([\d.]+) MiB")}


# What llama.cpp logs when an allocation fails (ggml's allocators, its context and model loaders)
OUT_OF_MEMORY = re.compile(r"failed to allocate|unable to allocate|cannot allocate|out of memory|"
                           r"alloc\w* failed|failed to reserve", re.IGNORECASE)


class LlamaRefused(RuntimeError):
    """llama.cpp declined for a reason of its own (a setting it does not take, a file it cannot
    read): an error with its line, never an out-of-memory."""


def failure(lines: list[str], what: str) -> Exception:
    """Why llama.cpp returned nothing for `what`, from what it logged meanwhile: a MemoryError
    where an allocation failed (the point is `oom`), else LlamaRefused with its own last line."""
    said = " ".join(" ".join(lines[-3:]).split())[-300:] or "it logged nothing"
    if any(OUT_OF_MEMORY.search(line) for line in lines):
        return MemoryError(f"llama.cpp could not allocate {what} ({said})")
    return LlamaRefused(f"llama.cpp refused {what}: {said}")


class Log:
    """llama.cpp's log, kept (not printed) so the buffer sizes it reports can be read off it."""

    def __init__(self, lib):
        self.lines: list[str] = []

        def on_log(level, text, user_data):
            self.lines.append(text.decode(errors="replace"))

        self._callback = lib.llama_log_callback(on_log)  # held: llama.cpp keeps only the pointer
        lib.llama_log_set(self._callback, ctypes.c_void_p(0))

    def buffers_bytes(self, since: int) -> dict[str, int]:
        """Bytes of each kind of buffer logged since line `since` (0.01 MiB resolution)."""
        out = dict.fromkeys(BUFFER_LINES, 0)
        for line in self.lines[since:]:
            for key, pattern in BUFFER_LINES.items():
                for m in pattern.finditer(line):
                    out[key] += int(float(m.group(1)) * 2**20)
        return out


class Context:
    """One llama_context of n_ctx positions, and what llama.cpp allocated for it."""

    def __init__(self, engine: Any, n_ctx: int):
        lib, s = engine.lib, engine.settings
        params = lib.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = min(s.n_batch, n_ctx)
        params.n_ubatch = min(s.n_ubatch, params.n_batch)
        params.n_seq_max = 1
        params.n_threads = params.n_threads_batch = engine.threads
        params.type_k = params.type_v = getattr(lib, f"GGML_TYPE_{s.kv_type.upper()}")
        params.no_perf = False
        since = len(engine.log.lines)
        self.ctx = lib.llama_init_from_model(engine.model, params)
        if not self.ctx:
            raise failure(engine.log.lines[since:], f"a context of {n_ctx} tokens")
        self.n_ctx, self.n_batch = n_ctx, params.n_batch
        self.buffers = engine.log.buffers_bytes(since)
        self.memory = lib.llama_get_memory(self.ctx)
