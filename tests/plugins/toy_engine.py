"""A toy engine that charsuite knows only through the `charsuite.engines` entry point (tests/plugins/
toy_engine-0.1.dist-info): a bag-of-tokens model - logits from the running mean of the tokens' embeddings - whose
cache is that sum, so its cached decode equals a full forward (tests/integration/test_engine_plugin.py)."""

from __future__ import annotations

from typing import Any

import torch

from charsuite.engines import EngineSpec
from charsuite.engines.base import Engine

SPEC = EngineSpec("toy_engine", "ToyEngine")


class ToyEngine(Engine):
    name = "toy"

    def __init__(self, spec: Any, device: torch.device, mode: str = "eager", **_: Any):
        torch.manual_seed(0)
        self.device, self.mode = device, mode
        self.vocab_size = 512
        self.embed = torch.nn.Embedding(self.vocab_size, 32, device=device)
        self.head = torch.nn.Linear(32, self.vocab_size, device=device)
        self.params = sum(p.numel() for m in (self.embed, self.head) for p in m.parameters())

    @torch.inference_mode()
    def prefill(self, input_ids, logits="last", chunk=None, reserve=0):
        h = self.embed(input_ids)
        total = h.sum(dim=1)
        n = input_ids.shape[1]
        if logits == "last":
            out = self.head(total / n)[:, None]
        else:
            out = self.head(h.cumsum(dim=1) / torch.arange(1, n + 1, device=h.device)[None, :, None])
        return out, {"sum": total, "n": n}, out[:, -1].argmax(dim=-1, keepdim=True)

    @torch.inference_mode()
    def decode_step(self, token, cache, position):
        total = cache["sum"] + self.embed(token)[:, 0]
        return self.head(total / (cache["n"] + 1))[:, None], {"sum": total, "n": cache["n"] + 1}

    def cache_bytes(self, cache):
        return {"kv_cache": 0, "ssm_state": cache["sum"].untyped_storage().nbytes()}

    def weight_bytes(self):
        return sum(p.numel() * p.element_size() for m in (self.embed, self.head) for p in m.parameters())

    def implementations(self):
        return {"attn_implementation": None, "ssm_implementation": None, "mode": self.mode}
