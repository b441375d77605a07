"""The sweep's handle on its worker: start one when needed, ask it for a point, retire it
after any failure (a fresh process carries on), and run the correctness guard once."""

from __future__ import annotations

from typing import Any

from charsuite.config import ConfigError, RunConfig
from charsuite.isolation import Worker
from charsuite.records import Reply, Status
from charsuite.run_plan import RunPlan
from charsuite.worker_requests import Guard, Measure, Profile, Request


class WorkerDriver:
    def __init__(self, run: RunConfig, engine_files: dict[str, str] | None = None, plan: RunPlan | None = None):
        """`plan`: the run's resolved plan (run_plan.py), whose threads, cap enforcement and engine files every
        worker starts from; without one (a test's driver) they are resolved at the first start."""
        self.run = run
        self.engine_files = plan.engine_files if plan is not None else engine_files or {}
        self.worker: Worker | None = None
        self.info: dict[str, Any] = {}           # what the last worker reported at setup
        self.guard: dict[str, Any] | None = None  # max_abs_dlogit, tolerance, passed
        # chosen once per run: every worker computes alike
        self.threads: tuple[int | None, str] | None = (plan.threads, plan.threads_reason) if plan else None
        self.served = 0  # points the live worker has measured: 0 = fresh, no heap history
        # the cap's enforcement (cgroups.resolve), and why
        self.enforcement = (plan.enforcement, plan.enforcement_reason) if plan else None

    @property
    def fresh(self) -> bool:
        return self.worker is None or not self.worker.alive or self.served == 0

    def choose_threads(self) -> tuple[int | None, str]:
        """The plan's threads (run_plan.plan_threads: resolved now where the driver has no plan)."""
        if self.threads is None:
            from charsuite.run_plan import plan_threads

            self.threads = plan_threads(self.run)
        return self.threads

    def ensure(self) -> Reply | None:
        """A live worker; or the failed setup reply if the model cannot even be built."""
        if self.worker is not None and self.worker.alive:
            return None
        threads, why = self.choose_threads()
        if self.enforcement is None:
            from charsuite.cgroups import resolve

            self.enforcement = resolve(self.run.device.memory_enforcement, self.run.device.kind)
        self.served = 0
        self.worker = Worker(self.run, setup_timeout_s=max(self.run.workload.timeout_s, 600.0),
                             engine_files=self.engine_files, threads=threads, enforcement=self.enforcement[0])
        reply = self.worker.start()
        if not reply.ok:
            self.retire()
            return reply
        self.info.update(self.worker.info, threads_reason=why, memory_enforcement=self.enforcement[0],
                         memory_enforcement_reason=self.enforcement[1])
        return None

    def retire(self) -> None:
        """Ask the worker to exit (it finishes nothing more), then make sure it has."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def kill(self) -> None:
        """End the worker's process group now (an interrupt: no waiting on a busy worker)."""
        if self.worker is not None:
            self.worker.kill()
            self.worker.close()
            self.worker = None

    def request(self, req: Request) -> Reply:
        """One request to a live worker; after any failure the worker is replaced."""
        failed = self.ensure()
        if failed:
            return failed
        reply = self.worker.request(req, self.run.workload.timeout_s)
        if reply.status is Status.crashed and "signal" in (reply.error or ""):
            from charsuite.engines import engine_class

            hint = engine_class(self.run.engine.name).crash_hint(self.engine_files)
            reply.error = f"{reply.error}: {hint}" if hint else reply.error
        self.served += isinstance(req, (Measure, Profile))
        # A CUDA out-of-memory is caught in the worker, which frees its cache and carries on:
        # no restart (and no model rebuild) per OOM probe. Anything else gets a fresh worker.
        cuda_oom = reply.status is Status.oom and self.run.device.kind == "cuda" and self.worker.alive
        if not reply.ok and not cuda_oom:
            self.retire()
        return reply

    def fetch_guard(self) -> Reply | None:
        """Run the guard once per run (decode, and chunking when asked); the failed reply if it
        could not run."""
        if self.guard is None:
            reply = self.request(Guard())
            if not reply.ok:
                return reply
            self.guard = reply.guard
        return None

    def check_guard(self) -> Reply | None:
        """None when decode may be measured, else why not."""
        failed = self.fetch_guard()
        if failed is not None:
            return failed
        if not self.guard["passed"]:
            mode = self.run.workload.mode
            how = f" ({mode} mode, static cache)" if mode != "eager" else ""
            return Reply.failed(Status.error, f"cached decode{how} disagrees with a full forward: max |dlogit| "
                                              f"{self.guard['max_abs_dlogit']:.3g} > {self.guard['tolerance']:g}")
        return None

    def check_chunking(self) -> None:
        """workload.prefill_chunk on a family whose transformers code cannot carry its cache
        across a multi-token forward is bad input: one line naming the family, before any point."""
        failed = self.fetch_guard()
        if failed is not None:
            raise ConfigError(f"cannot check chunked prefill for {self.run.model.name}: {failed.error}")
        c = self.guard.get("chunk") or {}
        if not c.get("passed"):
            m = self.run.model
            raise ConfigError(
                f"workload.prefill_chunk: {m.name} ({m.arch}) cannot prefill in chunks with transformers "
                f"{transformers_version()}: its last logits after {c.get('length')} tokens in chunks of "
                f"{c.get('chunk')} differ from one forward's by {c.get('max_abs_dlogit', float('nan')):.3g} > "
                f"{self.guard['tolerance']:g} (the cache is not carried across a multi-token forward); "
                "use workload.prefill_chunk=null")


def transformers_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:
        return "(not installed)"
