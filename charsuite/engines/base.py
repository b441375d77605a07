"""What an inference engine must do for charsuite to measure it.

The worker holds one Engine; the stopwatch (measure.py) times its `prefill` and
`decode_step`; the trackers wrap them. Nothing above the worker knows which engine runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class Engine(ABC):
    """One built model on one device."""

    name: str = "base"
    params: int = 0            # parameters of the built model
    vocab_size: int = 0
    max_positions: int | None = None   # a hard length limit (learned absolute positions), else None

    @abstractmethod
    def prefill(self, input_ids: Any, logits: str = "last") -> tuple[Any, Any, Any]:
        """Forward over the prompt: (logits, cache, first generated token). `logits`:
        `last` keeps the last position's logits only, `all` every position."""

    @abstractmethod
    def decode_step(self, token: Any, cache: Any, position: int) -> tuple[Any, Any]:
        """One cached forward over one token at `position`: (logits, cache)."""

    @abstractmethod
    def cache_bytes(self, cache: Any) -> dict[str, int]:
        """{"kv_cache": bytes of attention K/V, "ssm_state": bytes of conv + recurrent states}."""

    @abstractmethod
    def weight_bytes(self) -> int:
        """Bytes of parameters and buffers as built."""

    @abstractmethod
    def implementations(self) -> dict[str, str | None]:
        """The attention and mixer code paths this engine runs."""

    def profiled_module(self) -> Any:
        """The object profiling scopes hook into (a torch nn.Module), or None."""
        return None
