"""`python -m charsuite.predict +model=FAMILY [model.size=SIZE] [device=PROFILE] [model.impl=auto|reference|kernels]
[method=dryrun|analytic] [format=table|json]`: memory at every ladder length and the largest
context the device holds, without running the model.

method=dryrun (the default) runs the model's own forward on fake tensors (simulate/) on
the simulated device's code path; method=analytic is the closed-form model
(analysis/memory_model.py). Every answer prints the assumptions it rests on."""

from __future__ import annotations

import json
import sys
import time

from charsuite.cli import split_argv
from charsuite.compose import compose
from charsuite.config import ConfigError, choices
from charsuite.errors import help_or_version, run_command
from charsuite.units import human_bytes, human_tokens

METHODS = ("dryrun", "analytic")
FORMATS = ("table", "json")


def target_impl(run) -> str:
    """The SSM path on the simulated device: on a CUDA profile `auto` means the kernels
    (a GPU user installs the CUDA extra), whether or not they import here."""
    from charsuite.engines import kernel_paths, spec

    if spec(run.engine.name).own_kernels:
        return "kernels"
    return kernel_paths.resolve(run.model.impl, run.device.kind, importable=run.device.kind == "cuda")


def assumptions(run, impl: str, method: str, autotuned: bool) -> list[str]:
    """What a prediction rests on; `autotuned`: whether the code predicted launches autotuned Triton kernels (the
    dry-run saw them launch; the closed form takes the transformers kernel path's model types)."""
    d = run.device
    out = [f"memory: {human_bytes(d.memory_limit_bytes())} usable"
           + (f" ({d.usable_memory_source})" if d.usable_memory_source else
              " (the cap charsuite enforces on its worker)" if d.kind == "cpu" else "")]
    out.append(f"engine: {run.engine.name}; SSM path: {impl}"
               + (" (the mamba-ssm and causal-conv1d kernels, assumed installed on the target)"
                  if impl == "kernels" else " (transformers' PyTorch code)"))
    if d.kind == "cuda":
        from charsuite.simulate.boundary import options

        expandable = options(run, impl)["expandable_segments"]
        out.append("attention: SDPA's flash kernel (no L x L matrix) unless the model asks for eager; allocator: "
                   f"the caching allocator's rounding {'with' if expandable else 'without'} expandable segments; "
                   "the boundary is where what its live blocks hold (`needed`: its reserve less the cached free "
                   "blocks it releases before reporting out of memory) passes the usable memory; a fresh process's "
                   f"first call allocates once {first_call_terms(run, autotuned)} (simulate/first_call.py), reported "
                   "apart, not in the peak (a measured point warms up first: mem.first_call); not modelled: cuDNN's "
                   "workspace and other processes on the GPU")
    else:
        out.append("the worker's own runtime (interpreter, libraries: a few hundred MB) is not counted")
    chunk = run.workload.prefill_chunk
    out.append(f"one sequence of batch {run.workload.batch}, logits={run.workload.logits}, prefill "
               + (f"in chunks of {chunk} tokens (logits of the last chunk)" if chunk else "in one forward")
               + "; the peak is the larger of the prefill and one cached decode step")
    if method == "analytic":
        out.append("analytic: a closed form of the same forward (analysis/memory_model.py); the dry-run is the "
                   "reference it is checked against")
    return out


def predicted_latency(run, out: dict, recorded: dict | None = None) -> dict:
    """predict's `latency=true`: simulated time to first token and per decoded token, added to each ladder row,
    from the dry-run's ops (`recorded` by the ladder's own dry-runs) at this machine's calibrated (or data-sheet)
    peaks (simulate/latency.py); returns what labels them: simulated, the peaks used, the gaps."""
    from charsuite.simulate import latency
    from charsuite.simulate.boundary import options

    rows, roof = latency.ladder(run, run.model, [r["context"] for r in out["ladder"]], options(run, out["impl"]),
                                recorded)
    if roof is None:
        return {"simulated": True, "why_none": f"no peaks for {run.device.name}: run `charsuite calibrate "
                f"device={run.device.name}` on it (the profile has no data-sheet peaks for {run.model.dtype})"}
    for row, lat in zip(out["ladder"], rows):
        row.update({k: v for k, v in lat.items() if k != "context"})
    peaks = {k: v for k, v in vars(roof).items() if k not in ("grid", "attention")}
    peaks.update(gemm_shapes=len(roof.grid), attention_shapes=len(roof.attention))
    return {"simulated": True, "peaks": peaks, "gaps": latency.KNOWN_GAPS}


def print_latency(out: dict) -> None:
    lat = out["latency"]
    if "why_none" in lat:
        print(f"latency: {lat['why_none']}")
        return
    p = lat["peaks"]
    print(f"latency (simulated, {p['basis']} peaks: {p['tflops']:.3g} TFLOP/s, {p['gbs']:.3g} GB/s; host: "
          f"{p['dispatch_us']:.2g} us per dispatched op" +
          (f", {p['forward_us']:.3g} us per transformers forward beyond its ops" if p.get("forward_us") else "") +
          (f" ({p['host_basis']})" if p.get("host_basis") else "") + "):")
    print(f"{'context':>8} {'TTFT':>10} {'bound':>8} {'s/token':>10} {'bound':>8}")
    for r in out["ladder"]:
        if "prefill_s" not in r:
            print(f"{human_tokens(r['context']):>8} {r.get('latency_error') or r.get('error') or '-'}")
            continue
        print(f"{human_tokens(r['context']):>8} {r['prefill_s'] * 1e3:>8.3g} ms {r['latency_bound']:>8} "
              f"{r['decode_s_per_token'] * 1e3:>8.3g} ms {r['decode_bound']:>8}")
    print(f"  not modelled yet: {lat['gaps']}")


def first_call_terms(run, autotuned: bool) -> str:
    from charsuite.simulate.first_call import TRITON_AUTOTUNE_BUFFER, cublas_workspace

    cap = run.device.compute_capability
    terms = [f"cuBLAS's workspace {human_bytes(cublas_workspace(cap))}"
             + (f" (compute capability {cap:g})" if cap else " (capability unknown: not Hopper assumed)")]
    if autotuned:
        terms.append(f"Triton's autotune buffer {human_bytes(TRITON_AUTOTUNE_BUFFER)}")
    return " + ".join(terms)


def say(line: str) -> None:
    """A progress line on stderr (the answer itself goes to stdout): dry-runs take seconds each."""
    print(f"charsuite.predict: {line}", file=sys.stderr, flush=True)


def prediction(run, method: str = "dryrun", latency: bool = False) -> dict:
    """Memory at each ladder length and the predicted boundary; with `latency`, the ladder's dry-runs record
    each op's cost too and out["latency"] holds the simulated latency."""
    from charsuite.analysis.facts import model_facts
    from charsuite.analysis.memory_model import max_context, predict

    spec, w, d = run.model, run.workload, run.device
    impl = target_impl(run)
    limit = d.memory_limit_bytes()
    lengths = run.context.lengths()
    out = {"model": spec.name, "size": spec.size, "dtype": spec.dtype, "device": d.name, "method": method,
           "impl": impl, "batch": w.batch, "logits": w.logits, "prefill_chunk": w.prefill_chunk,
           "memory_limit_bytes": limit,
           "usable_memory_source": d.usable_memory_source}
    if method == "analytic":
        from charsuite.engines import memory_model_applies

        if not memory_model_applies(run.engine.name, None):
            raise ConfigError(f"method=analytic is a closed form of transformers' forward; engine={run.engine.name} "
                              "is predicted by its dry-run: method=dryrun (the default)")
        if w.prefill_chunk:
            raise ConfigError("method=analytic models a one-shot prefill; use method=dryrun (the default) "
                              "for workload.prefill_chunk")
        from charsuite.simulate.first_call import kernel_path_autotuned

        facts = model_facts(spec)
        out["assumptions"] = assumptions(run, impl, method, kernel_path_autotuned(impl, facts.model_type))
        out["params"] = facts.params
        out["ladder"] = [predict(facts, n, w.batch, w.logits, impl=impl).as_dict() for n in lengths]
        out["predicted_max_context"] = max_context(facts, limit, w.batch, w.logits, impl=impl) if limit else None
        if latency:  # the closed form has no ops: the ladder is dry-run for them
            out["latency"] = predicted_latency(run, out)
        return out
    from charsuite.simulate.boundary import dry_run_search, options
    from charsuite.simulate.dryrun import PastPositions, dry_run
    from charsuite.simulate.op_costs import OpCostRecorder

    kw = options(run, impl)
    rows, recorded = [], {}
    for i, n in enumerate(lengths, 1):
        t0 = time.perf_counter()
        rec = OpCostRecorder() if latency else None
        try:
            rows.append(dry_run(spec, n, op_costs=rec, **kw).as_dict())
        except PastPositions as exc:
            rows.append({"context": n, "error": str(exc)})
        else:
            if rec is not None:
                recorded[n] = rec.costs
        say(f"dry-run {i}/{len(lengths)} of the ladder: {human_tokens(n)} tokens ({time.perf_counter() - t0:.1f} s)")
    out["assumptions"] = assumptions(run, impl, method, any(r.get("autotuned") for r in rows))
    out["params"] = model_facts(spec).params
    out["ladder"] = rows
    if latency:
        out["latency"] = predicted_latency(run, out, recorded)
    if limit:
        # chunked, the state may never fill the cap: the search stops at context.max, not 4M tokens
        upper = {"upper": run.context.max} if w.prefill_chunk else {}
        probes = iter(range(1, 1000))
        say(f"searching the largest context within {human_bytes(limit)} (doubling, then bisecting)")
        b = dry_run_search(spec, limit, start=lengths[0], tolerance=run.context.tolerance_at, **upper, **kw,
                           on_probe=lambda n, ok, s: say(f"boundary dry-run {next(probes)}: {human_tokens(n)} "
                                                         f"tokens {'fits' if ok else 'does not fit'} ({s:.1f} s)"))
        out["predicted_max_context"] = b.largest
        out["search"] = {"probes": len(b.probes), "seconds": round(b.seconds, 1),
                         "smallest_failing": b.smallest_failing}
    return out


def print_prediction(out: dict) -> None:
    print(f"{out['model']} {out['size']} ({out['dtype']}, {out['params']:,} parameters) on {out['device']}: "
          f"{out['method']}, SSM path {out['impl']}, batch {out['batch']}, logits={out['logits']}")
    cols = ("weights", "kv_cache", "ssm_state", "logits", "activations")
    extra = ("reserved", "needed") if out["method"] == "dryrun" else ()
    print(f"{'context':>8} " + " ".join(f"{c:>11}" for c in cols + ("peak",) + extra))
    for r in out["ladder"]:
        if "error" in r:
            print(f"{human_tokens(r['context']):>8} {r['error']}")
            continue
        peak = r.get("peak", r.get("total"))
        print(f"{human_tokens(r['context']):>8} " + " ".join(f"{human_bytes(r[c]):>11}" for c in cols)
              + f" {human_bytes(peak):>11}" + "".join(f" {human_bytes(r[c]):>11}" for c in extra))
    if out["memory_limit_bytes"]:
        mc = out["predicted_max_context"]
        s = out.get("search")
        print(f"predicted largest context within {human_bytes(out['memory_limit_bytes'])}: "
              f"{human_tokens(mc) if mc else 'none (not even the shortest fits)'}"
              + (f"  [{s['probes']} dry-runs, {s['seconds']} s]" if s else ""))
    if "latency" in out:
        print_latency(out)
    print("assumptions:")
    for a in out["assumptions"]:
        print(f"  - {a}")


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if (done := help_or_version("charsuite.predict", argv, __doc__)) is not None:
        return done
    opts = {"format": "table", "method": "dryrun", "latency": "false"}
    rest = []
    for a in argv:
        key = a.split("=", 1)[0]
        if key in opts and "=" in a:
            opts[key] = a.split("=", 1)[1]
        else:
            rest.append(a)
    for key, valid in (("format", FORMATS), ("method", METHODS), ("latency", ("true", "false"))):
        if opts[key] not in valid:
            raise ConfigError(f"unknown {key} {opts[key]!r}; choose one of: {', '.join(valid)}")
    _, overrides = split_argv(rest)
    if not any(o.lstrip("+~").startswith("model=") for o in overrides):
        raise ConfigError(f"no model chosen; add +model=NAME with NAME one of: {', '.join(choices('model'))}")
    out = prediction(compose(overrides), opts["method"], latency=opts["latency"] == "true")
    if opts["format"] == "json":
        print(json.dumps(out, indent=2))
    else:
        print_prediction(out)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("charsuite.predict", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
