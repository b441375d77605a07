"""glibc malloc's two modes in a CPU worker (set with mallopt), so that memory is decided the
same way in every process and time is measured the way a long-running process allocates.

mapped    every block of 128 KiB or more is mapped when allocated and unmapped when freed: the
          resident peak is the tensors' own and the same in every fresh worker. Under glibc's
          dynamic threshold it depends on what the process freed before (qwen2_5 tiny, 32K-token
          prefill: 634-727 MiB over three fresh workers; 568 MiB in each of three when mapped).
          Prefills, and the prefill that sets up a decode point, run mapped.
retained  blocks under 32 MiB (the ceiling of glibc's own dynamic threshold) are reused from the
          heap and kept between calls, as a long-running process ends up doing: decode steps do
          not page-fault each token's new KV-cache copy afresh (mapped, qwen2_5 0.5b decode at 2K
          tokens took 143-176 ms/token where 100-128 ms with the heap). Decode steps run retained.

A malloc other than glibc's (musl, or jemalloc preloaded) is left alone: set_mode returns False.
`device.malloc=env` leaves glibc to its defaults and `device.allocator_env`.
"""

from __future__ import annotations

import ctypes
import functools

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
KIB, MIB = 1024, 1024**2
MODES: dict[str, dict[int, int]] = {
    "mapped": {M_MMAP_THRESHOLD: 128 * KIB, M_TRIM_THRESHOLD: 128 * KIB, M_TOP_PAD: 0},
    "retained": {M_MMAP_THRESHOLD: 32 * MIB, M_TRIM_THRESHOLD: 2**31 - 1, M_TOP_PAD: 128 * KIB},
}
PER_PHASE = "prefill and decode set-up mapped (>= 128 KiB blocks unmapped on free), decode steps retained"


@functools.cache
def _mallopt():
    try:
        libc = ctypes.CDLL("libc.so.6")
        if not hasattr(libc, "gnu_get_libc_version"):  # glibc only: its mallopt knows these parameters
            return None
        return libc.mallopt
    except (OSError, AttributeError):
        return None


def set_mode(name: str) -> bool:
    """Switch this process's malloc to MODES[name]; False where it is not glibc's."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return all(mallopt(param, value) == 1 for param, value in MODES[name].items())


def start(device_type: str, setting: str) -> tuple[bool, str]:
    """A worker's malloc at start-up: (per-phase modes on, what run.json records). `setting` is
    device.malloc (phase | env); only a CPU device's glibc is switched."""
    if device_type != "cpu":
        return False, "n/a (the device's own allocator)"
    if setting != "phase":
        return False, "device.malloc=env: glibc's defaults and device.allocator_env"
    if not set_mode("mapped"):
        return False, "not glibc: left to its defaults"
    return True, f"glibc, per phase: {PER_PHASE}"
