"""The transformers engine: a zoo entry's config class with random weights (offline, the
default) or the hub checkpoint (`model.weights=pretrained`), run in eager PyTorch.

transformers 5.x names the cache argument `cache`; the old `past_key_values` is
swallowed by **kwargs on Mamba2 and decodes from scratch (the guard catches that).
"""

from __future__ import annotations

from typing import Any

import torch
import transformers

from charsuite.config import ModelConfig
from charsuite.engines.base import Engine
from charsuite.trackers.memory import tensor_bytes, weight_bytes

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def hf_config(spec: ModelConfig) -> transformers.PretrainedConfig:
    """The transformers config object for a zoo entry (no download)."""
    config_class = getattr(transformers, spec.config_class)
    return config_class(**spec.hf_config)


def build(spec: ModelConfig, device: str | torch.device = "cpu") -> torch.nn.Module:
    """An eval-mode causal LM on `device` in `spec.dtype`."""
    kwargs: dict[str, Any] = {"dtype": TORCH_DTYPES[spec.dtype]}
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


def cache_bytes(cache: Any) -> dict[str, int]:
    """Bytes of attention KV tensors and SSM (conv + recurrent) states in a cache."""
    kv = ssm = 0
    for layer in getattr(cache, "layers", []) or []:
        kv += tensor_bytes(getattr(layer, "keys", None)) + tensor_bytes(getattr(layer, "values", None))
        for name in ("conv_states", "recurrent_states"):
            states = getattr(layer, name, None)
            if isinstance(states, dict):
                ssm += sum(tensor_bytes(t) for t in states.values())
            else:
                ssm += tensor_bytes(states)
    return {"kv_cache": kv, "ssm_state": ssm}


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, spec: ModelConfig, device: torch.device):
        from charsuite.engines import kernel_paths

        self.spec, self.device = spec, device
        self.impl = kernel_paths.resolve(spec.impl, device.type)
        self.model = build(spec, device)
        if self.impl == "reference":
            kernel_paths.use_reference(self.model.config.model_type)
        self.params = count_params(self.model)
        self.vocab_size = self.model.get_input_embeddings().num_embeddings
        emb = getattr(getattr(self.model, "transformer", None), "wpe", None)  # learned absolute positions
        self.max_positions = emb.num_embeddings if emb is not None else None

    @torch.inference_mode()
    def prefill(self, input_ids: torch.Tensor, logits: str = "last") -> tuple[torch.Tensor, Any, torch.Tensor]:
        out = self.model(input_ids=input_ids, use_cache=True, logits_to_keep=1 if logits == "last" else 0)
        first = out.logits[:, -1].argmax(dim=-1, keepdim=True)
        return out.logits, out.cache if hasattr(out, "cache") else out.past_key_values, first

    @torch.inference_mode()
    def decode_step(self, token: torch.Tensor, cache: Any, position: int) -> tuple[torch.Tensor, Any]:
        pos = torch.tensor([position], device=token.device)
        out = self.model(input_ids=token, cache=cache, use_cache=True, cache_position=pos, logits_to_keep=1)
        return out.logits, out.cache

    def cache_bytes(self, cache: Any) -> dict[str, int]:
        return cache_bytes(cache)

    def weight_bytes(self) -> int:
        return weight_bytes(self.model)

    def profiled_module(self) -> torch.nn.Module:
        return self.model

    def implementations(self) -> dict[str, str | None]:
        """The attention and SSM code paths: what the modeling module's kernel globals call
        now (the module each resolves to), not what was asked for."""
        from charsuite.engines import kernel_paths

        attn = getattr(self.model.config, "_attn_implementation", None)
        ssm = kernel_paths.observed(self.model.config.model_type)
        return {"attn_implementation": attn, "ssm_implementation": ssm}
