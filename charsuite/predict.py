"""`python -m charsuite.predict +model=FAMILY [model.size=SIZE] [device=PROFILE] [format=json]`:
the analytic memory model at every ladder length and the predicted largest context on
the device, without running the model."""

from __future__ import annotations

import json
import sys

from charsuite.analysis.memory_model import max_context, predict
from charsuite.cli import split_argv, validate
from charsuite.config import ConfigError
from charsuite.models import meta_sizes
from charsuite.units import human_bytes, human_tokens


def compose_run(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from charsuite.config import CONF_DIR, to_run_config

    validate(overrides)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    GlobalHydra.instance().clear()
    return to_run_config(cfg)


def report(run) -> dict:
    spec, w = run.model, run.workload
    params, buffers = meta_sizes(spec)
    limit = run.device.memory_limit_bytes()
    rows = [predict(spec, n, w.batch, w.logits, params, buffers).as_dict() for n in run.context.lengths()]
    return {
        "model": spec.name, "size": spec.size, "dtype": spec.dtype, "device": run.device.name, "params": params,
        "batch": w.batch, "logits": w.logits, "memory_limit_bytes": limit,
        "predicted_max_context": max_context(spec, limit, w.batch, w.logits) if limit else None,
        "ladder": rows,
    }


def main(argv: list[str] | None = None) -> int:
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
        run = compose_run(overrides)
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


if __name__ == "__main__":
    raise SystemExit(main())
