"""A dry-run leaves the process as it found it (issue 28): it once built a reference-path engine whose
use_reference() rebound the modeling module's kernel globals for good, so every later run in the process
(context.start=predicted, the GPU tests' kernels cases) measured the reference scan."""

from __future__ import annotations

import functools

import pytest
import torch
from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

from charsuite.engines import kernel_paths, wrappers
from charsuite.engines.hf_configs import hf_config
from charsuite.simulate.dryrun import dry_run
from helpers import compose

# every zoo family whose modeling module calls kernels through globals
KERNEL_FAMILIES = ["mamba", "mamba2", "zamba2", "falcon_h1", "bamba", "nemotron_h", "jamba", "qwen3_5", "lfm2",
                   "granitemoehybrid", "falcon_mamba"]


def _state(model_type: str) -> dict:
    module = kernel_paths.modeling_module(model_type)
    return {"globals": {n: getattr(module, n, None) for n in kernel_paths.KERNEL_GLOBALS[model_type]},
            "default_device": torch.get_default_device(),
            "dispatch_modes": list(_get_current_dispatch_mode_stack()),
            "sdpa": torch.nn.functional.scaled_dot_product_attention}


def _wrapped(module, names, monkeypatch) -> None:
    """A wrapper in front of each kernel global, as transformers puts one at import (an earlier test in this
    process may have built a reference engine, which rebinds them for the process's life, as a worker does)."""
    for name in names:
        reference = wrappers.reference(getattr(module, name))

        @functools.wraps(reference)
        def wrapper(*args, _reference=reference, **kwargs):
            return _reference(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)


@pytest.mark.parametrize("family", KERNEL_FAMILIES)
def test_the_kernel_globals_are_the_same_before_and_after_a_dry_run_of_each_impl(family, monkeypatch):
    run = compose(f"+model={family}", "model.size=tiny")
    model_type = hf_config(run.model).model_type
    assert model_type in kernel_paths.KERNEL_GLOBALS
    _wrapped(kernel_paths.modeling_module(model_type), kernel_paths.KERNEL_GLOBALS[model_type], monkeypatch)
    before = _state(model_type)
    assert any(kernel_paths.reference_functions(model_type))  # a wrapper stands there: a rebinding would show
    for impl, kind in (("reference", "cpu"), ("kernels", "cuda"), ("reference", "cuda")):
        dry_run(run.model, 64, impl=impl, device_kind=kind)
        after = _state(model_type)
        assert after["globals"] == before["globals"] and all(
            after["globals"][n] is before["globals"][n] for n in before["globals"]), (impl, kind)
        assert after == before, (impl, kind)


def test_a_dry_run_of_the_reference_still_runs_the_reference_inside(monkeypatch):
    run = compose("+model=mamba2", "model.size=tiny")
    module = kernel_paths.modeling_module("mamba2")
    _wrapped(module, kernel_paths.KERNEL_GLOBALS["mamba2"], monkeypatch)
    seen = []
    real = kernel_paths.reference_functions("mamba2")["mamba2_chunk_scan"]

    with kernel_paths.reference_path("mamba2") as names:
        seen.append(module.mamba2_chunk_scan)
    assert "mamba2_chunk_scan" in names and seen == [real]
    assert module.mamba2_chunk_scan is not real  # put back
    assert dry_run(run.model, 64, impl="reference").prefill_peak > 0
