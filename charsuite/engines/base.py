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
    mode: str = "eager"        # how the forward runs: eager | compile | cudagraph (workload.mode)
    params: int = 0            # parameters of the built model
    vocab_size: int = 0
    max_positions: int | None = None   # a hard length limit (learned absolute positions), else None
    torch_tensors: bool = True  # its memory is torch tensors (torch's memory profiler reads their live peak)
    threads: int | None = None  # threads of its own compute pool, where it does not compute on torch's

    @classmethod
    def prepare(cls, run: Any) -> dict[str, str]:
        """Run once in the driver before any worker: refuse what the engine cannot run (ConfigError)
        and make the files its workers load. Returns {name: path} for the worker's setup."""
        return {}

    @classmethod
    def preflight(cls, run: Any) -> None:
        """What this engine refuses whatever the model (a missing library, settings it does not take):
        ConfigError, in the CLI's pre-check, before any folder or model exists."""
        return None

    @classmethod
    def crash_hint(cls, files: dict[str, str]) -> str | None:
        """What to try when a worker running this engine died of a signal (a crash of the engine's own
        code, with the setting known to avoid it), or None."""
        return None

    def guard_tolerance(self, tol: float) -> float:
        """The |dlogit| the correctness guard allows this engine: the run's tolerance, widened
        only where the engine's own cache stores values in fewer bits than the model computes."""
        return tol

    def take_perf(self) -> list[tuple[str, float]]:
        """The engine's own clock since the last take: (phase, seconds) per prefill or decode
        call, where the engine keeps one (llama.cpp's perf counters); else empty."""
        return []

    @abstractmethod
    def prefill(self, input_ids: Any, logits: str = "last", chunk: int | None = None,
                reserve: int = 0) -> tuple[Any, Any, Any]:
        """Forward over the prompt: (logits, cache, first generated token). `logits`:
        `last` keeps the last position's logits only, `all` every position (of the last chunk).
        `chunk`: feed the prompt `chunk` tokens at a time, the cache carried between chunks.
        `reserve`: positions the cache must hold beyond the prompt (a static cache's decode room)."""

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

    def observe(self) -> dict[str, Any]:
        """What actually runs, watched while a short prefill and a decode step execute:
        {mixer function: implementation, ..., "attention": ..., "sdpa_backend": ...}."""
        return {}

    def profiled_module(self) -> Any:
        """The object profiling scopes hook into (a torch nn.Module), or None."""
        return None


class ModuleEngine(Engine):
    """An engine whose model is one torch module (`self.model`): its weights are the module's parameters and
    buffers, and profiling scopes hook into it."""

    model: Any = None

    def weight_bytes(self) -> int:
        from charsuite.trackers.memory import weight_bytes

        return weight_bytes(self.model)

    def profiled_module(self) -> Any:
        return self.model
