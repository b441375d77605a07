"""What each op of the real code path costs (issue 30), seen during a dry-run: the dry-run already runs every op
of the path a run would take (reference or kernels, one-shot or chunked) on fake tensors; this records per op its
FLOPs, the bytes it must move, its taxonomy category and that it costs one dispatch.

FLOPs: torch's own flop counter where it knows the op (torch.utils.flop_counter: mm, addmm, bmm, baddbmm,
convolutions, SDPA's kernels); one per output element for the rest (elementwise: memory-bound, the count barely
matters). The dry-run's kernel fakes (simulate/kernels.py) are Python functions that allocate their outputs only,
so a fused kernel's own arithmetic is not counted here: a known gap, said where predictions are printed. Where
a kernel library's own wrappers run with shape-only launches (simulate/launches.py: engine=mamba_ssm), each
launch is one kernel moving its tensor arguments (`launch`).
Bytes: every tensor an op reads plus what it writes; a view (an output aliasing an input without writing) moves
nothing and is not a kernel, though it is still one dispatch."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import flop_registry

from kernels_profile.taxonomy import load as load_taxonomy


@dataclass
class OpCost:
    op: str
    category: str
    flops: float
    nbytes: int
    view: bool


@dataclass
class OpCosts:
    """Ops by phase ("prefill", "decode"), as recorded."""

    phases: dict[str, list[OpCost]] = field(default_factory=dict)

    def totals(self, phase: str) -> dict[str, float]:
        ops = self.phases.get(phase, [])
        return {"ops": len(ops), "kernels": sum(not o.view for o in ops), "flops": sum(o.flops for o in ops),
                "bytes": sum(o.nbytes for o in ops)}

    def by_category(self, phase: str) -> dict[str, Counter]:
        out: dict[str, Counter] = {}
        for o in self.phases.get(phase, []):
            out.setdefault(o.category, Counter()).update({"ops": 1, "flops": o.flops, "bytes": o.nbytes})
        return out


def _bytes(values) -> int:
    return sum(t.numel() * t.element_size() for t in tree_leaves(values) if isinstance(t, torch.Tensor))


class OpCostRecorder(TorchDispatchMode):
    """Inside a dry-run's FakeTensorMode: each op's cost into `costs.phases[self.phase]`."""

    def __init__(self) -> None:
        super().__init__()
        self.costs = OpCosts()
        self.phase = "prefill"
        self._taxonomy = load_taxonomy()
        self._category: dict[str, str] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func._schema.name
        if name.startswith("prim::"):
            return out
        returns = func._schema.returns
        view = bool(returns) and all(r.alias_info is not None and not r.alias_info.is_write for r in returns)
        packet = func.overloadpacket
        if packet in flop_registry:
            flops = float(flop_registry[packet](*args, **kwargs, out_val=out))
        else:
            flops = 0.0 if view else float(sum(t.numel() for t in tree_leaves(out) if isinstance(t, torch.Tensor)))
        nbytes = 0 if view else _bytes((args, kwargs)) + _bytes(out)
        if name not in self._category:
            self._category[name] = self._taxonomy.classify(op=name)
        self.costs.phases.setdefault(self.phase, []).append(
            OpCost(name, self._category[name], flops, nbytes, view))
        return out

    def launch(self, kernel: str, args: tuple, kwargs: dict, flops: float = 0.0) -> None:
        """A shape-only kernel launch (simulate/launches.py, or a kernel fake that knows its arithmetic): one
        kernel that moves its tensor arguments once - what it reads and what it writes, its own traffic -
        classified by its name; `flops` where the caller derived them (else not counted: KNOWN_GAPS)."""
        if kernel not in self._category:
            self._category[kernel] = self._taxonomy.classify(kernel=kernel)
        self.costs.phases.setdefault(self.phase, []).append(
            OpCost(kernel, self._category[kernel], float(flops), _bytes((args, kwargs)), False))
