"""Attribute the time of a torch.profiler Chrome trace to taxonomy categories.

Two bases, never summed:
  host    self time of every CPU operator (what the CPU spent inside each op)
  device  duration of every GPU kernel / memcpy / memset (what the GPU spent)
and, beside them, the reference study's grouping (`study`, basis "cpu+gpu"): each outermost
op's CPU self time plus its kernels' GPU time, summed as the study summed them, in its groups.

Every op is tied to its innermost nn.Module and free-function scope (record_function
ranges opened by kernels_profile.capture, which travel inside the trace), and every GPU
kernel to the CPU op that launched it through its correlation id.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernels_profile.taxonomy import Taxonomy, load

MODULE_PREFIX = "module: "
FUNCTION_PREFIX = "fn: "
DEVICE_CATS = ("kernel", "gpu_memcpy", "gpu_memset")
LAUNCH_CATS = ("cuda_runtime", "cuda_driver", "runtime")


@dataclass
class Attribution:
    basis: str
    categories: dict[str, float]
    coverage: float
    unclassified_top: list[tuple[str, float]]
    total_s: float
    by_name: dict[tuple[str, str], float] = field(default_factory=dict)
    graph_s: float = 0.0  # device seconds of kernels replayed from CUDA graphs (Kineto's "graph id")

    def as_dict(self) -> dict[str, Any]:
        out = {"basis": self.basis, "categories": self.categories, "coverage": self.coverage,
               "unclassified_top": self.unclassified_top, "total_s": self.total_s}
        return {**out, "graph_s": self.graph_s} if self.graph_s else out


def enclosing(stack: list[dict]) -> dict[str, str | None]:
    """Innermost module (class, path), innermost function scope, outermost op, of a stack of trace events
    (or of scope labels as {"name": ...}: the dry-run's op costs classify by the same context)."""
    ctx: dict[str, str | None] = {"module": None, "path": None, "scope": None, "op": None}
    for ev in stack:
        name = ev["name"]
        if ev.get("cat") == "cpu_op":
            if ctx["op"] is None:
                ctx["op"] = name
        elif name.startswith(MODULE_PREFIX):
            path, _, cls = name[len(MODULE_PREFIX):].rpartition(" (")
            ctx["path"], ctx["module"] = path, cls.rstrip(")")
        elif name.startswith(FUNCTION_PREFIX):
            ctx["scope"] = name[len(FUNCTION_PREFIX):]
    return ctx


def _walk(events: list[dict]):
    """Per thread, in time order, yield (event, enclosing stack) with self time for ops."""
    by_thread: dict[tuple, list[dict]] = defaultdict(list)
    for ev in events:
        if ev.get("ph") == "X" and (ev.get("cat") in ("cpu_op", "user_annotation") or ev.get("cat") in LAUNCH_CATS):
            by_thread[(ev.get("pid"), ev.get("tid"))].append(ev)
    for evs in by_thread.values():
        evs.sort(key=lambda e: (float(e["ts"]), -float(e.get("dur", 0))))
        stack: list[dict] = []
        for ev in evs:
            ts = float(ev["ts"])
            while stack and float(stack[-1]["ts"]) + float(stack[-1].get("dur", 0)) <= ts:
                stack.pop()
            yield ev, list(stack)
            if ev.get("cat") != "cuda_runtime" and ev.get("cat") not in LAUNCH_CATS:
                stack.append(ev)


def learned_categories(eager: dict | str | Path, taxonomy: Taxonomy | None = None) -> dict[str, str]:
    """{kernel name: category} from an eager trace of the same step, where every kernel has its
    launching op and scopes (the category that holds most of a name's time)."""
    device = attribute(eager, taxonomy)["device"]
    best: dict[str, tuple[float, str]] = {}
    for (cat, name), s in (device.by_name.items() if device else []):
        if s > best.get(name, (-1.0, ""))[0]:
            best[name] = (s, cat)
    return {name: cat for name, (_, cat) in best.items()}


def _graph_id(kernel: dict) -> Any:
    gid = (kernel.get("args") or {}).get("graph id")
    return gid if gid not in (None, 0, "0") else None


def attribute(trace: dict | str | Path, taxonomy: Taxonomy | None = None,
              companion: dict[str, str] | None = None) -> dict[str, Attribution | None]:
    """The breakdowns of one trace: {"host": Attribution, "device": Attribution or None, "study":
    Attribution in the reference study's groups, CPU and GPU time summed}.

    A kernel replayed from a CUDA graph (Kineto writes its "graph id") has no launching op, only
    the cudaGraphLaunch: it is classified by `companion` (learned_categories of an eager trace of
    the same step) where that knows its name, else by its own name; `graph_s` says how much of
    the device time such kernels hold."""
    if not isinstance(trace, dict):
        trace = json.loads(Path(trace).read_text())
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        raise ValueError("no traceEvents list (not a Chrome trace)")
    tax = taxonomy or load()
    events = [e for e in trace.get("traceEvents", []) if isinstance(e, dict)]

    host_units: list[tuple[dict, float]] = []
    launches: dict[Any, dict[str, str | None]] = {}
    children_time: dict[int, float] = defaultdict(float)
    ops: list[tuple[dict, list[dict]]] = []
    for ev, stack in _walk(events):
        if ev.get("cat") == "cpu_op":
            ops.append((ev, stack))
            parent_op = next((s for s in reversed(stack) if s.get("cat") == "cpu_op"), None)
            if parent_op is not None:
                children_time[id(parent_op)] += float(ev.get("dur", 0))
        elif ev.get("cat") in LAUNCH_CATS:
            corr = (ev.get("args") or {}).get("correlation")
            if corr is not None:
                ctx = enclosing(stack)
                launches[corr] = ctx
    for ev, stack in ops:
        self_us = max(0.0, float(ev.get("dur", 0)) - children_time.get(id(ev), 0.0))
        ctx = enclosing(stack + [ev])
        host_units.append(({**ctx, "name": ev["name"]}, self_us))

    host = _breakdown("host", [(tax.classify(op=u["op"], module=u["module"], path=u["path"], scope=u["scope"]),
                                u["name"], s) for u, s in host_units], tax)
    kernels = [e for e in events if e.get("ph") == "X" and e.get("cat") in DEVICE_CATS]
    study_units = [(tax.study_group(op=u["op"], module=u["module"]), u["name"], s) for u, s in host_units]
    device = None
    if kernels:
        units = []
        graph_s = 0.0
        for k in kernels:
            ctx = launches.get((k.get("args") or {}).get("correlation"), {})
            dur = float(k.get("dur", 0))
            replayed = _graph_id(k) is not None
            if replayed and companion and k["name"] in companion:
                cat = companion[k["name"]]
            else:
                cat = tax.classify_kernel(k["name"], op=ctx.get("op"), module=ctx.get("module"),
                                          path=ctx.get("path"), scope=ctx.get("scope"))
            graph_s += dur / 1e6 if replayed else 0.0
            units.append((cat, k["name"], dur))
            study_units.append((tax.study_group(op=ctx.get("op"), module=ctx.get("module")), k["name"], dur))
        device = _breakdown("device", units, tax)
        device.graph_s = graph_s
    study = _breakdown("cpu+gpu", study_units, tax, names=tax.study_groups) if tax.study_groups else None
    return {"host": host, "device": device, "study": study}


STEP_PREFIX = "ProfilerStep#"


def split_steps(trace: dict) -> list[dict]:
    """One trace per profiler step (torch.profiler's `ProfilerStep#N` ranges): the host events
    inside the step's range, and the GPU kernels launched from them (by correlation id, as a
    kernel may run after its step's host range has closed). [] when the trace has no steps."""
    events = [e for e in trace.get("traceEvents", []) if isinstance(e, dict)]
    steps = sorted((e for e in events if e.get("ph") == "X" and str(e.get("name", "")).startswith(STEP_PREFIX)),
                   key=lambda e: float(e["ts"]))
    out = []
    for step in steps:
        t0, t1 = float(step["ts"]), float(step["ts"]) + float(step.get("dur", 0))
        host = [e for e in events if e.get("ph") == "X" and e.get("cat") not in DEVICE_CATS and e is not step
                and t0 <= float(e.get("ts", -1)) < t1]
        launched = {(e.get("args") or {}).get("correlation") for e in host if e.get("cat") in LAUNCH_CATS}
        device = [e for e in events if e.get("ph") == "X" and e.get("cat") in DEVICE_CATS
                  and (e.get("args") or {}).get("correlation") in launched]
        out.append({"traceEvents": host + device, "step": step["name"], "step_s": (t1 - t0) / 1e6})
    return out


def attribute_steps(trace: dict, companion: dict[str, str] | None = None) -> list[dict[str, Attribution | None]]:
    """attribute() of each profiler step of the trace (split_steps); [] when it has none."""
    return [attribute(t, companion=companion) for t in split_steps(trace)]


def per_step(trace: dict, whole: Attribution | None = None, grouping: str = "charsuite",
             companion: dict[str, str] | None = None,
             steps: list[dict[str, Attribution | None]] | None = None) -> list[Attribution]:
    """The primary breakdown of each profiler step (on the whole trace's basis; `grouping`
    study: the study's); the whole trace's own when it has no steps. `steps`: the trace's
    attribute_steps() when the caller has them already (one attribution serves both groupings)."""
    pick = primary if grouping == "charsuite" else (lambda r: r["study"])
    whole = whole or pick(attribute(trace, companion=companion))
    picked = [pick(r) for r in (steps if steps is not None else attribute_steps(trace, companion))]
    return [b for b in picked if b is not None and b.basis == whole.basis and b.total_s > 0] or [whole]


def median_breakdown(steps: list[Attribution]) -> Attribution:
    """One Attribution whose every category is its median seconds over the steps: one slow
    step cannot decide the shares."""
    cats = {c: statistics.median(b.categories.get(c, 0.0) for b in steps) for c in steps[0].categories}
    return Attribution(steps[0].basis, cats, statistics.median(b.coverage for b in steps),
                     steps[len(steps) // 2].unclassified_top, sum(cats.values()))


def share_spread(steps: list[Attribution]) -> dict[str, list[float]]:
    """{category: [min, median, max] share of its step's time} over the steps."""
    shares = [{c: v / b.total_s for c, v in b.categories.items()} for b in steps if b.total_s > 0]
    cats = sorted({c for s in shares for c, v in s.items() if v > 0})
    return {c: [min(s.get(c, 0.0) for s in shares), statistics.median(s.get(c, 0.0) for s in shares),
                max(s.get(c, 0.0) for s in shares)] for c in cats}


def _breakdown(basis: str, units: list[tuple[str, str, float]], tax: Taxonomy,
               names: tuple[str, ...] | None = None) -> Attribution:
    cats = {c: 0.0 for c in (names or tax.categories)}
    by_name: dict[tuple[str, str], float] = defaultdict(float)
    for cat, name, us in units:
        cats[cat] = cats.get(cat, 0.0) + us / 1e6
        by_name[(cat, name)] += us / 1e6
    total = sum(cats.values())
    other = sorted(((n, s) for (c, n), s in by_name.items() if c == "other"), key=lambda x: -x[1])
    coverage = 1.0 - cats.get("other", 0.0) / total if total > 0 else 0.0
    return Attribution(basis, cats, coverage, [(n, round(s, 9)) for n, s in other[:10]], total, dict(by_name))


def primary(result: dict[str, Attribution | None]) -> Attribution:
    """Device time where the trace has kernels, else host time."""
    return result["device"] or result["host"]


def write_csv(result: dict[str, Attribution | None], path: Path) -> None:
    """Per-op (host) and per-kernel (device) totals, one row per (basis, category, name)."""
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["basis", "category", "name", "seconds"])
        for b in (result["host"], result["device"]):
            if b is None:
                continue
            for (cat, name), s in sorted(b.by_name.items(), key=lambda x: -x[1]):
                w.writerow([b.basis, cat, name, f"{s:.9f}"])
