"""Inference engines, by name: each a module with an Engine subclass (base.py) and an EngineSpec here.

The spec is what the rooms above the worker may know of an engine - its run-folder suffix, the
label its runs carry in tables, the settings its fingerprint holds, whether the closed-form
memory model applies - so that none of them tests an engine's name. Engines are loaded lazily:
naming one never imports another's libraries. An engine outside this package registers under
the `charsuite.engines` entry-point group (an EngineSpec), as a plugin would.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from charsuite.engines.base import Engine

DEFAULT = "transformers"  # the engine a run uses unless told: no folder suffix, no label


@dataclass(frozen=True)
class EngineSpec:
    module: str
    cls: str
    memory_model: bool = False   # analysis/memory_model.py's closed form was derived from this engine's code
    weight_types: bool = False   # model.quant names its weights' type (folder name, setup label)
    settings: tuple[str, ...] = ()   # the EngineConfig keys it reads: fingerprinted with its name
    baseline_quant: str | None = None  # within this engine, the weight type the others are compared against
    own_kernels: bool = False    # runs its own kernels whatever model.impl says (the SSM path is "kernels")
    mixer_paths: bool = False    # model.impl chooses its SSM mixers' path (reference | kernels: kernel_paths.py)
    dry_run: str | None = None   # "module:function" building it on fake tensors (simulate/dryrun.py), if it can be
    library_forward: bool = False  # each forward pays the library's own Python beyond its ops (simulate/latency.py)


BUILT_IN = {
    "transformers": EngineSpec("charsuite.engines.transformers", "TransformersEngine", memory_model=True,
                               mixer_paths=True, dry_run="charsuite.simulate.dryrun:transformers_on_fakes",
                               library_forward=True),
    "llamacpp": EngineSpec("charsuite.engines.llamacpp", "LlamaCppEngine", weight_types=True,
                           settings=("n_batch", "n_ubatch", "n_gpu_layers", "kv_type", "repack"),
                           baseline_quant="f32"),
    "mamba_ssm": EngineSpec("charsuite.engines.mamba_ssm", "MambaSsmEngine", own_kernels=True,
                            settings=("prefill_cache",),
                            dry_run="charsuite.simulate.mamba_ssm_dry:mamba_ssm_on_fakes"),
}


@cache
def registry() -> dict[str, EngineSpec]:
    """The built-in engines and those installed packages register (entry points)."""
    found = dict(BUILT_IN)
    for ep in entry_points(group="charsuite.engines"):
        found.setdefault(ep.name, ep.load())
    return found


def names() -> tuple[str, ...]:
    return tuple(registry())


def spec(name: str | None) -> EngineSpec:
    """The spec of `name` (None, NaN or empty: a line older than engines, the default)."""
    if not isinstance(name, str) or not name:
        name = DEFAULT
    if name not in registry():
        raise ValueError(f"unknown engine {name!r}; choose one of: {', '.join(registry())}")
    return registry()[name]


def engine_class(name: str) -> type[Engine]:
    s = spec(name)
    return getattr(importlib.import_module(s.module), s.cls)


def _given(v: Any) -> bool:
    return v is not None and v == v and v != "None"  # NaN and Hydra's "None" read as not given


def folder_suffix(name: str | None, quant: Any) -> str:
    """"_llamacpp", "_llamacpp_q8_0", "_mamba_ssm": another engine's runs get folders of their own."""
    if not name or name == DEFAULT:
        return ""
    return f"_{name}" + (f"_{quant}" if spec(name).weight_types and _given(quant) else "")


def _read(name: Any) -> EngineSpec:
    """The spec of an engine named in results: one this install lacks (a plugin's) reads as plain."""
    try:
        return spec(name)
    except ValueError:
        return EngineSpec("", "")


def setup_label(name: str | None, quant: Any) -> str:
    """How a run's engine reads in tables: "transformers", "llamacpp q8_0", "mamba_ssm"."""
    name = name if isinstance(name, str) and name else DEFAULT
    return f"{name} {quant}" if _read(name).weight_types and _given(quant) else name


def baseline_labels() -> tuple[str, ...]:
    """The side of an engine pair that is the one compared against: the default engine, and
    within an engine with weight types, its baseline type ("llamacpp f32")."""
    return (DEFAULT, *(f"{n} {s.baseline_quant}" for n, s in registry().items() if s.baseline_quant))


def fingerprint_part(engine_raw: dict[str, Any]) -> dict[str, Any]:
    """The engine's share of a run's fingerprint: nothing for the default engine (older folders
    resume), else its name and the settings it reads."""
    name = engine_raw.get("name") or DEFAULT
    if name == DEFAULT:
        return {}
    return {"engine.name": name, **{f"engine.{k}": engine_raw.get(k) for k in spec(name).settings}}


def memory_model_applies(name: str | None, chunk: Any) -> bool:
    """Whether the closed-form memory model describes a run: a one-shot prefill on an engine whose
    code it was derived from."""
    return _read(name).memory_model and not _given(chunk)
