"""A zoo entry as a GGUF file for llama.cpp, with the random weights transformers builds.

The transformers model is built from the zoo's config (as the transformers engine builds it),
then written with the `gguf` package's writer under the names llama.cpp's loader asks for
(gguf's own HF -> GGUF TensorNameMap), with the metadata it reads. Where llama.cpp stores a
tensor differently, the layout is redone here from what its loader and graph expect:

- Llama rotates adjacent pairs (RoPE "norm"), transformers rotates halves: q/k rows are
  interleaved per head; Llama 3's scaled RoPE is the `rope_freqs` tensor (the ratio of
  transformers' plain to its llama3-scaled inverse frequencies).
- Mamba-2: A = -exp(A_log) and D with a unit axis, dt_bias as ssm_dt.bias, the depthwise
  conv1d squeezed, the gated norm split per group.
- LFM2: its short conv squeezed; KV heads per layer (0 for a conv layer).

charsuite feeds token ids, so the file has no tokenizer (`tokenizer.ggml.model = none` and
the vocabulary size). The test that matters: llama.cpp computes from the file the logits
transformers computes from the same weights (tests/integration/test_llamacpp.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from charsuite.config import ConfigError

# transformers model_type -> llama.cpp architecture name, for the families written here
ARCHS = {"mamba2": "mamba2", "llama": "llama", "qwen2": "qwen2", "lfm2": "lfm2"}
# Bumped when what is written changes: part of the cached file's name (gguf_files.py)
FORMAT = 1
# Kept float32 whatever the file's type (llama.cpp's converter does the same): small, and read as f32
ALWAYS_F32 = ("ssm_conv1d", "ssm_a", "ssm_d", "ssm_norm", "shortconv.conv", "norm")


def check_supported(model_type: str, family: str) -> str:
    if model_type not in ARCHS:
        zoo = {"mamba2": "mamba2", "llama": "llama3_2", "qwen2": "qwen2_5", "lfm2": "lfm2"}
        raise ConfigError(f"engine=llamacpp cannot write {family} ({model_type}) as a GGUF yet; it writes: "
                          f"{', '.join(zoo[t] for t in ARCHS)} (or give a real file: model.weights=pretrained "
                          "model.gguf=PATH)")
    return ARCHS[model_type]


def head_dim(config: Any) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _interleave_rotary(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """q/k projection rows from transformers' rotate-half order to llama.cpp's adjacent pairs."""
    head_dim = w.shape[0] // n_head
    return w.reshape(n_head, 2, head_dim // 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def _llama3_rope_factors(config: Any) -> torch.Tensor | None:
    """llama.cpp divides each RoPE frequency by its factor: plain / scaled inverse frequencies."""
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type") != "llama3":
        return None
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    dim = head_dim(config)
    base = rope["rope_theta"]
    plain = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    return (plain / scaled.float()).float()


def _metadata(writer, arch: str, config: Any, model: torch.nn.Module, vocab: int) -> None:
    c = config
    writer.add_block_count(c.num_hidden_layers)
    writer.add_embedding_length(c.hidden_size)
    writer.add_context_length(int(getattr(c, "max_position_embeddings", 0) or 2**20))
    writer.add_vocab_size(vocab)
    writer.add_tokenizer_model("none")
    eps = getattr(c, "rms_norm_eps", None) or getattr(c, "layer_norm_epsilon", None) or c.norm_eps
    writer.add_layer_norm_rms_eps(float(eps))
    if arch == "mamba2":
        writer.add_feed_forward_length(0)
        writer.add_head_count(0)
        d_inner = c.expand * c.hidden_size
        writer.add_ssm_conv_kernel(c.conv_kernel)
        writer.add_ssm_inner_size(d_inner)
        writer.add_ssm_state_size(c.state_size)
        writer.add_ssm_time_step_rank(c.num_heads)
        writer.add_ssm_group_count(c.n_groups)
        return
    dim = head_dim(c)
    writer.add_head_count(c.num_attention_heads)
    writer.add_key_length(dim)
    writer.add_value_length(dim)
    writer.add_rope_dimension_count(dim)
    writer.add_rope_freq_base(float((getattr(c, "rope_parameters", None) or {}).get("rope_theta", 10000.0)))
    if arch == "lfm2":
        writer.add_head_count_kv([c.num_key_value_heads if t == "full_attention" else 0 for t in c.layer_types])
        writer.add_shortconv_l_cache(c.conv_L_cache)
        writer.add_feed_forward_length(model.model.layers[0].feed_forward.w1.weight.shape[0])  # LFM2's adjusted width
    else:
        writer.add_head_count_kv(c.num_key_value_heads)
        writer.add_feed_forward_length(c.intermediate_size)


def tensors(model: torch.nn.Module, arch: str) -> list[tuple[str, torch.Tensor]]:
    """(llama.cpp name, tensor in llama.cpp's layout) for every parameter, tied ones once."""
    import gguf

    config = model.config
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], config.num_hidden_layers)
    out = []
    for hf_name, param in model.named_parameters(remove_duplicate=True):  # a tied weight once
        t = param.detach().float().cpu()
        if hf_name.endswith(".dt_bias"):
            hf_name = hf_name[: -len("dt_bias")] + "dt_proj.bias"
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ValueError(f"no llama.cpp name for {hf_name} ({arch})")
        if arch == "mamba2":
            if hf_name.endswith(".A_log"):
                t = -torch.exp(t).reshape(-1, 1)
            elif hf_name.endswith(".D"):
                t = t.reshape(-1, 1)
            elif ".conv1d.weight" in hf_name:
                t = t.squeeze(1)
            elif hf_name.endswith("mixer.norm.weight"):
                t = t.reshape(config.n_groups, -1)
        elif arch == "lfm2" and ".conv.conv.weight" in hf_name:
            t = t.squeeze(1)
        elif arch == "llama" and (".q_proj." in hf_name or ".k_proj." in hf_name):
            heads = config.num_attention_heads if ".q_proj." in hf_name else config.num_key_value_heads
            t = _interleave_rotary(t, heads)
        out.append((name, t))
    return out


def write_gguf(model: torch.nn.Module, path: Path, file_type: str = "f32") -> dict[str, Any]:
    """Write `model` as a GGUF (`file_type` f32 or f16; llama.cpp's quantizer makes the others
    from the f32 file). Returns {"arch", "params", "tensors"}: params as transformers counts them."""
    import gguf

    config = model.config
    arch = check_supported(config.model_type, config.model_type)
    vocab = model.get_input_embeddings().weight.shape[0]
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(f"charsuite random-weight {config.model_type}")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if file_type == "f32" else gguf.LlamaFileType.MOSTLY_F16)
    _metadata(writer, arch, config, model, vocab)
    params = 0
    written = tensors(model, arch)
    if arch == "llama" and (factors := _llama3_rope_factors(config)) is not None:
        written.append(("rope_freqs.weight", factors))  # a constant of the RoPE, not a parameter
    for name, t in written:
        if name != "rope_freqs.weight":
            params += t.numel()
        keep_f32 = file_type == "f32" or t.ndim == 1 or any(k in name for k in ALWAYS_F32)
        writer.add_tensor(name, t.numpy().astype(np.float32 if keep_f32 else np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"arch": arch, "params": params, "tensors": len(written)}
