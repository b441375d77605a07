"""What each op of the real code path costs (issue 30), seen during a dry-run: the dry-run already runs every op
of the path a run would take (reference or kernels, one-shot or chunked) on fake tensors; this records per op its
FLOPs, the bytes it must move, its taxonomy category and that it costs one dispatch.

FLOPs: torch's own flop counter where it knows the op (torch.utils.flop_counter: mm, addmm, bmm, baddbmm,
convolutions, SDPA's CUDA kernels); attention the counter does not know (SDPA as the CPU runs it) from its algorithm:
two GEMMs per head, 4 B H Lq Lk D, half where it is causal over a square (ATen's CPU flash kernel stops each query
block's keys at the diagonal: aten/src/ATen/native/cpu/FlashAttentionKernel.cpp); one per output element for the
rest (elementwise: memory-bound, the count barely matters). A GEMM also records its (m, k, n), whose measured rate
the latency model looks up (calibrate's shape grid).
The dry-run's kernel fakes (simulate/kernels.py) are Python functions that allocate their outputs only,
so a fused kernel's own arithmetic is not counted here: a known gap, said where predictions are printed. Where
a kernel library's own wrappers run with shape-only launches (simulate/launches.py: engine=mamba_ssm), each
launch is one kernel moving its tensor arguments (`launch`).
Bytes: every tensor an op reads plus what it writes; a view (an output aliasing an input without writing) moves
nothing and is not a kernel, though it is still one dispatch. A loop the dry-run folds (simulate/folds.py) records
its per-step ops once, with the count of steps it stands for (`count`)."""

from __future__ import annotations

import contextlib
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import flop_registry

from charsuite.calibrate_ops import infinite_fill, op_class
from kernels_profile.attribute import enclosing
from kernels_profile.taxonomy import load as load_taxonomy


@dataclass
class OpCost:
    op: str
    category: str
    flops: float                 # of one call
    nbytes: int                  # of one call
    view: bool
    mnk: tuple[int, int, int] | None = None   # a GEMM's shape (batched: m counts every row)
    count: int = 1               # calls it stands for (a folded loop's steps)
    new_bytes: int = 0           # its fresh outputs in blocks of MAPPED_BLOCK or more (glibc maps each afresh)
    host: bool = True            # pays a Python dispatch (not a composite's part, nor one whose GEMM part carries it)
    part: bool = False           # run inside a composite op (einsum's bmm): no dispatch of its own
    rate: tuple[str, int] | None = None  # its calibrated class and key (calibrate_ops.op_class), None: the triad's


@dataclass
class OpCosts:
    """Ops by phase ("prefill", "decode"), as recorded."""

    phases: dict[str, list[OpCost]] = field(default_factory=dict)

    def totals(self, phase: str) -> dict[str, float]:
        ops = self.phases.get(phase, [])
        return {"ops": sum(o.count for o in ops if not o.part), "kernels": sum(o.count for o in ops if not o.view),
                "flops": sum(o.flops * o.count for o in ops), "bytes": sum(o.nbytes * o.count for o in ops)}

    def by_category(self, phase: str) -> dict[str, Counter]:
        out: dict[str, Counter] = {}
        for o in self.phases.get(phase, []):
            out.setdefault(o.category, Counter()).update({"ops": o.count, "flops": o.flops * o.count,
                                                          "bytes": o.nbytes * o.count})
        return out


ALLOCATIONS = ("aten::empty", "aten::empty_like", "aten::empty_strided", "aten::new_empty", "aten::new_empty_strided")
# views whose schema does not say so (an alias torch hides from autograd on purpose: reshape's, einsum's last step)
UNANNOTATED_VIEWS = ("aten::_unsafe_view",)
# ops that read their first argument only where indexed (an embedding's row per token, not its whole table)
GATHERS = ("aten::embedding", "aten::index_select", "aten::gather", "aten::index")
MAPPED_BLOCK = 128 * 1024  # glibc's mmap threshold in a CPU worker's prefill (allocator.py, mode `mapped`)


def _bytes(values) -> int:
    return sum(t.numel() * t.element_size() for t in tree_leaves(values) if isinstance(t, torch.Tensor))


class OpCostRecorder(TorchDispatchMode):
    """Inside a dry-run's FakeTensorMode: each op's cost into `costs.phases[self.phase]`.

    An op Python dispatches whole but ATen runs as other ops (a CompositeImplicitAutograd op: einsum, linear,
    contiguous, pad, reshape, SDPA) is recorded as its parts - the copies einsum makes to bring its operands
    into a bmm's layout, the bmm itself - each in the composite's category (the profiler classifies by the
    outermost op), while the composite keeps the one dispatch Python pays for it."""

    def __init__(self, within: str | None = None) -> None:
        super().__init__()
        self.costs = OpCosts()
        self.phase = "prefill"
        self._within = within  # recording a composite op's parts: every part in its category
        self._taxonomy = None if within else load_taxonomy()
        self._infinite: dict[int, weakref.ref] = {}  # tensors an op wrote an infinity into (segsum's -inf), by id
        self._category: dict[tuple, str] = {}
        self._scopes: list[dict[str, str]] = []  # the module and function scopes open now (as the profiler's)

    @contextlib.contextmanager
    def scope(self, label: str) -> Iterator[None]:
        """A module or function scope (kernels_profile.capture's labels): the ops inside are classified in its
        context, as the profiler classifies them (the taxonomy's module, path and scope rules)."""
        self._scopes.append({"name": label})
        try:
            yield
        finally:
            self._scopes.pop()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func._schema.name
        if name.startswith("prim::"):
            return func(*args, **kwargs)
        if torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), "CompositeImplicitAutograd"):
            category = self.category(name)
            with OpCostRecorder(within=category) as parts:
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                made = parts.costs.phases.get("prefill", [])
                # one Python dispatch; a GEMM part priced at a calibrated rate carries it already (latency.py)
                self.add(OpCost(name, category, 0.0, 0, True, host=not any(p.mnk for p in made)))
                for p in made:
                    p.host, p.part = False, True
                    self.add(p)
                return out
        out = func(*args, **kwargs)
        returns = func._schema.returns
        declared = bool(returns) and all(r.alias_info is not None and not r.alias_info.is_write for r in returns)
        view = declared or name in UNANNOTATED_VIEWS
        made = name in ALLOCATIONS  # memory handed out, nothing computed or moved (what writes it is counted)
        packet = func.overloadpacket
        mnk = gemm_shape(name, args)
        if "scaled_dot_product" in name:  # the CPU's flash kernel, or CUDA's (whose FLOPs torch's counter knows)
            flops, mnk = attention_cost(func, args, kwargs)
            if packet in flop_registry:
                flops = float(flop_registry[packet](*args, **kwargs, out_val=out))
        elif packet in flop_registry:
            flops = float(flop_registry[packet](*args, **kwargs, out_val=out))
        elif mnk is not None:  # a GEMM the counter sees whole (linear, matmul): 2 m k n
            flops = 2.0 * mnk[0] * mnk[1] * mnk[2]
        else:
            flops = 0.0 if view or made else float(sum(t.numel() for t in tree_leaves(out)
                                                         if isinstance(t, torch.Tensor)))
        if view or made:
            nbytes = 0
        elif name in GATHERS:  # the source is read where indexed only: as many bytes as the output holds
            nbytes = _bytes((args[1:], kwargs)) + 2 * _bytes(out)
        else:
            nbytes = _bytes((args, kwargs)) + _bytes(out)
        fresh = not view and not any(r.alias_info is not None for r in returns)  # not in place, not out=
        new = sum(b for b in map(_bytes, tree_leaves(out)) if b >= MAPPED_BLOCK) if fresh else 0
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        rate = None if view or made else op_class(name, args, self._holds_infinity(first))
        if not view and infinite_fill(args, kwargs):
            self._infinite.update((id(t), weakref.ref(t)) for t in tree_leaves(out) if isinstance(t, torch.Tensor))
        self.add(OpCost(name, self.category(name), flops, nbytes, view, mnk, new_bytes=new, rate=rate))
        return out

    def _holds_infinity(self, t: torch.Tensor | None) -> bool:
        ref = self._infinite.get(id(t)) if t is not None else None
        return ref is not None and ref() is t

    def category(self, op: str) -> str:
        """The taxonomy's category of an op in the scopes open now (host basis: op, module, path, scope)."""
        if self._within is not None:
            return self._within
        ctx = enclosing(self._scopes)
        key = (op, ctx["module"], ctx["path"], ctx["scope"])
        if key not in self._category:
            self._category[key] = self._taxonomy.classify(op=op, module=ctx["module"], path=ctx["path"],
                                                          scope=ctx["scope"])
        return self._category[key]

    def kernel_category(self, kernel: str) -> str:
        """A launched kernel's category in the scopes open now (device basis: its name, then its context)."""
        ctx = enclosing(self._scopes)
        key = (kernel, "kernel", ctx["module"], ctx["path"], ctx["scope"])
        if key not in self._category:
            self._category[key] = self._taxonomy.classify_kernel(kernel, module=ctx["module"], path=ctx["path"],
                                                                 scope=ctx["scope"])
        return self._category[key]

    def add(self, cost: OpCost) -> None:
        self.costs.phases.setdefault(self.phase, []).append(cost)

    def launch(self, kernel: str, args: tuple, kwargs: dict, flops: float = 0.0) -> None:
        """A shape-only kernel launch (simulate/launches.py, or a kernel fake that knows its arithmetic): one
        kernel that moves its tensor arguments once - what it reads and what it writes, its own traffic -
        classified by its name, then the scopes it runs in; `flops` where the caller derived them (else not counted:
        KNOWN_GAPS)."""
        self.add(OpCost(kernel, self.kernel_category(kernel), float(flops), _bytes((args, kwargs)), False))


def active_recorder() -> OpCostRecorder | None:
    """The recorder of the dry-run running now, if it records costs (a folded loop tells it its steps)."""
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    return next((m for m in _get_current_dispatch_mode_stack() if isinstance(m, OpCostRecorder)), None)


GEMMS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear")


def gemm_shape(name: str, args) -> tuple[int, int, int] | None:
    """(m, k, n) of a GEMM: the rows of every batch, the inner dimension, the columns."""
    if name not in GEMMS:
        return None
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if name in ("aten::addmm", "aten::baddbmm"):
        tensors = tensors[1:]  # the bias first
    if len(tensors) < 2 or tensors[0].dim() == 0:
        return None
    a, b = tensors[0], tensors[1]
    k = a.shape[-1]
    n = b.shape[0] if name == "aten::linear" else (b.shape[-1] if b.dim() > 1 else 1)
    return max(1, a.numel() // max(1, k)), int(k), int(n)


def attention_cost(func, args, kwargs) -> tuple[float, tuple[int, int, int] | None]:
    """FLOPs of attention the flop counter does not know, and its per-head GEMM shape (Lq, D, Lk)."""
    named = {a.name: v for a, v in zip(func._schema.arguments, args)} | dict(kwargs)
    q, k = named.get("query"), named.get("key")
    if not isinstance(q, torch.Tensor) or not isinstance(k, torch.Tensor) or q.dim() < 3:
        return 0.0, None
    lq, d, lk = q.shape[-2], q.shape[-1], k.shape[-2]
    heads = q.numel() // (lq * d)
    flops = 4.0 * heads * lq * lk * d
    if named.get("is_causal") and lq == lk:
        flops /= 2
    return flops, (int(lq), int(d), int(lk))
