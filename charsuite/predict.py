"""`python -m charsuite.predict +model=FAMILY [model.size=SIZE] [device=PROFILE] [format=json]`:
the analytic memory model at every ladder length and the predicted largest context on
the device, without running the model."""

from __future__ import annotations

import json
import sys

from charsuite.analysis.facts import model_facts
from charsuite.analysis.memory_model import max_context, predict
from charsuite.cli import split_argv
from charsuite.compose import compose
from charsuite.config import ConfigError, choices
from charsuite.errors import run_command
from charsuite.units import human_bytes, human_tokens


def report(run) -> dict:
    spec, w = run.model, run.workload
    facts = model_facts(spec)
    limit = run.device.memory_limit_bytes()
    rows = [predict(facts, n, w.batch, w.logits).as_dict() for n in run.context.lengths()]
    return {
        "model": spec.name, "size": spec.size, "dtype": spec.dtype, "device": run.device.name, "params": facts.params,
        "batch": w.batch, "logits": w.logits, "memory_limit_bytes": limit,
        "predicted_max_context": max_context(facts, limit, w.batch, w.logits) if limit else None,
        "ladder": rows,
    }


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    fmt = "table"
    rest = []
    for a in argv:
        if a.startswith("format="):
            fmt = a.split("=", 1)[1]
        else:
            rest.append(a)
    if fmt not in ("table", "json"):
        print(f"charsuite.predict: unknown format {fmt!r}; choose one of: table, json", file=sys.stderr)
        return 2
    _, overrides = split_argv(rest)
    try:
        if not any(o.lstrip("+~").startswith("model=") for o in overrides):
            raise ConfigError(f"no model chosen; add +model=NAME with NAME one of: {', '.join(choices('model'))}")
        run = compose(overrides)
    except ConfigError as exc:
        print(f"charsuite.predict: {exc}", file=sys.stderr)
        return 2
    out = report(run)
    if fmt == "json":
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['model']} {out['size']} ({out['dtype']}, {out['params']:,} parameters) on {out['device']}, "
          f"batch {out['batch']}, logits={out['logits']}")
    print(f"{'context':>8} {'weights':>10} {'KV cache':>10} {'SSM state':>10} {'logits':>10} {'activations':>12} "
          f"{'total':>10}")
    for r in out["ladder"]:
        print(f"{human_tokens(r['context']):>8} {human_bytes(r['weights']):>10} {human_bytes(r['kv_cache']):>10} "
              f"{human_bytes(r['ssm_state']):>10} {human_bytes(r['logits']):>10} {human_bytes(r['activations']):>12} "
              f"{human_bytes(r['total']):>10}")
    if out["memory_limit_bytes"]:
        mc = out["predicted_max_context"]
        print(f"predicted largest context within {human_bytes(out['memory_limit_bytes'])}: "
              f"{human_tokens(mc) if mc else 'none (the weights alone do not fit)'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("charsuite.predict", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
