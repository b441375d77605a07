"""The sweep's handle on its worker: start one when needed, ask it for a point, retire it
after any failure (a fresh process carries on), and run the correctness guard once."""

from __future__ import annotations

from charsuite.config import ConfigError, RunConfig
from charsuite.isolation import Worker
from charsuite.records import Reply, Status
from charsuite.run_plan import RunPlan
from charsuite.run_records import ChunkVerdict, GuardVerdict, WorkerInfo
from charsuite.worker_requests import Guard, Measure, Profile, Request


class WorkerDriver:
    def __init__(self, run: RunConfig, plan: RunPlan | None = None):
        """`plan`: the run's resolved plan (run_plan.py) every worker starts from - its cap and the cap's
        enforcement, threads and engine files; resolved here where none is given (a test's driver)."""
        from charsuite.run_plan import resolve_plan

        self.run = run
        self.plan = plan if plan is not None else resolve_plan(run)
        self.worker: Worker | None = None
        self.info = WorkerInfo()                 # what the last worker reported at setup
        self.guard: GuardVerdict | None = None
        self.served = 0  # points the live worker has measured: 0 = fresh, no heap history

    @property
    def fresh(self) -> bool:
        return self.worker is None or not self.worker.alive or self.served == 0

    def ensure(self) -> Reply | None:
        """A live worker; or the failed setup reply if the model cannot even be built."""
        if self.worker is not None and self.worker.alive:
            return None
        self.served = 0
        self.worker = Worker(self.run, self.plan, setup_timeout_s=max(self.run.workload.timeout_s, 600.0))
        reply = self.worker.start()
        if not reply.ok:
            self.retire()
            return reply
        self.info = self.worker.info
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

            hint = engine_class(self.run.engine.name).crash_hint(self.plan.engine_files)
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
            self.guard = reply.guard or GuardVerdict()  # an answer without a verdict passes nothing
        return None

    def check_guard(self) -> Reply | None:
        """None when decode may be measured, else why not."""
        failed = self.fetch_guard()
        if failed is not None:
            return failed
        if not self.guard.passed:
            mode = self.run.workload.mode
            how = f" ({mode} mode, static cache)" if mode != "eager" else ""
            return Reply.failed(Status.error, f"cached decode{how} disagrees with a full forward: max |dlogit| "
                                              f"{_number(self.guard.max_abs_dlogit)} > {_number(self.guard.tolerance)}")
        return None

    def check_chunking(self) -> None:
        """workload.prefill_chunk on a family whose transformers code cannot carry its cache
        across a multi-token forward is bad input: one line naming the family, before any point."""
        failed = self.fetch_guard()
        if failed is not None:
            raise ConfigError(f"cannot check chunked prefill for {self.run.model.name}: {failed.error}")
        c = self.guard.chunk or ChunkVerdict()
        if not c.passed:
            m = self.run.model
            raise ConfigError(
                f"workload.prefill_chunk: {m.name} ({m.arch}) cannot prefill in chunks with transformers "
                f"{transformers_version()}: its last logits after {c.length} tokens in chunks of "
                f"{c.chunk} differ from one forward's by {_number(c.max_abs_dlogit)} > "
                f"{_number(self.guard.tolerance)} (the cache is not carried across a multi-token forward); "
                "use workload.prefill_chunk=null")


def transformers_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:
        return "(not installed)"


def _number(x: float | None) -> str:
    return "nan" if x is None else f"{x:.3g}"
