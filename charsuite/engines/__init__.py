"""Inference engines, by name: each a module with an Engine subclass (base.py).

Loaded lazily so that naming an engine never imports another engine's libraries.
"""

from __future__ import annotations

import importlib

from charsuite.engines.base import Engine

ENGINES = {"transformers": ("charsuite.engines.transformers", "TransformersEngine"),
           "llamacpp": ("charsuite.engines.llamacpp", "LlamaCppEngine")}


def engine_class(name: str) -> type[Engine]:
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
    module, cls = ENGINES[name]
    return getattr(importlib.import_module(module), cls)
