"""Memory of a phase: the peak (MemoryTracker, around the phase), the live-tensor peak,
and the bytes held by weights and tensors.

CPU: the worker's peak resident set (VmHWM), reset before each phase through
/proc/self/clear_refs. CUDA: the caching allocator's peak, reset likewise.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from charsuite.trackers.base import Tracker


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def current_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    return _status_kib("VmRSS") * 1024


def release_free_memory(device: torch.device) -> None:
    """Give freed-but-cached memory back before a phase, so the phase's peak is its own
    and not a leftover of a larger earlier point (glibc malloc_trim; CUDA empty_cache)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return _status_kib("VmHWM") * 1024


def tensor_bytes(t: Any) -> int:
    return t.numel() * t.element_size() if isinstance(t, torch.Tensor) else 0


def weight_bytes(model: torch.nn.Module) -> int:
    seen: set[int] = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += tensor_bytes(t)
    return total


def tensor_peak(fn, device: torch.device):
    """Peak bytes of tensors allocated during fn() and alive at once, above what was
    allocated before: the allocator-independent peak a memory model predicts. CUDA: the
    caching allocator's peak; CPU: torch.profiler's memory trace (glibc keeps freed
    memory, so the resident set overstates it). Returns (bytes, fn's result)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before, result
    import json
    import os
    import tempfile

    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = [e for e in json.load(f).get("traceEvents", []) if e.get("name") == "[memory]"]
    finally:
        os.unlink(path)
    events.sort(key=lambda e: float(e.get("ts", 0)))
    live = peak = 0
    for e in events:
        live += int(e.get("args", {}).get("Bytes", 0))
        peak = max(peak, live)
    return peak, result


@dataclass
class MemoryReading:
    before_bytes: int = 0   # resident/allocated when the phase began (runtime + weights)
    peak_bytes: int = 0     # the phase's peak


class MemoryTracker(Tracker):
    """Frees cached memory, resets the peak, and reads it when the phase ends, so the
    phase's peak is its own and not a leftover of a larger earlier point."""

    name = "memory"

    def __init__(self, device: torch.device):
        self.device = device

    @contextlib.contextmanager
    def track(self) -> Iterator[MemoryReading]:
        release_free_memory(self.device)
        reading = MemoryReading(before_bytes=current_bytes(self.device))
        reset_peak(self.device)
        yield reading
        reading.peak_bytes = peak_bytes(self.device)
