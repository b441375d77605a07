"""How to see through transformers' kernel wrappers, in one place (kernel_paths, provenance and the dry-run's
fakes read them the same way).

transformers 5.x calls an SSM mixer's kernels through module globals, each a wrapper made at import by
`use_kernel_func_from_hub_with_fallback` (integrations/hub_kernels.py): a closure holding `implementation`
(the package's function, or the PyTorch one when the package does not import) and `torch_function` (the
PyTorch reference, also its `__wrapped__`). From 5.25, with the `kernels` package installed, that wrapper is
itself wrapped in a `Func` module (kernels' layer.py `_create_func_module`): an nn.Module instance with no
`__closure__` and no `__wrapped__`, whose class's `forward` holds the wrapper in its closure as `func`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def inner(fn: Any) -> Any:
    """The function a kernel global calls: the wrapper inside a `Func` module (inside each, where modules wrap
    modules), else the global itself."""
    for _ in range(8):
        if fn is None or inspect.isfunction(fn) or inspect.isbuiltin(fn):
            return fn
        forward = getattr(type(fn), "forward", None)
        func = inspect.getclosurevars(forward).nonlocals.get("func") if (
            inspect.isfunction(forward) and forward.__closure__) else None
        if not callable(func):
            return fn
        fn = func
    return fn


def closure(fn: Any) -> dict[str, Any]:
    """A wrapper's closure variables ({} for anything that has none)."""
    fn = inner(fn)
    return inspect.getclosurevars(fn).nonlocals if getattr(fn, "__closure__", None) else {}


def reference(fn: Any) -> Callable:
    """transformers' PyTorch function under a kernel global (the global itself where nothing wraps it)."""
    return inspect.unwrap(inner(fn))


def chosen(fn: Any) -> Any:
    """What the global will run: the implementation transformers' wrapper chose at import, through any
    decorators (each keeps the next in `__wrapped__`); the innermost function where none chose."""
    for _ in range(8):
        fn = inner(fn)
        picked = closure(fn).get("implementation")
        if picked is not None:
            return picked
        if getattr(fn, "__wrapped__", None) is None:
            return fn
        fn = fn.__wrapped__
    return fn


def wrapped_by(fn: Any) -> list[Callable]:
    """The functions one wrapper level down: its implementation, its torch function, what it wraps."""
    cells = closure(fn)
    f = inner(fn)
    nxt = [f] if f is not fn else []
    return nxt + [g for g in (cells.get("implementation"), cells.get("torch_function"),
                              getattr(f, "__wrapped__", None)) if callable(g)]
