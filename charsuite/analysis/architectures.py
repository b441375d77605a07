"""What each architecture's layers are, read from its transformers config: which layers
attend (and keep a KV cache), which run an SSM mixer (and keep conv + recurrent state),
and the shapes of both. The one place that knows each model_type's config fields."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    hidden: int
    vocab: int
    intermediate: int
    attention_layers: int
    kv_heads: int
    head_dim: int
    q_heads: int
    ssm_layers: int
    ssm_kind: str | None        # the recurrent mixer: a key of MIXERS, or None
    d_inner: int                # SSM inner width (heads x head dim for Mamba-2)
    d_state: int
    d_conv: int
    ssm_groups: int
    ssm_heads: int
    mlp_layers: int
    chunk: int
    attention_window: int | None = None  # local attention (GPT-Neo) keeps the whole cache anyway
    gated_norm: bool = True     # the Mamba-2 mixer's gated RMSNorm (Falcon-H1 can do without)
    mlp_tensors: int = 3        # intermediate-sized tensors an MLP holds at once
    moe_top_k: int = 0          # experts per token in a mixture-of-experts MLP (0: dense)
    attention_before_last_ssm: int | None = None  # attention layers that run before the last SSM layer (None: all)
    hidden_copies: int = 3      # hidden-size tensors a layer keeps alive (residual, normed input, output)
    kv_window: int | None = None  # most tokens a sliding-window KV cache keeps (RecurrentGemma); None: all
    mixer_tokens: int | None = None  # tokens a mixer runs at once (xLSTM's max_inference_chunksize); None: all


# The recurrent token mixers, by the name `mixers` gives them. Their states in the layout's
# terms: conv state (d_inner [+ 2 x groups x d_state]) x d_conv; recurrent state d_inner x d_state.
MIXERS = {"mamba1": "mamba", "mamba2": "mamba2", "gated_deltanet": "gated_deltanet", "short_conv": "short_conv",
          "rglru": "rg_lru", "mlstm": "mlstm"}


def mixers(lay: Layout) -> dict[str, int]:
    """The token mixers present and their layer counts, e.g. {mamba2: 27, attention: 4}
    (a layer with both, as in Falcon-H1, counts in both)."""
    out = {}
    if lay.ssm_layers:
        out[MIXERS[lay.ssm_kind]] = lay.ssm_layers
    if lay.attention_layers:
        out["attention"] = lay.attention_layers
    return out


def _attn(cfg, heads_attr="num_attention_heads", kv_attr="num_key_value_heads"):
    heads = getattr(cfg, heads_attr)
    kv = getattr(cfg, kv_attr, None) or heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return heads, kv, head_dim


def layout(cfg) -> Layout:
    t = cfg.model_type
    h = cfg.hidden_size
    base = dict(hidden=h, vocab=cfg.vocab_size, intermediate=getattr(cfg, "intermediate_size", None) or 4 * h,
                attention_layers=0, kv_heads=0, head_dim=0, q_heads=0, ssm_layers=0, ssm_kind=None, d_inner=0,
                d_state=0, d_conv=0, ssm_groups=1, ssm_heads=0, mlp_layers=0, chunk=256)
    if t in ("qwen2", "llama", "phi3", "mistral"):
        heads, kv, hd = _attn(cfg)
        return Layout(**{**base, "attention_layers": cfg.num_hidden_layers, "kv_heads": kv, "head_dim": hd,
                         "q_heads": heads, "mlp_layers": cfg.num_hidden_layers})
    if t == "gpt_neo":
        heads = cfg.num_heads
        return Layout(**{**base, "attention_layers": cfg.num_layers, "kv_heads": heads, "head_dim": h // heads,
                         "q_heads": heads, "mlp_layers": cfg.num_layers, "attention_window": cfg.window_size})
    if t == "mamba":
        return Layout(**{**base, "ssm_layers": cfg.num_hidden_layers, "ssm_kind": "mamba1",
                         "d_inner": cfg.intermediate_size, "d_state": cfg.state_size, "d_conv": cfg.conv_kernel,
                         "hidden_copies": 4})  # a float32 residual (two half-width copies' worth) and two more
    if t == "mamba2":
        return Layout(**{**base, "ssm_layers": cfg.num_hidden_layers, "ssm_kind": "mamba2",
                         "d_inner": cfg.num_heads * cfg.head_dim, "d_state": cfg.state_size,
                         "d_conv": cfg.conv_kernel, "ssm_groups": cfg.n_groups, "ssm_heads": cfg.num_heads,
                         "chunk": cfg.chunk_size})
    if t == "falcon_h1":
        heads, kv, hd = _attn(cfg)
        n = cfg.num_hidden_layers
        return Layout(**{**base, "attention_layers": n, "kv_heads": kv, "head_dim": hd, "q_heads": heads,
                         "ssm_layers": n, "ssm_kind": "mamba2", "d_inner": cfg.mamba_d_ssm,
                         "d_state": cfg.mamba_d_state, "d_conv": cfg.mamba_d_conv, "ssm_groups": cfg.mamba_n_groups,
                         "ssm_heads": cfg.mamba_n_heads, "mlp_layers": n, "chunk": cfg.mamba_chunk_size,
                         "gated_norm": bool(getattr(cfg, "mamba_rms_norm", True))})
    if t == "zamba2":
        kinds = list(cfg.layers_block_type)
        hybrid = kinds.count("hybrid")
        heads = cfg.num_attention_heads
        return Layout(**{**base, "attention_layers": hybrid, "kv_heads": cfg.num_key_value_heads or heads,
                         "head_dim": cfg.attention_head_dim, "q_heads": heads, "ssm_layers": len(kinds),
                         "ssm_kind": "mamba2", "d_inner": cfg.mamba_expand * h, "d_state": cfg.mamba_d_state,
                         "d_conv": cfg.mamba_d_conv, "ssm_groups": cfg.mamba_ngroups, "ssm_heads": cfg.n_mamba_heads,
                         "mlp_layers": hybrid, "chunk": cfg.chunk_size,
                         "mlp_tensors": 6,  # gate_up + its adapter + their sum, each 2 x intermediate
                         "hidden_copies": 5})  # plus the original embeddings and the shared block's output
    if t == "bamba":
        heads, kv, hd = _attn(cfg)
        n, attn = cfg.num_hidden_layers, len(cfg.attn_layer_indices or [])
        d_inner = cfg.mamba_expand * h
        last_ssm = max((i for i in range(n) if i not in (cfg.attn_layer_indices or [])), default=-1)
        before = sum(1 for i in (cfg.attn_layer_indices or []) if i < last_ssm)
        return Layout(**{**base, "attention_layers": attn, "kv_heads": kv, "head_dim": hd, "q_heads": heads,
                         "ssm_layers": n - attn, "ssm_kind": "mamba2", "d_inner": d_inner,
                         "d_state": cfg.mamba_d_state, "d_conv": cfg.mamba_d_conv, "ssm_groups": cfg.mamba_n_groups,
                         "ssm_heads": cfg.mamba_n_heads, "mlp_layers": n, "chunk": cfg.mamba_chunk_size,
                         "attention_before_last_ssm": before})
    if t == "nemotron_h":
        kinds = list(cfg.layers_block_type)
        heads = cfg.num_attention_heads
        attn = sum(k in ("attention", "full_attention") for k in kinds)
        ssm = sum(k in ("mamba", "linear_attention") for k in kinds)
        last_ssm = max((i for i, k in enumerate(kinds) if k in ("mamba", "linear_attention")), default=-1)
        before = sum(k in ("attention", "full_attention") for k in kinds[:last_ssm])
        return Layout(**{**base, "attention_layers": attn, "kv_heads": cfg.num_key_value_heads,
                         "head_dim": cfg.head_dim, "q_heads": heads, "ssm_layers": ssm,
                         "ssm_kind": "mamba2", "d_inner": cfg.mamba_num_heads * cfg.mamba_head_dim,
                         "d_state": cfg.ssm_state_size, "d_conv": cfg.conv_kernel, "ssm_groups": cfg.n_groups,
                         "ssm_heads": cfg.mamba_num_heads, "mlp_layers": kinds.count("mlp") + kinds.count("moe"),
                         "chunk": cfg.chunk_size, "attention_before_last_ssm": before})
    if t == "jamba":
        n = cfg.num_hidden_layers
        attn = sum(1 for i in range(n) if i % cfg.attn_layer_period == cfg.attn_layer_offset)
        heads, kv, hd = _attn(cfg)
        return Layout(**{**base, "attention_layers": attn, "kv_heads": kv, "head_dim": hd, "q_heads": heads,
                         "ssm_layers": n - attn, "ssm_kind": "mamba1", "d_inner": cfg.mamba_expand * h,
                         "d_state": cfg.mamba_d_state, "d_conv": cfg.mamba_d_conv, "mlp_layers": n,
                         "moe_top_k": cfg.num_experts_per_tok if cfg.num_experts > 1 else 0})
    return _layout_2026(cfg, base)


def _layout_2026(cfg, base: dict):
    """The 2026 zoo's mixers: gated DeltaNet (Qwen3.5), short convolutions (LFM2), Mamba-2 with
    MoE (Granite-4.0-H), Mamba-1 (Falcon-Mamba), RG-LRU (RecurrentGemma) and mLSTM (xLSTM)."""
    t, h = cfg.model_type, cfg.hidden_size
    if t == "qwen3_5_text":
        kinds = list(cfg.layer_types)
        attn, linear = kinds.count("full_attention"), kinds.count("linear_attention")
        last = max((i for i, k in enumerate(kinds) if k == "linear_attention"), default=-1)
        heads, kv, hd = _attn(cfg)
        return Layout(**{**base, "attention_layers": attn, "kv_heads": kv, "head_dim": hd, "q_heads": heads,
                         "ssm_layers": linear, "ssm_kind": "gated_deltanet",
                         "d_inner": cfg.linear_num_value_heads * cfg.linear_value_head_dim,
                         "d_state": cfg.linear_key_head_dim, "d_conv": cfg.linear_conv_kernel_dim,
                         "ssm_groups": cfg.linear_num_key_heads, "ssm_heads": cfg.linear_num_value_heads,
                         "mlp_layers": len(kinds), "chunk": 64,
                         "attention_before_last_ssm": kinds[:last].count("full_attention")})
    if t == "lfm2":
        n = cfg.num_hidden_layers
        attn_idx = list(cfg.full_attn_idxs or [])
        heads, kv, hd = _attn(cfg)
        last = max((i for i in range(n) if i not in attn_idx), default=-1)
        ff = cfg.intermediate_size  # the MLP's width as Lfm2MLP derives it
        if cfg.block_auto_adjust_ff_dim:
            ff = int(2 * ff / 3)
            if cfg.block_ffn_dim_multiplier is not None:
                ff = int(cfg.block_ffn_dim_multiplier * ff)
                ff = cfg.block_multiple_of * ((ff + cfg.block_multiple_of - 1) // cfg.block_multiple_of)
        return Layout(**{**base, "attention_layers": len(attn_idx), "kv_heads": kv, "head_dim": hd, "q_heads": heads,
                         "ssm_layers": n - len(attn_idx), "ssm_kind": "short_conv", "d_inner": h, "intermediate": ff,
                         "d_conv": cfg.conv_L_cache, "mlp_layers": n,
                         "attention_before_last_ssm": sum(1 for i in attn_idx if i < last)})
    if t == "granitemoehybrid":  # the config spells its kinds mamba/attention, stores them as below
        kinds = ["attention" if k in ("attention", "full_attention") else "mamba" for k in cfg.layer_types]
        attn = kinds.count("attention")
        last = max((i for i, k in enumerate(kinds) if k == "mamba"), default=-1)
        heads, kv, hd = _attn(cfg)
        d_inner = cfg.mamba_n_heads * cfg.mamba_d_head
        return Layout(**{**base, "attention_layers": attn, "kv_heads": kv, "head_dim": hd, "q_heads": heads,
                         "ssm_layers": len(kinds) - attn, "ssm_kind": "mamba2", "d_inner": d_inner,
                         "d_state": cfg.mamba_d_state, "d_conv": cfg.mamba_d_conv, "ssm_groups": cfg.mamba_n_groups,
                         "ssm_heads": cfg.mamba_n_heads, "mlp_layers": len(kinds), "chunk": cfg.mamba_chunk_size,
                         "intermediate": cfg.shared_intermediate_size,
                         "moe_top_k": cfg.num_experts_per_tok if cfg.num_local_experts else 0,
                         "attention_before_last_ssm": kinds[:last].count("attention")})
    if t == "falcon_mamba":
        return Layout(**{**base, "ssm_layers": cfg.num_hidden_layers, "ssm_kind": "mamba1",
                         "d_inner": cfg.intermediate_size, "d_state": cfg.state_size, "d_conv": cfg.conv_kernel,
                         "hidden_copies": 4})
    if t == "recurrent_gemma":
        kinds = list(cfg.layers_block_type)  # linear_attention (RG-LRU) | sliding_attention (local attention)
        attn = sum("attention" in k and k != "linear_attention" for k in kinds)
        heads, kv, hd = _attn(cfg)
        return Layout(**{**base, "attention_layers": attn, "kv_heads": kv, "head_dim": hd, "q_heads": heads,
                         "ssm_layers": len(kinds) - attn, "ssm_kind": "rglru", "d_inner": cfg.lru_width,
                         "d_state": 1, "d_conv": cfg.conv1d_width - 1, "mlp_layers": len(kinds),
                         "intermediate": cfg.intermediate_size // 2,  # RecurrentGemmaMlp halves it
                         "kv_window": cfg.attention_window_size - 1})
    if t == "xlstm":
        return Layout(**{**base, "ssm_layers": cfg.num_hidden_layers, "ssm_kind": "mlstm",
                         "d_inner": cfg.num_heads * cfg.v_head_dim, "d_state": cfg.qk_head_dim,
                         "ssm_heads": cfg.num_heads, "mlp_layers": cfg.num_hidden_layers,
                         "intermediate": cfg.hidden_size * 8 // 3, "chunk": cfg.chunk_size,
                         "mixer_tokens": cfg.max_inference_chunksize})
    raise ValueError(f"no memory layout for model_type {t!r}")
