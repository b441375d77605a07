"""What a CUDA process allocates on its first call that later calls reuse (issue 28), as named, cited terms: the
dry-run reports them apart as `first_call`, as a measured point records mem.first_call (measure.py warms up first).

cuBLAS's workspace   PyTorch aten/src/ATen/cuda/CublasHandlePool.cpp, getChosenWorkspaceSize: with
                     CUBLAS_WORKSPACE_CONFIG unset, ":4096:8" on compute capability 9.x (8 x 4 MiB = 32 MiB) and
                     ":4096:2:16:8" elsewhere (2 x 4 MiB + 8 x 16 KiB); allocated through the caching allocator on
                     the first matmul of a handle and stream, and kept.
Triton's autotuning  triton/backends/nvidia/driver.py, get_empty_cache_for_benchmark: a 256 MiB buffer (256 *
                     1024 * 1024 bytes as int32) that do_bench clears between timings, allocated while an autotuned
                     kernel is first benchmarked, then freed (its block stays reserved by the caching allocator).
                     mamba-ssm's SSD kernels (ops/triton/ssd_*.py) are autotuned: Mamba-2 layouts with impl=kernels.
"""

from __future__ import annotations

MIB = 2**20
TRITON_AUTOTUNE_BUFFER = 256 * MIB
# model types whose kernel path runs mamba-ssm's autotuned Triton SSD kernels (engines/kernel_paths.py MAMBA2)
AUTOTUNED = {"mamba2", "zamba2", "falcon_h1", "bamba", "nemotron_h", "granitemoehybrid"}


def kernel_path_autotuned(impl: str, model_type: str) -> bool:
    """Whether transformers' path for `model_type` runs autotuned Triton kernels: its kernels, on an SSD layout."""
    return impl == "kernels" and model_type in AUTOTUNED


def cublas_workspace(capability: float | None) -> int:
    """Bytes of cuBLAS's default workspace on a card of this compute capability (None: not Hopper)."""
    if capability is not None and int(capability) == 9:
        return 8 * 4 * MIB
    return 2 * 4 * MIB + 8 * 16 * 1024


def first_call_bytes(device_kind: str, capability: float | None, autotuned: bool) -> int:
    """What a fresh CUDA process's first prefill allocates once: the workspace, and the autotune buffer where
    autotuned Triton kernels run. 0 on a CPU."""
    if device_kind != "cuda":
        return 0
    autotune = TRITON_AUTOTUNE_BUFFER if autotuned else 0
    return cublas_workspace(capability) + autotune
