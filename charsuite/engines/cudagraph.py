"""The decode step captured once in a CUDA graph and replayed (workload.mode=cudagraph).

Small models decode launch-bound: mamba-ssm's own `decode(cg=True)` captures one graph per
batch size after warm-up steps and replays it (users report ~10x over eager,
transformers issue 29699). Here the same for a transformers model: the token and position
live in fixed buffers, the cache is transformers' static cache (every update in place), and
a new cache - a new point's prefill - means a new capture. CUDA only; the worker refuses
the mode elsewhere before it gets here. Capture time is the compile call's (measure.py),
never inside latency.
"""

from __future__ import annotations

from typing import Any

import torch

WARMUP_STEPS = 2  # eager steps on a side stream before capture, as torch.cuda.graphs asks


class GraphedDecode:
    def __init__(self, model: torch.nn.Module, device: torch.device):
        if device.type != "cuda":
            from charsuite.errors import ConfigError

            raise ConfigError("workload.mode=cudagraph needs a CUDA device; use workload.mode=eager or compile here")
        self.model, self.device = model, device
        self.cache: Any = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.token: torch.Tensor | None = None
        self.position: torch.Tensor | None = None
        self.logits: torch.Tensor | None = None

    def _forward(self) -> torch.Tensor:
        out = self.model(input_ids=self.token, cache=self.cache, use_cache=True, cache_position=self.position,
                         logits_to_keep=1)
        return out.logits

    def capture(self, cache: Any, token: torch.Tensor, position: int) -> None:
        """Warm up on a side stream, then record one step. The warm-up steps write the KV slot at
        `position` (the first replay writes it again) and advance the recurrent and conv
        states, which are put back as they were before the capture."""
        self.cache, self.token = cache, token.clone()
        self.position = torch.tensor([position], device=self.device)
        saved = _recurrent_tensors(cache)
        copies = [t.clone() for t in saved]
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                self._forward()
        torch.cuda.current_stream(self.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.logits = self._forward()
        for t, c in zip(saved, copies):
            t.copy_(c)

    def step(self, token: torch.Tensor, cache: Any, position: int) -> torch.Tensor:
        if self.graph is None or cache is not self.cache or token.shape != self.token.shape:
            self.capture(cache, token, position)
        self.token.copy_(token)
        self.position.fill_(position)
        self.graph.replay()
        return self.logits


def _recurrent_tensors(cache: Any) -> list[torch.Tensor]:
    """The conv and recurrent state tensors of a cache (updated in place by each step)."""
    out = []
    for layer in getattr(cache, "layers", []) or []:
        for name in ("conv_states", "recurrent_states"):
            states = getattr(layer, name, None)
            values = states.values() if isinstance(states, dict) else [states]
            out += [t for t in values if isinstance(t, torch.Tensor)]
    return out
