"""The transformers engine: a zoo entry's config class with random weights (offline, the
default) or the hub checkpoint (`model.weights=pretrained`), run eager, compiled
(torch.compile of the forward, transformers' static cache) or with the decode step
replayed from a CUDA graph (engines/cudagraph.py).

transformers 5.x names the cache argument `cache`; the old `past_key_values` is
swallowed by **kwargs on Mamba2 and decodes from scratch (the guard catches that).
"""

from __future__ import annotations

from typing import Any

import torch
import transformers

from charsuite.config import ConfigError, ModelConfig
from charsuite.engines.base import ModuleEngine
from charsuite.engines.hf_configs import hf_config
from charsuite.errors import one_line
from charsuite.trackers.memory import tensor_bytes

RECOMPILE_LIMIT = 256  # dynamo's accumulated limit; a static cache of a new length recompiles the forward
TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def build(spec: ModelConfig, device: str | torch.device = "cpu") -> torch.nn.Module:
    """An eval-mode causal LM on `device` in `spec.dtype`: random weights from the config,
    or the pretrained ones from model.path or the hub."""
    kwargs: dict[str, Any] = {"dtype": TORCH_DTYPES[spec.dtype], "trust_remote_code": spec.trust_remote_code}
    if spec.attn_implementation:
        kwargs["attn_implementation"] = spec.attn_implementation
    if spec.weights == "pretrained":
        if spec.path:
            hf_config(spec)  # the remote-code gate, before anything loads
        # transformers >= 5.25 kernelizes a pretrained model with hub kernels unless told not to (use_kernels
        # defaults to True there; 5.24 pops it, default False): charsuite measures the path it resolved and records
        model = transformers.AutoModelForCausalLM.from_pretrained(spec.source, use_kernels=False, **kwargs).to(device)
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
    config = hf_config(spec)
    try:
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(config, dtype=TORCH_DTYPES[spec.dtype],
                                                                  trust_remote_code=spec.trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - a folder's config transformers reads but cannot build (a nested one)
        if spec.path is None:
            raise
        raise ConfigError(f"model.path={spec.path}: transformers cannot build a model from its config.json "
                          f"({one_line(exc)[:160]})") from None
    seen: set[int] = set()
    buffers = 0
    for b in model.buffers():
        if id(b) not in seen:
            seen.add(id(b))
            buffers += b.numel() * b.element_size()
    return count_params(model), buffers


# Families whose recurrent states live on their modules, not in the cache object transformers
# returns (RecurrentGemma keeps conv and RG-LRU states on its blocks and returns no cache):
# the engine passes its own cache in and counts the modules' states beside it.
STATE_IN_MODULES = ("recurrent_gemma",)
MODULE_STATES = ("conv1d_state", "recurrent_states")


def cache_bytes(cache: Any) -> dict[str, int]:
    """Bytes of attention KV tensors and recurrent (conv + recurrent: SSM, DeltaNet, short
    conv, xLSTM) states in a cache."""
    kv = ssm = 0
    for states in (getattr(cache, "rnn_state", None) or {}).values():  # xLSTM: (C, n, m) per layer
        ssm += sum(tensor_bytes(t) for t in states)
    for layer in getattr(cache, "layers", []) or []:
        kv += tensor_bytes(getattr(layer, "keys", None)) + tensor_bytes(getattr(layer, "values", None))
        for name in ("conv_states", "recurrent_states"):
            states = getattr(layer, name, None)
            if isinstance(states, dict):
                ssm += sum(tensor_bytes(t) for t in states.values())
            else:
                ssm += tensor_bytes(states)
    return {"kv_cache": kv, "ssm_state": ssm}


def module_state_bytes(model: torch.nn.Module) -> int:
    """Recurrent states kept on a model's modules (STATE_IN_MODULES)."""
    return sum(tensor_bytes(getattr(m, name, None)) for m in model.modules() for name in MODULE_STATES
               if isinstance(getattr(m, name, None), torch.Tensor))


def _cache_of(out: Any, passed: Any = None) -> Any:
    """The cache a forward returns, or the one passed in where the model returns none."""
    cache = getattr(out, "cache", None)
    cache = getattr(out, "past_key_values", None) if cache is None else cache
    return passed if cache is None else cache


class TransformersEngine(ModuleEngine):
    name = "transformers"

    @classmethod
    def preflight(cls, run: Any) -> None:
        """llama.cpp's own settings asked of transformers: one line each, before anything runs."""
        if run.model.gguf:
            raise ConfigError(f"model.gguf={run.model.gguf} is a llama.cpp file; add engine=llamacpp "
                              "(transformers builds the model from its config)")
        if run.model.quant:
            raise ConfigError(f"model.quant={run.model.quant} is a llama.cpp weight type; add engine=llamacpp "
                              "(transformers runs the weights in model.dtype)")

    def __init__(self, spec: ModelConfig, device: torch.device, mode: str = "eager", bind_reference: bool = True,
                 **_: Any):
        """`bind_reference=False`: leave the modeling module's kernel globals alone (a dry-run switches
        them for its own block and puts them back); a worker's process runs one path for its life."""
        from charsuite.engines import kernel_paths

        self.spec, self.device, self.mode = spec, device, mode
        self.impl = kernel_paths.resolve(spec.impl, device.type)
        self.model = build(spec, device)
        if self.impl == "reference" and bind_reference:
            kernel_paths.use_reference(self.model.config.model_type)
        self.params = count_params(self.model)
        self.vocab_size = self.model.get_input_embeddings().num_embeddings
        emb = getattr(getattr(self.model, "transformer", None), "wpe", None)  # learned absolute positions
        self.max_positions = emb.num_embeddings if emb is not None else None
        self.forward = self.model.forward
        if mode == "compile":
            # past dynamo's recompile limit a frame silently runs eager again: an error here instead,
            # so no compiled-mode line is an eager measurement
            torch._dynamo.config.recompile_limit = RECOMPILE_LIMIT
            torch._dynamo.config.fail_on_recompile_limit_hit = True
            self.forward = torch.compile(self.model.forward)
        self.graphs = None
        if mode != "eager":
            self.static_cache(1)  # a family transformers has no static cache for says so now, in one line
        if mode == "cudagraph":
            from charsuite.engines.cudagraph import GraphedDecode

            self.graphs = GraphedDecode(self.model, device)

    def static_cache(self, length: int) -> Any:
        """transformers' static cache of `length` positions (compile and cudagraph modes), or a
        one-line error naming the family where transformers has none for it."""
        try:
            return transformers.StaticCache(config=self.model.config, max_cache_len=length)
        except Exception as exc:  # noqa: BLE001 - any refusal is the family's, said in one line
            raise ConfigError(f"workload.mode={self.mode} needs transformers' static cache, which {self.spec.name} "
                              f"({self.model.config.model_type}) does not support: {' '.join(str(exc).split())}; "
                              "use workload.mode=eager") from None

    def own_cache(self) -> Any:
        """The cache the engine passes in itself, for a model that returns none (STATE_IN_MODULES);
        None where the model makes and returns its own."""
        if self.model.config.model_type in STATE_IN_MODULES:
            return transformers.DynamicCache(config=self.model.config)
        return None

    def position_ids(self, positions: torch.Tensor) -> dict[str, torch.Tensor]:
        """Explicit position ids for the models whose own count goes wrong: transformers 5.25's RecurrentGemma
        takes positions from `cache.get_seq_length()`, which reads layer 0 - a recurrent layer, always 0 - so a
        decode step ran at position 0 and reset its recurrence (the guard caught it: |dlogit| 0.27-0.49)."""
        return {"position_ids": positions[None]} if self.model.config.model_type in STATE_IN_MODULES else {}

    @torch.inference_mode()
    def prefill(self, input_ids: torch.Tensor, logits: str = "last", chunk: int | None = None,
                reserve: int = 0) -> tuple[torch.Tensor, Any, torch.Tensor]:
        n = input_ids.shape[1]
        cache = self.static_cache(n + reserve) if self.mode != "eager" else self.own_cache()
        step = chunk or n
        for start in range(0, n, step):
            ids = input_ids[:, start:start + step]
            kwargs: dict[str, Any] = {}
            if cache is not None:  # carried between chunks, at the chunk's positions
                positions = torch.arange(start, start + ids.shape[1], device=ids.device)
                kwargs = {"cache": cache, "cache_position": positions, **self.position_ids(positions)}
            out_logits = None  # the previous chunk's logits are freed before the next chunk runs
            out = self.forward(input_ids=ids, use_cache=True, logits_to_keep=1 if logits == "last" else 0, **kwargs)
            out_logits, cache = out.logits, _cache_of(out, cache)
            del out
        first = out_logits[:, -1].argmax(dim=-1, keepdim=True)
        return out_logits, cache, first

    @torch.inference_mode()
    def decode_step(self, token: torch.Tensor, cache: Any, position: int) -> tuple[torch.Tensor, Any]:
        if self.graphs is not None:
            return self.graphs.step(token, cache, position), cache
        pos = torch.tensor([position], device=token.device)
        out = self.forward(input_ids=token, cache=cache, use_cache=True, cache_position=pos, logits_to_keep=1,
                           **self.position_ids(pos))
        return out.logits, _cache_of(out, cache)

    def cache_bytes(self, cache: Any) -> dict[str, int]:
        found = cache_bytes(cache)
        if self.model.config.model_type in STATE_IN_MODULES:
            found["ssm_state"] += module_state_bytes(self.model)
        return found

    def implementations(self) -> dict[str, str | None]:
        """The attention and SSM code paths: what the modeling module's kernel globals call
        now (the module each resolves to), not what was asked for."""
        from charsuite.engines import kernel_paths

        attn = getattr(self.model.config, "_attn_implementation", None)
        ssm = kernel_paths.observed(self.model.config.model_type)
        return {"attn_implementation": attn, "ssm_implementation": ssm, "mode": self.mode}

    def observe(self) -> dict[str, Any]:
        """A 16-token prefill and one decode step, eager, watched (provenance.py): what the
        mixers' kernel wrappers dispatched to, the attention function, the SDPA backend.
        Compiled and graph-replayed runs trace or capture this same Python code."""
        from charsuite.engines import kernel_paths
        from charsuite.engines.provenance import candidates, watch

        model_type = self.model.config.model_type
        targets = {}
        if model_type in kernel_paths.KERNEL_GLOBALS:
            targets = candidates(kernel_paths.modeling_module(model_type), kernel_paths.KERNEL_GLOBALS[model_type])
        ids = torch.randint(0, self.vocab_size, (1, 17), generator=torch.Generator().manual_seed(0)).to(self.device)
        with torch.inference_mode(), watch(targets) as seen:
            passed = self.own_cache()
            out = self.model(input_ids=ids[:, :16], cache=passed, use_cache=True, logits_to_keep=1)
            self.model(input_ids=ids[:, 16:], cache=_cache_of(out, passed), use_cache=True,
                       cache_position=torch.tensor([16], device=self.device), logits_to_keep=1)
        return seen.as_impl()
