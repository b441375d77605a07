"""Which code path an SSM mixer runs: the fused mamba-ssm / causal-conv1d kernels or
transformers' PyTorch reference. transformers 5.x picks once, at import, by whether the
packages import (integrations/hub_kernels.py: use_kernel_func_from_hub_with_fallback),
and calls the choice through module globals of each modeling file, named here. The
dry-run swaps the same globals for fakes (simulate/kernels.py)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Iterator
from unittest import mock

from charsuite.engines import wrappers
from charsuite.engines.provenance import PACKAGES as PACKAGE_NAMES
from charsuite.errors import ConfigError

MAMBA1 = ("causal_conv1d_fn", "causal_conv1d_update", "mamba_selective_scan", "mamba_selective_state_update")
MAMBA2 = ("causal_conv1d_fn", "causal_conv1d_update", "mamba2_chunk_scan", "mamba2_selective_state_update")
# Qwen3.5's gated DeltaNet: causal-conv1d and flash-linear-attention's gated delta rule (chunked
# for prefill, fused recurrent for decode); LFM2's short convolutions: causal-conv1d.
GATED_DELTANET = ("causal_conv1d_fn", "causal_conv1d_update", "torch_chunk_gated_delta_rule",
                  "torch_recurrent_gated_delta_rule")
KERNEL_GLOBALS = {"mamba": MAMBA1, "jamba": MAMBA1, "falcon_mamba": MAMBA1,
                  **{t: MAMBA2 for t in ("mamba2", "zamba2", "falcon_h1", "bamba", "nemotron_h", "granitemoehybrid")},
                  "qwen3_5_text": GATED_DELTANET, "lfm2": ("causal_conv1d_fn", "causal_conv1d_update")}
# model_type -> its modeling module, where the two differ (a text config of a multimodal family)
MODULES = {"qwen3_5_text": "qwen3_5"}
PACKAGES = ("mamba_ssm", "causal_conv1d")


def kernels_importable() -> bool:
    return all(importlib.util.find_spec(p) is not None for p in PACKAGES)


def modeling_module(model_type: str):
    name = MODULES.get(model_type, model_type)
    return importlib.import_module(f"transformers.models.{name}.modeling_{name}")


def resolve(impl: str, device_kind: str, importable: bool | None = None) -> str:
    """auto -> kernels on CUDA when they import, else reference; kernels where they cannot
    run is bad input (one line, exit 2)."""
    importable = kernels_importable() if importable is None else importable
    if impl == "auto":
        return "kernels" if device_kind == "cuda" and importable else "reference"
    if impl == "kernels" and device_kind != "cuda":
        raise ConfigError("model.impl=kernels needs a CUDA device (the fused kernels are CUDA and Triton code); "
                          "use model.impl=reference or auto here, or charsuite.predict for a GPU profile")
    if impl == "kernels" and not importable:
        raise ConfigError("model.impl=kernels needs mamba-ssm and causal-conv1d; install them with "
                          "pip install -e '.[cuda]', or use model.impl=reference")
    return impl


def use_reference(model_type: str) -> list[str]:
    """Point a modeling module's kernel globals back at transformers' PyTorch functions
    (the functions the kernel wrappers wrap), for impl=reference where the kernels import.
    Returns the names changed."""
    if model_type not in KERNEL_GLOBALS:
        return []
    module = modeling_module(model_type)
    changed = []
    for name, fn in reference_functions(model_type).items():
        setattr(module, name, fn)
        changed.append(name)
    return changed


def reference_functions(model_type: str) -> dict[str, object]:
    """{global: transformers' PyTorch function under it} for each kernel global of a modeling module that
    a wrapper (or kernels' Func module) stands in front of."""
    module = modeling_module(model_type)
    out = {}
    for name in KERNEL_GLOBALS.get(model_type, ()):
        fn = getattr(module, name, None)
        if fn is not None and wrappers.reference(fn) is not fn:
            out[name] = wrappers.reference(fn)
    return out


@contextlib.contextmanager
def reference_path(model_type: str) -> Iterator[list[str]]:
    """The reference for the block only (a dry-run's): the globals are put back as they were after it."""
    with contextlib.ExitStack() as stack:
        names = []
        if model_type in KERNEL_GLOBALS:
            module = modeling_module(model_type)
            for name, fn in reference_functions(model_type).items():
                stack.enter_context(mock.patch.object(module, name, fn))
                names.append(name)
        yield names


def observed(model_type: str) -> str | None:
    """The module of the code the mixer's scan will run, read off the live module global
    (through transformers' wrapper's closure): 'pytorch reference', 'mamba-ssm kernels',
    or the module's name for anything else (a dry-run's fakes)."""
    if model_type not in KERNEL_GLOBALS:
        return None
    module = modeling_module(model_type)
    names = KERNEL_GLOBALS[model_type]
    fn = wrappers.chosen(getattr(module, names[2] if len(names) > 2 else names[0]))  # the scan, or the convolution
    where = getattr(fn, "__module__", "") or ""
    if where == module.__name__:
        return "pytorch reference"
    package = PACKAGE_NAMES.get(where.split(".", 1)[0])
    if package is None:
        return where
    return package if package.endswith("kernels") else f"{package} kernels"


def install_route() -> str:
    """Which of the kernel install routes (docs/install.md) this install took: the source build
    (scripts/install_kernels.sh: pip records a local folder as the origin), wheels or sdists from a registry,
    or none; and whether the `kernels` package (transformers' hub kernels) is importable beside them."""
    import importlib.metadata as md
    import json

    hub = importlib.util.find_spec("kernels") is not None
    try:
        dist = md.distribution("mamba-ssm")
    except md.PackageNotFoundError:
        route = "none (mamba-ssm not installed)"
    else:
        origin = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
        route = "source build (" + origin + ")" if origin.startswith("file:") else "installed package (registry)"
    return route + ("; the kernels package (hub kernels) is importable" if hub else "")
