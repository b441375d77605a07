"""What the run's own models predict for the points it measures, beside them on each line (issue 27 asked for an
object in place of the closures app.py once handed the sweep; issue 30 for predicted latency beside measured):

memory(phase, n)    the closed-form memory model's split (`mem_predicted`), where it models the engine's forward
boundary(resident)  context.start=predicted: the prefill boundary by bisection on dry-runs of the plan's code path
latency(phase, n)   with workload.predict_latency: the latency model's seconds (simulate/latency.py: the dry-run's
                    ops at this machine's calibrated, else data-sheet, peaks) - `latency_predicted_s`, simulated

Every prediction is made in the driver, from the code and the calibration, never from a measured point."""

from __future__ import annotations

import sys

from charsuite.analysis.memory_model import ModelFacts, predict
from charsuite.config import RunConfig
from charsuite.engines import memory_model_applies, spec
from charsuite.errors import one_line
from charsuite.run_plan import RunPlan


class RunPredictions:
    def __init__(self, run: RunConfig, plan: RunPlan, facts: ModelFacts):
        self.run, self.plan, self.facts = run, plan, facts
        self.modelled = memory_model_applies(run.engine.name, run.workload.prefill_chunk)
        self._latency: dict[int, dict[str, float] | None] = {}
        self.latency_basis: str | None = None  # the peaks the latency model used (calibrated ... | data sheet)

    def max_context(self) -> int | None:
        """The closed form's largest context under the cap (run.json): for a one-shot prefill of the engine it
        was derived from, where a cap is set."""
        from charsuite.analysis.memory_model import max_context

        limit, w = self.plan.memory_limit_bytes, self.run.workload
        if not limit or w.prefill_chunk or not self.modelled:
            return None
        return max_context(self.facts, limit, w.batch, w.logits)

    def memory(self, phase: str, context: int) -> dict[str, int] | None:
        """The closed form models a one-shot prefill of the engine it was derived from (transformers)."""
        if not self.modelled:
            return None
        w = self.run.workload
        return predict(self.facts, context, w.batch, w.logits if phase == "prefill" else "last").as_dict()

    def boundary(self, resident_bytes: int) -> int | None:
        """The prefill boundary less the worker's runtime: on a CPU the cap holds the worker's resident set beyond
        the weights (interpreter, libraries), which the dry-run does not see; None where it cannot say (the
        plain ladder still finds the boundary)."""
        from charsuite.simulate.boundary import dry_run_search, options

        if not self.plan.memory_limit_bytes:
            return None
        run = self.run
        runtime = max(0, resident_bytes - predict(self.facts, 1).weights) if run.device.kind == "cpu" else 0
        try:
            b = dry_run_search(run.model, self.plan.memory_limit_bytes, start=run.context.min,
                               upper=run.context.max, tolerance=run.context.tolerance_at, runtime_bytes=runtime,
                               **options(run, self.plan.kernel_path or "reference"))
        except Exception as exc:  # noqa: BLE001 - no prediction: the plain ladder still finds the boundary
            print(f"charsuite: context.start=predicted: no dry-run prediction ({one_line(exc)}); walking the "
                  "whole ladder", file=sys.stderr)
            return None
        return b.largest

    def latency(self, phase: str, context: int) -> float | None:
        """Seconds of the phase (prefill: the forward; decode: per token) at `context`, one dry-run per length
        for both phases; None where it is not asked for, the engine has no dry-run, or the machine no peaks."""
        if not self.run.workload.predict_latency or spec(self.run.engine.name).dry_run is None:
            return None
        if context not in self._latency:
            self._latency[context] = self._predict_latency(context)
        got = self._latency[context]
        return got.get(phase) if got else None

    def _predict_latency(self, context: int) -> dict[str, float] | None:
        from charsuite.simulate.boundary import options
        from charsuite.simulate.latency import ladder

        try:
            rows, roof = ladder(self.run, self.run.model, [context],
                                options(self.run, self.plan.kernel_path or "reference"))
        except Exception as exc:  # noqa: BLE001 - a prediction that cannot be made is no prediction
            print(f"charsuite: workload.predict_latency: no prediction at {context} tokens ({one_line(exc)})",
                  file=sys.stderr)
            return None
        if roof is None or not rows or "prefill_s" not in rows[0]:
            return None
        self.latency_basis = roof.basis
        return {"prefill": rows[0]["prefill_s"], "decode": rows[0]["decode_s_per_token"]}
