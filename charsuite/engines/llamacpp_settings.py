"""What llama.cpp takes of a run's settings, said before any point: the settings it refuses, a
quantized KV cache its block cannot hold, and whether its repacked CPU buffers run the weights."""

from __future__ import annotations

from typing import Any

from charsuite.config import ConfigError
from charsuite.engines.gguf_files import weight_type
from charsuite.engines.llamacpp_context import KV_BLOCK


def refused(run: Any) -> list[str]:
    """Settings llama.cpp does not take, each as the key and value asked for."""
    w = run.workload
    asked = [(w.mode != "eager", f"workload.mode={w.mode}"),
             (w.prefill_chunk, f"workload.prefill_chunk={w.prefill_chunk}"),
             (w.logits == "all", "workload.logits=all"), (w.batch != 1, f"workload.batch={w.batch}"),
             (run.profile.enabled, "profile.enabled=true (torch.profiler sees no llama.cpp op)"),
             (run.context.start == "predicted", "context.start=predicted (the dry-run models transformers)"),
             (run.model.path, "model.path (give a GGUF: model.weights=pretrained model.gguf=PATH)"),
             (run.engine.n_gpu_layers and run.device.kind != "cuda",
              f"engine.n_gpu_layers={run.engine.n_gpu_layers} on device={run.device.name} (no GPU)")]
    return [what for bad, what in asked if bad]


def with_repack(run: Any, gguf: str) -> dict[str, str]:
    """The files a worker runs, and whether llama.cpp's repacked CPU buffers are used with them (and why)."""
    from charsuite.engines import gguf_files, llamacpp_repack

    quant = run.model.quant or (weight_type(run.model) if not run.model.gguf else "")
    use, why = llamacpp_repack.decide(run.engine.repack, quant, gguf, gguf_files.cache_dir())
    return {"gguf": gguf, "repack": "1" if use else "0", "repack_why": why}


def check_kv_blocks(run: Any) -> None:
    """llama.cpp stores a quantized KV cache in blocks (q8_0: 32 values) and refuses a context whose
    attention head size the block does not divide: said before any point, in one line."""
    block = KV_BLOCK.get(run.engine.kv_type)
    if not block:
        return
    from charsuite.engines.gguf_model import head_dim
    from charsuite.engines.transformers import hf_config

    config = hf_config(run.model)
    if getattr(config, "num_attention_heads", None) and head_dim(config) % block:
        raise ConfigError(f"engine.kv_type={run.engine.kv_type} stores the cache in blocks of {block} values and "
                          f"{run.model.name} {run.model.size}'s attention head size {head_dim(config)} is not a "
                          "multiple of it (llama.cpp refuses the context); use engine.kv_type=f16 or f32")
