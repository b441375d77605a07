"""The llama.cpp engine: llama-cpp-python's C API (ctypes), measured by the same sweep.

The model is loaded once, without mmap (its weights resident and counted under the cap); a
context is made per length (n_ctx = the prompt and its decode room), so what llama.cpp
allocates for that length - its KV cache, recurrent state and compute buffer, as it reports
them - is what the point measures; a context it cannot allocate is `oom`. Prefill clears the
memory and feeds the prompt in n_batch batches; decode feeds one token; llama_synchronize
ends each call before the stopwatch reads the clock. llama.cpp's own clock (its perf
counters' prompt-eval and eval times) is read beside charsuite's (`engine_latency_s`).
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

import numpy as np
import torch

from charsuite.config import ConfigError, EngineConfig, ModelConfig
from charsuite.engines.base import Engine
from charsuite.engines.gguf_files import weight_type
from charsuite.engines.llamacpp_context import BUFFER_LINES, KV_ROUNDING, Context, Log, failure
from charsuite.engines.llamacpp_settings import check_kv_blocks, refused, with_repack

INSTALL = 'pip install -e ".[llamacpp]"'


def library():
    """llama-cpp-python's low-level module, or one line naming the install command."""
    try:
        import llama_cpp
    except ImportError:
        raise ConfigError(f"engine=llamacpp needs llama-cpp-python; install it with {INSTALL} (it builds llama.cpp "
                          "from source: a few minutes)") from None
    return llama_cpp


class LlamaCppEngine(Engine):
    name = "llamacpp"
    torch_tensors = False

    @classmethod
    def preflight(cls, run: Any) -> None:
        bad = refused(run)
        if bad:
            raise ConfigError(f"engine=llamacpp does not take {'; '.join(bad)}")
        library()

    @classmethod
    def prepare(cls, run: Any) -> dict[str, str]:
        """Refuse what llama.cpp cannot run, then the GGUF: a real one (model.gguf), or the zoo
        entry written with random weights (cached; engines/gguf_files.py)."""
        cls.preflight(run)
        lib = library()
        if run.engine.n_gpu_layers and not lib.llama_supports_gpu_offload():
            raise ConfigError("engine.n_gpu_layers needs a llama.cpp built with CUDA; reinstall llama-cpp-python "
                              'with CMAKE_ARGS="-DGGML_CUDA=on"')
        if run.model.weights == "pretrained":
            if not run.model.gguf:
                raise ConfigError("engine=llamacpp model.weights=pretrained needs model.gguf=PATH (a GGUF file)")
            return with_repack(run, run.model.gguf)
        import transformers

        from charsuite.engines import gguf_files, gguf_model

        model_type = getattr(transformers, run.model.config_class).model_type
        gguf_model.check_supported(model_type, run.model.name)
        check_kv_blocks(run)
        return with_repack(run, str(gguf_files.ensure(run.model)))

    def __init__(self, spec: ModelConfig, device: torch.device, mode: str = "eager",
                 settings: dict[str, Any] | None = None, files: dict[str, str] | None = None,
                 threads: int | None = None):
        self.lib = lib = library()
        self.spec, self.device, self.mode = spec, device, mode
        self.settings = EngineConfig(**(settings or {"name": "llamacpp"}))
        self.threads = threads or len(os.sched_getaffinity(0))
        self.log = Log(lib)
        lib.llama_backend_init()
        params = lib.llama_model_default_params()
        params.n_gpu_layers = self.settings.n_gpu_layers if device.type == "cuda" else 0
        params.load_mode = lib.LLAMA_LOAD_MODE_NONE  # read into memory: resident, counted under the cap
        files = files or {}
        self.repack = files.get("repack", "1" if self.settings.repack is not False else "0") == "1"
        self.repack_why = files.get("repack_why") or f"engine.repack={self.settings.repack}"
        params.use_extra_bufts = self.repack
        path = files.get("gguf") or spec.gguf
        self.path = path
        since = len(self.log.lines)
        self.model = lib.llama_model_load_from_file(str(path).encode(), params)
        if not self.model:
            raise failure(self.log.lines[since:], f"the model {path}")
        desc = ctypes.create_string_buffer(256)
        lib.llama_model_desc(self.model, desc, len(desc))
        self.desc = desc.value.decode(errors="replace")  # "qwen2 ?B Q8_0"
        # the weight type on every line: asked for, written from model.dtype, or a real file's own
        self.quant = spec.quant or (weight_type(spec) if not spec.gguf else self.desc.rsplit(" ", 1)[-1].lower())
        self.params = int(lib.llama_model_n_params(self.model))
        self.vocab_size = int(lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(self.model)))
        self.max_positions = None
        self.context: Context | None = None
        self.batch = None
        self.last_logits: torch.Tensor | None = None  # the last prefill's (the guard's tolerance scales with them)
        self.perf: list[tuple[str, float]] = []  # llama.cpp's own (phase, seconds) per call since take_perf()

    def _context(self, n_ctx: int) -> Context:
        n_ctx = -(-n_ctx // 256) * 256  # whole pages of 256 positions: one context serves nearby lengths
        if self.context is None or self.context.n_ctx != n_ctx:
            self.release()
            self.context = Context(self, n_ctx)
            self.batch = self.lib.llama_batch_init(self.context.n_batch, 0, 1)
            for i in range(self.context.n_batch):  # every token of sequence 0
                self.batch.n_seq_id[i] = 1
                self.batch.seq_id[i][0] = 0
        return self.context

    def release(self) -> None:
        if self.batch is not None:
            self.lib.llama_batch_free(self.batch)
            self.batch = None
        if self.context is not None:
            self.lib.llama_free(self.context.ctx)
            self.context = None

    def _decode(self, tokens: np.ndarray, start: int, want: str) -> np.ndarray:
        """Feed `tokens` at positions start.. in n_batch batches; the last batch's logits
        (want=all) or the last position's (want=last), as float32 [positions, vocab]."""
        lib, ctx, b = self.lib, self.context, self.batch
        n = len(tokens)
        tokens = np.ascontiguousarray(tokens, dtype=np.int32)
        for first in range(0, n, ctx.n_batch):
            m = min(ctx.n_batch, n - first)
            pos = np.arange(start + first, start + first + m, dtype=np.int32)
            flags = np.zeros(m, dtype=np.int8)
            if first + m == n:  # logits of the last batch only: every position, or the last
                flags[:] = want == "all"
                flags[-1] = 1
            ctypes.memmove(b.token, tokens[first:].ctypes.data, 4 * m)
            ctypes.memmove(b.pos, pos.ctypes.data, 4 * m)
            ctypes.memmove(b.logits, flags.ctypes.data, m)
            b.n_tokens = m
            rc = lib.llama_decode(ctx.ctx, b)
            if rc != 0:
                if rc in (1, -2, -3):  # no room in the cache, or a buffer it could not allocate
                    raise MemoryError(f"llama_decode could not fit {m} tokens at position {start + first} ({rc})")
                raise RuntimeError(f"llama_decode failed ({rc}) at position {start + first}")
        lib.llama_synchronize(ctx.ctx)
        rows = m if want == "all" else 1
        out = np.empty((rows, self.vocab_size), dtype=np.float32)
        for r in range(rows):
            ptr = lib.llama_get_logits_ith(ctx.ctx, (m - rows + r) if want == "all" else -1)
            out[r] = np.ctypeslib.as_array(ptr, shape=(self.vocab_size,))
        return out

    def _own_clock(self, phase: str) -> None:
        data = self.lib.llama_perf_context(self.context.ctx)
        self.perf.append((phase, (data.t_p_eval_ms if phase == "prefill" else data.t_eval_ms) / 1e3))
        self.lib.llama_perf_context_reset(self.context.ctx)

    def prefill(self, input_ids: torch.Tensor, logits: str = "last", chunk: int | None = None,
                reserve: int = 0) -> tuple[torch.Tensor, Any, torch.Tensor]:
        if input_ids.shape[0] != 1:
            raise ConfigError("engine=llamacpp measures batch 1 (workload.batch=1)")
        tokens = input_ids[0].cpu().numpy()
        ctx = self._context(len(tokens) + reserve)
        self.lib.llama_memory_clear(ctx.memory, True)
        self.lib.llama_perf_context_reset(ctx.ctx)
        out = torch.from_numpy(self._decode(tokens, 0, logits)).unsqueeze(0)
        self._own_clock("prefill")
        self.last_logits = out
        first = out[:, -1].argmax(dim=-1, keepdim=True)
        return out, {"n_ctx": ctx.n_ctx, "position": len(tokens)}, first

    def decode_step(self, token: torch.Tensor, cache: Any, position: int) -> tuple[torch.Tensor, Any]:
        out = torch.from_numpy(self._decode(token[0].cpu().numpy(), position, "last")).unsqueeze(0)
        self._own_clock("decode")
        return out, cache

    def guard_tolerance(self, tol: float) -> float:
        """A cached decode reads K and V back in engine.kv_type (f16 by default) where a full forward
        used them fresh: the logits may differ by that rounding times their scale (Qwen2.5-0.5B,
        random weights, f16 cache: 1.3e-3), far below what a wrong cache gives (0.01-0.2)."""
        scale = float(self.last_logits[:, -1].abs().max()) if self.last_logits is not None else 0.0
        return max(tol, KV_ROUNDING[self.settings.kv_type] * scale)

    def take_perf(self) -> list[tuple[str, float]]:
        """llama.cpp's own (phase, seconds) for each prefill or decode call since the last take."""
        out, self.perf = self.perf, []
        return out

    def cache_bytes(self, cache: Any) -> dict[str, int]:
        """llama.cpp's own buffers for the current context: KV, recurrent state, compute buffer."""
        return dict(self.context.buffers) if self.context is not None else dict.fromkeys(BUFFER_LINES, 0)

    def weight_bytes(self) -> int:
        return int(self.lib.llama_model_size(self.model))

    @classmethod
    def crash_hint(cls, files: dict[str, str]) -> str | None:
        if files.get("repack") == "1":
            return ("a crash inside llama.cpp with its repacked CPU buffers (quantized weights crash them on some "
                    "CPUs, AMX-INT8 among them): engine.repack=false avoids it")
        return None

    def observe(self) -> dict[str, Any]:
        """On every line: whether the weights run from llama.cpp's repacked CPU buffers, and why."""
        return {"cpu_buffers": "repacked" if self.repack else "plain", "cpu_buffers_why": self.repack_why}

    def implementations(self) -> dict[str, str | None]:
        s = self.settings
        return {"attn_implementation": "llama.cpp", "ssm_implementation": "llama.cpp", "mode": self.mode,
                "quant": self.quant, "model_desc": self.desc, "gguf": str(self.path), "n_batch": s.n_batch,
                "n_ubatch": s.n_ubatch,
                "kv_type": s.kv_type, "n_gpu_layers": s.n_gpu_layers if self.device.type == "cuda" else 0,
                "system_info": self.lib.llama_print_system_info().decode(errors="replace").strip()}
