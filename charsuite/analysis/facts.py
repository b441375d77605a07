"""ModelFacts of a zoo entry, read off its transformers config and one meta-device build
(no memory allocated). The write side calls this once per run and stores the result in
run.json, so the read side never needs torch or transformers."""

from __future__ import annotations

from charsuite.analysis.architectures import layout
from charsuite.analysis.memory_model import ModelFacts
from charsuite.config import ModelConfig
from charsuite.engines.transformers import hf_config, meta_sizes
from charsuite.errors import ConfigError


def model_facts(spec: ModelConfig) -> ModelFacts:
    cfg = hf_config(spec)
    params, buffers = meta_sizes(spec)
    try:
        lay = layout(cfg)
    except ValueError:  # e.g. a remote-code model from model.path
        raise ConfigError(f"charsuite's memory model has no layout for model_type {cfg.model_type!r} "
                          f"({spec.name}): its caches and activations cannot be predicted; add it to "
                          "charsuite/analysis/architectures.py") from None
    return ModelFacts(model_type=cfg.model_type, layout=lay, params=params, buffer_bytes=buffers,
                      dtype=spec.dtype, eager_attention=spec.attn_implementation == "eager",
                      tie_word_embeddings=bool(getattr(cfg, "tie_word_embeddings", True)))
