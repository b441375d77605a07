"""Live tensor bytes of a forward on fake tensors: every storage an op creates is counted
when it appears and uncounted when Python frees it (a weak reference's callback), in the
order the real run would allocate and free. The events also feed the allocator model."""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class AllocationTracker(TorchDispatchMode):
    """Inside FakeTensorMode: peak and current bytes of the storages created while active,
    and the allocation events `(+nbytes | -nbytes, id)` in order. Storages that existed
    before (weights) are not counted."""

    def __init__(self, existing: Any = ()) -> None:
        """`existing`: tensors there before (weights, buffers, inputs): their storages, and
        views into them, are not new memory."""
        super().__init__()
        self.live = 0
        self.peak = 0
        self.events: list[tuple[int, int]] = []
        self._refs: dict[int, weakref.ref] = {}
        self._next = 0
        self._existing = {id(t.untyped_storage()): weakref.ref(t.untyped_storage()) for t in existing}

    def reset_peak(self) -> None:
        self.peak = self.live

    def _freed(self, nbytes: int, key: int, tag: int, _ref: Any) -> None:
        self.live -= nbytes
        self.events.append((-nbytes, tag))
        if self._refs.get(key) is _ref:
            del self._refs[key]

    def _count(self, t: torch.Tensor) -> None:
        st = t.untyped_storage()
        key = id(st)
        old = self._existing.get(key)
        if old is not None and old() is st:
            return
        ref = self._refs.get(key)
        if ref is not None and ref() is st:
            return
        nbytes = st.nbytes()
        tag = self._next
        self._next += 1
        self._refs[key] = weakref.ref(st, lambda r, n=nbytes, k=key, g=tag: self._freed(n, k, g, r))
        self.live += nbytes
        self.events.append((nbytes, tag))
        self.peak = max(self.peak, self.live)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._count(t)
        return out
