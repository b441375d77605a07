"""Build a model from its conf/model entry: transformers config class + random weights
(offline, the default) or the checkpoint from the hub (`model.weights=pretrained`)."""

from __future__ import annotations

from typing import Any

import torch
import transformers

from charsuite.config import ModelConfig

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def hf_config(spec: ModelConfig) -> transformers.PretrainedConfig:
    """The transformers config object for a zoo entry (no download)."""
    config_class = getattr(transformers, spec.config_class)
    return config_class(**spec.hf_config)


def build(spec: ModelConfig, device: str | torch.device = "cpu") -> torch.nn.Module:
    """An eval-mode causal LM on `device` in `spec.dtype`."""
    dtype = TORCH_DTYPES[spec.dtype]
    kwargs: dict[str, Any] = {"dtype": dtype}
    if spec.attn_implementation:
        kwargs["attn_implementation"] = spec.attn_implementation
    if spec.weights == "pretrained":
        model = transformers.AutoModelForCausalLM.from_pretrained(
            spec.hub_id, trust_remote_code=spec.trust_remote_code, **kwargs
        ).to(device)
    else:
        with torch.device(device):
            model = transformers.AutoModelForCausalLM.from_config(hf_config(spec), **kwargs)
    return model.eval()


def count_params(model: torch.nn.Module) -> int:
    """Parameters of the built model, tied weights counted once."""
    return sum(p.numel() for p in model.parameters())


def meta_sizes(spec: ModelConfig) -> tuple[int, int]:
    """(parameter count, bytes of buffers in spec.dtype) from one build on the meta device,
    so any size is counted without allocating it. Buffers matter: GPT-Neo's causal mask
    alone is max_positions^2 bytes per layer."""
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(hf_config(spec), dtype=TORCH_DTYPES[spec.dtype])
    seen: set[int] = set()
    buffers = 0
    for b in model.buffers():
        if id(b) not in seen:
            seen.add(id(b))
            buffers += b.numel() * b.element_size()
    return count_params(model), buffers


def count_params_meta(spec: ModelConfig) -> int:
    """Parameter count without allocating weights (meta device), for any size."""
    return meta_sizes(spec)[0]


def implementations(model: torch.nn.Module, device: torch.device) -> dict[str, str | None]:
    """The attention and SSM code paths the model actually runs."""
    from transformers.utils import import_utils

    attn = getattr(model.config, "_attn_implementation", None)
    has_ssm = any("mamba" in type(m).__name__.lower() or "mixer" in type(m).__name__.lower()
                  for m in model.modules())
    ssm = None
    if has_ssm:
        kernels = bool(getattr(import_utils, "is_mamba_ssm_available", lambda: False)()) and \
            bool(getattr(import_utils, "is_causal_conv1d_available", lambda: False)())
        ssm = "mamba-ssm kernels" if kernels and device.type == "cuda" else "pytorch reference"
    return {"attn_implementation": attn, "ssm_implementation": ssm}
