"""A zoo entry as mamba_ssm's MambaConfig: a field map per model type (data), read off the transformers
config the zoo builds, so that both engines build the same model from one entry.

The fixed settings are those of the state-spaces checkpoints' config.json (state-spaces/mamba-130m,
state-spaces/mamba2-780m: rms_norm, residual_in_fp32 and fused_add_norm true, d_intermediate 0 - no MLP
between mixers, attn_layer_idx empty); the vocabulary is the zoo's, already padded as the checkpoints pad
it (8 for Mamba, 16 for Mamba-2), so mamba_ssm's own padding leaves it as it is.
"""

from __future__ import annotations

from typing import Any

from charsuite.config import ConfigError, ModelConfig

COMMON = {"d_model": "hidden_size", "n_layer": "num_hidden_layers", "vocab_size": "vocab_size",
          "tie_embeddings": "tie_word_embeddings"}
LAYOUTS: dict[str, dict[str, Any]] = {
    "mamba": {"layer": "Mamba1", "pad": 8,
              "ssm": {"d_state": "state_size", "d_conv": "conv_kernel", "expand": "expand"}},
    "mamba2": {"layer": "Mamba2", "pad": 16,
               "ssm": {"d_state": "state_size", "d_conv": "conv_kernel", "expand": "expand", "headdim": "head_dim",
                       "ngroups": "n_groups", "chunk_size": "chunk_size"}},
}
FIXED = {"d_intermediate": 0, "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": True, "residual_in_fp32": True,
         "fused_add_norm": True}


def model_type(spec: ModelConfig) -> str:
    import transformers

    return getattr(transformers, spec.config_class).model_type


def check(spec: ModelConfig) -> None:
    """One line where mamba_ssm has no model of this entry's layout."""
    kind = model_type(spec)
    if kind not in LAYOUTS:
        raise ConfigError(f"engine=mamba_ssm builds mamba_ssm's MambaLMHeadModel, which has Mamba and Mamba-2 "
                          f"layers only; {spec.name} is {kind}: use engine=transformers")
    if spec.weights == "pretrained":
        raise ConfigError("engine=mamba_ssm builds the zoo's config with random weights; model.weights=pretrained "
                          "is the transformers engine's")


def mamba_config_kwargs(spec: ModelConfig) -> dict[str, Any]:
    """MambaConfig's keyword arguments for this zoo entry and size."""
    from charsuite.engines.hf_configs import hf_config

    check(spec)
    hf = hf_config(spec)
    layout = LAYOUTS[hf.model_type]
    out = {k: getattr(hf, attr) for k, attr in COMMON.items()}
    ssm = {"layer": layout["layer"], **{k: getattr(hf, attr) for k, attr in layout["ssm"].items()}}
    return {**out, **FIXED, "ssm_cfg": ssm, "pad_vocab_size_multiple": layout["pad"]}
