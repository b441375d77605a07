"""mamba_ssm's own engine - the reference study's: `MambaLMHeadModel` built from the zoo's config
(engines/mamba_ssm_config.py, random weights), run the way mamba_ssm's `generate` runs it
(utils/generation.py decode): the prompt in one forward with an `InferenceParams` the mixers fill
with their conv and SSM states, `num_last_tokens` 1 (workload.logits=last) or 0 (all: the head
writes logits for every position in the model's dtype - float16's 2 bytes where transformers' heads
add a float32 copy), then one token per cached forward. `workload.mode=cudagraph` replays the decode
step from mamba_ssm's own CUDA graph (update_graph_cache, as its `generate(cg=True)` and its benchmark
do). Its kernels are CUDA and Triton only: on a machine without CUDA it runs as a dry-run
(simulate/mamba_ssm_dry.py), never measured.
"""

from __future__ import annotations

from typing import Any

import torch

from charsuite.config import ConfigError, ModelConfig
from charsuite.engines.base import ModuleEngine

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
INSTALL = "bash scripts/install_kernels.sh (mamba-ssm and causal-conv1d built for this GPU: docs/install.md)"
DRY_RUN_INSTALL = ("MAMBA_FORCE_BUILD=TRUE CAUSAL_CONV1D_FORCE_BUILD=TRUE MAMBA_SKIP_CUDA_BUILD=TRUE "
                   "CAUSAL_CONV1D_SKIP_CUDA_BUILD=TRUE pip install --no-build-isolation --no-deps triton==3.9.0 "
                   "einops==0.8.2 mamba-ssm==2.3.2.post1 causal-conv1d==1.7.0")


def import_mamba_ssm() -> Any:
    """mamba_ssm's model, cache and graph modules, or one line saying how to install them."""
    try:
        from mamba_ssm.models import config_mamba, mixer_seq_simple
        from mamba_ssm.utils import generation
    except ImportError as exc:
        raise ConfigError(f"engine=mamba_ssm needs mamba-ssm ({exc}); on a GPU box: {INSTALL}") from None
    return config_mamba, mixer_seq_simple, generation


def build_mamba_ssm(spec: ModelConfig, device: torch.device) -> torch.nn.Module:
    from charsuite.engines.mamba_ssm_config import mamba_config_kwargs

    config_mamba, mixer_seq_simple, _ = import_mamba_ssm()
    config = config_mamba.MambaConfig(**mamba_config_kwargs(spec))
    return mixer_seq_simple.MambaLMHeadModel(config, device=device, dtype=DTYPES[spec.dtype]).eval()


class MambaSsmEngine(ModuleEngine):
    name = "mamba_ssm"

    @classmethod
    def preflight(cls, run: Any) -> None:
        from charsuite.engines.mamba_ssm_config import check

        check(run.model)
        if run.device.kind != "cuda":
            raise ConfigError(f"engine=mamba_ssm runs mamba_ssm's CUDA and Triton kernels; device={run.device.name} "
                              "is not a CUDA device (a dry-run works anywhere: charsuite predict ... engine=mamba_ssm)")
        if run.workload.prefill_chunk:
            raise ConfigError("engine=mamba_ssm prefills in one forward, as mamba_ssm's generate does; "
                              "use workload.prefill_chunk=null")
        if run.workload.mode == "compile":
            raise ConfigError("engine=mamba_ssm runs eager or with its own CUDA-graph decode: "
                              "workload.mode=eager or cudagraph")
        if run.model.impl == "reference":
            raise ConfigError("engine=mamba_ssm runs mamba_ssm's kernels; model.impl=reference is transformers' "
                              "PyTorch path: use engine=transformers")
        if run.model.quant or run.model.gguf:
            raise ConfigError("model.quant and model.gguf are llama.cpp's; engine=mamba_ssm runs model.dtype")

    def __init__(self, spec: ModelConfig, device: torch.device, mode: str = "eager",
                 settings: dict[str, Any] | None = None, **_: Any):
        self.spec, self.device, self.mode = spec, device, mode
        # engine.prefill_cache=false: a prefill that no decode follows is the study's bare `model(input_ids)` -
        # no InferenceParams, so Mamba-2 takes its fused mamba_split_conv1d_scan_combined and Mamba its
        # mamba_inner_fn (the mixers' `inference_params is None` branch) and no state is kept
        self.prefill_cache = (settings or {}).get("prefill_cache", True)
        self.model = build_mamba_ssm(spec, device)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.vocab_size = self.model.backbone.embedding.num_embeddings
        self.graphs = None  # mamba_ssm's DecodingCGCache (workload.mode=cudagraph)

    def _params(self, batch: int, length: int) -> Any:
        _, _, generation = import_mamba_ssm()
        if self.mode != "cudagraph":
            return generation.InferenceParams(max_seqlen=length, max_batch_size=batch)
        # its generate(cg=True): a graph per (batch, 1) decode, captured for the longest length asked so far
        self.graphs = generation.update_graph_cache(self.model, self.graphs, batch, 0, length)
        params = self.graphs.inference_params
        params.reset(length, batch)
        return params

    @torch.inference_mode()
    def prefill(self, input_ids: torch.Tensor, logits: str = "last", chunk: int | None = None,
                reserve: int = 0) -> tuple[torch.Tensor, Any, torch.Tensor]:
        if chunk:
            raise ConfigError("engine=mamba_ssm prefills in one forward; use workload.prefill_chunk=null")
        b, n = input_ids.shape
        if not self.prefill_cache and not reserve:
            out = self.model(input_ids, num_last_tokens=1 if logits == "last" else 0).logits
            return out, None, out[:, -1].argmax(dim=-1, keepdim=True)
        params = self._params(b, n + reserve + 1)
        out = self.model(input_ids, inference_params=params, num_last_tokens=1 if logits == "last" else 0).logits
        params.seqlen_offset = n
        return out, params, out[:, -1].argmax(dim=-1, keepdim=True)

    @torch.inference_mode()
    def decode_step(self, token: torch.Tensor, cache: Any, position: int) -> tuple[torch.Tensor, Any]:
        cache.seqlen_offset = position
        positions = torch.full((token.shape[0], 1), position, dtype=torch.long, device=token.device)
        if self.graphs is not None:
            out = self.graphs.run(token, positions, position)
        else:
            out = self.model(token, position_ids=positions, inference_params=cache, num_last_tokens=1).logits
        cache.seqlen_offset = position + 1
        return out, cache

    def cache_bytes(self, cache: Any) -> dict[str, int]:
        """Each Mamba layer keeps (conv_state, ssm_state) in the InferenceParams' dict (mamba_simple.py and
        mamba2.py _get_states_from_cache); an attention layer (mha.py) a K/V tensor."""
        found = {"kv_cache": 0, "ssm_state": 0}
        for held in (cache.key_value_memory_dict.values() if cache is not None else ()):
            tensors = held if isinstance(held, tuple) else (held,)
            key = "ssm_state" if isinstance(held, tuple) else "kv_cache"
            found[key] += sum(t.untyped_storage().nbytes() for t in tensors if t is not None)
        return found

    def implementations(self) -> dict[str, str | None]:
        return {"attn_implementation": None, "ssm_implementation": "mamba_ssm", "mode": self.mode}

    def observe(self) -> dict[str, Any]:
        """What the mixers call, read where they look it up (their modules' globals, bound at import): the
        causal_conv1d kernels or, where that package is missing, the PyTorch conv; mamba_ssm's scans."""
        return mamba_ssm_paths(self.spec)


def mamba_ssm_paths(spec: ModelConfig) -> dict[str, str]:
    import importlib

    from charsuite.engines.mamba_ssm_config import LAYOUTS, model_type
    from charsuite.engines.provenance import REFERENCE, implementation_of

    mixer = importlib.import_module("mamba_ssm.modules." + ("mamba2" if LAYOUTS[model_type(spec)]["layer"] == "Mamba2"
                                                            else "mamba_simple"))
    out = {}
    for name in ("causal_conv1d_fn", "causal_conv1d_update", "selective_state_update"):
        fn = getattr(mixer, name, None)
        out[name] = implementation_of(fn.__module__) if fn is not None else REFERENCE
    scan = "mamba_chunk_scan_combined" if hasattr(mixer, "mamba_chunk_scan_combined") else "selective_scan_fn"
    out[scan] = implementation_of(getattr(mixer, scan).__module__)
    return out
