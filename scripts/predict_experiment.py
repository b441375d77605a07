"""Predicted largest context of every model in a named experiment, on each of the experiment's
devices, for both SSM paths and both methods - a markdown table for notes and papers.

    python scripts/predict_experiment.py ispass_rtx4090 [workload.logits=all ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    from charsuite.analysis.facts import model_facts
    from charsuite.analysis.memory_model import max_context
    from charsuite.batch import experiment_devices
    from charsuite.compose import compose
    from charsuite.config import CONF_DIR
    from charsuite.simulate.boundary import dry_run_search, options
    from charsuite.units import human_tokens

    name, extra = sys.argv[1], sys.argv[2:]
    exp = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "experiment" / f"{name}.yaml"), resolve=True)
    print("| device | model | size | impl | dry-run | analytic | dry-run s |\n|---|---|---|---|---|---|---|")
    for device, family, sizes in [(d, f, s) for d in experiment_devices(exp) for f, s in exp["models"].items()]:
        for size in sizes:
            base = [f"+model={family}", f"model.size={size}", f"device={device}", *exp.get("overrides", []), *extra]
            for impl in ("reference", "kernels"):
                run = compose(base + [f"model.impl={impl}"])
                w = run.workload
                limit = run.device.memory_limit_bytes()
                t0 = time.perf_counter()
                b = dry_run_search(run.model, limit, start=run.context.min, tolerance=run.context.tolerance_at,
                                   **options(run, impl))
                wall = time.perf_counter() - t0
                facts = model_facts(run.model)
                a = max_context(facts, limit, w.batch, w.logits, impl=impl)
                fmt = (lambda n: human_tokens(n) if n else "none")
                row = [device, family, size, impl, fmt(b.largest), fmt(a), f"{wall:.0f}"]
                print(f"| {' | '.join(map(str, row))} |", flush=True)


if __name__ == "__main__":
    main()
