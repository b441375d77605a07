"""The measuring process. Started by isolation.Worker with `python -m charsuite.worker`.

It caps its own memory, builds the model once (through an engine), then answers one
JSON request per line on stdin with one Reply (records.py) per line on the file
descriptor in CHARSUITE_RESULT_FD. It knows nothing of sweeps: it measures the point it
is asked for. Running out of memory is caught here and reported as `oom`; anything
worse kills the process, and the driver records that as `crashed`.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import statistics
import sys
import time
import traceback

from charsuite import allocator
from charsuite.errors import one_line
from charsuite.faults import inject_fault
from charsuite.records import Reply, Status
from charsuite.run_records import ChunkVerdict, GuardVerdict, WorkerInfo
from charsuite.worker_requests import Guard, Measure, Profile, Setup, decode

OOM_MARKERS = ("out of memory", "can't allocate memory", "cannot allocate memory", "failed to allocate")


def cap_memory(limit_bytes: int | None) -> None:
    """Hard cap on the data segment (heap + private mappings): an allocation past it
    fails with a catchable error instead of summoning the kernel's OOM killer."""
    if limit_bytes:
        resource.setrlimit(resource.RLIMIT_DATA, (limit_bytes, limit_bytes))


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    return name == "OutOfMemoryError" or any(m in str(exc).lower() for m in OOM_MARKERS)


class Session:
    """A built engine and the settings to measure it with."""

    def __init__(self, setup: Setup):
        import torch

        from charsuite.config import DeviceConfig, ModelConfig, WorkloadConfig
        from charsuite.engines import engine_class
        from charsuite.environment import device_name
        from charsuite.trackers.load import LoadTracker
        from charsuite.trackers.memory import current_bytes
        from charsuite.trackers.registry import power_tracker

        self.model_cfg = ModelConfig(**setup.model)
        self.device_cfg = DeviceConfig(**setup.device)
        self.workload = WorkloadConfig(**setup.workload)
        if self.device_cfg.kind == "cuda":
            self.device = torch.device("cuda")
            limit = setup.memory_limit_bytes
            total = torch.cuda.get_device_properties(0).total_memory
            if limit and limit < total:
                torch.cuda.set_per_process_memory_fraction(limit / total, 0)
        else:
            self.device = torch.device("cpu")
        self.malloc, malloc_info = allocator.start(self.device.type, self.device_cfg.malloc)
        # the driver chose the threads once for the whole run (trackers/load.choose_threads)
        torch.set_num_threads(setup.threads or self.device_cfg.threads or len(os.sched_getaffinity(0)))
        t0 = time.perf_counter()
        self.engine = engine_class(setup.engine)(
            self.model_cfg, self.device, mode=self.workload.mode, settings=setup.engine_settings,
            files=setup.engine_files, threads=setup.threads)
        build_s = time.perf_counter() - t0
        # what runs, watched (engines/provenance.py) before the resident set is read: the watch's
        # forward and profiler leave some MiB behind, part of the runtime every point starts from
        from charsuite.engines.provenance import check_kernels

        impl = self.engine.observe()
        check_kernels(self.model_cfg.impl, impl, self.model_cfg.name)
        self.power = power_tracker(self.device_cfg.power_monitor, self.device_cfg.kind)
        self.load = LoadTracker()
        self.idle_power_w = self.power.idle_power_w() if self.power.name != "none" else None
        self.info = WorkerInfo.of_engine(
            self.engine.implementations(), engine=self.engine.name, params=self.engine.params, build_s=build_s,
            resident_bytes=current_bytes(torch.device("cpu")),  # the worker's resident set after the build
            pid=os.getpid(), threads=self.engine.threads or torch.get_num_threads(),
            max_positions=self.engine.max_positions, device_name=device_name(self.device),
            power_monitor=self.power.name, idle_power_w=self.idle_power_w, malloc=malloc_info, impl=impl,
            quant=getattr(self.engine, "quant", None))

    def guard(self) -> Reply:
        """Cached decode against a full forward; with workload.prefill_chunk also the chunked
        prefill against a one-shot one - both in the run's own mode."""
        from charsuite.measure import chunked_matches_one_shot, decode_matches_forward

        delta = decode_matches_forward(self.engine, self.device)
        tol = self.engine.guard_tolerance(self.workload.guard_tolerance.get(self.model_cfg.dtype, 1e-3))
        guard = GuardVerdict(max_abs_dlogit=delta, tolerance=tol, passed=delta <= tol, mode=self.engine.mode)
        if self.workload.prefill_chunk:
            d, c, n = chunked_matches_one_shot(self.engine, self.device, self.workload.prefill_chunk)
            guard.chunk = ChunkVerdict(max_abs_dlogit=d, chunk=c, length=n, passed=d <= tol)
        return Reply(guard=guard)

    def _input(self, context: int):
        from charsuite.measure import random_tokens

        w = self.workload
        return random_tokens(self.engine.vocab_size, w.batch, context, w.seed, self.device)

    def _too_long(self, phase: str, context: int) -> Reply | None:
        limit, extra = self.engine.max_positions, self.workload.decode_tokens + 1 if phase == "decode" else 0
        if limit is not None and context + extra > limit:  # the sweep stops below; a guard all the same
            return Reply.failed(Status.error, f"context {context} (+{extra}) exceeds the model's {limit} positions")

    def measure(self, phase: str, context: int) -> Reply:
        import torch

        from charsuite import compiles
        from charsuite.measure import measure_phase
        from charsuite.noise import StopRule, assess
        from charsuite.trackers.power import phase_energy

        inject_fault(phase, context)
        if (too_long := self._too_long(phase, context)) is not None:
            return too_long
        w = self.workload
        rule = StopRule(w.repeats, w.max_repeats, w.target_rel_ci, w.repeat_time_s)
        r = measure_phase(self.engine, self.device, phase, self._input(context), w.logits, w.decode_tokens,
                          w.warmup, rule, trackers=[self.power, self.load], malloc=self.malloc,
                          chunk=w.prefill_chunk)
        energy = phase_energy(r.readings[0], self.idle_power_w, len(r.samples_s), r.tokens)
        from charsuite.measure import engine_clock

        own = engine_clock(self.engine.take_perf(), phase, len(r.samples_s), r.per_call)
        noise = assess(r.samples_s, r.readings[1], energy.throttled, w.target_rel_ci,
                       threads=torch.get_num_threads() if self.device.type == "cpu" else 1)
        compiled = compiles.fields(r, noise) if self.engine.mode == "compile" else {}
        return Reply(latency_s=r.latency_s, latency_samples_s=r.samples_s, tokens_per_s=r.tokens_per_s,
                     peak_mem_bytes=r.peak_mem_bytes, mem=r.mem, compile_s=r.compile_s, engine_latency_s=own,
                     **compiled, **vars(energy), **vars(noise))

    def profile(self, phase: str, context: int, trace_path: str, steps: int = 1, eager: bool = False) -> Reply:
        """The phase's own timed step, run again under the profiler (one traced warmup step,
        then `steps` profiled ones); writes the trace. Latencies as measure() reports them.
        `eager`: decode steps run eagerly, not replayed from a CUDA graph (profiling.py's companion)."""
        from charsuite.measure import phase_step, repeat
        from kernels_profile.capture import profiled

        if (too_long := self._too_long(phase, context)) is not None:
            return too_long
        w = self.workload
        step = phase_step(self.engine, phase, self._input(context), w.logits, w.decode_tokens, self.malloc,
                          w.prefill_chunk, decode_calls=steps + 2)
        graphs = getattr(self.engine, "graphs", None)
        self.engine.graphs = None if eager else graphs
        try:
            with profiled(self.engine.profiled_module(), trace_path, self.device, warmup=1, active=steps) as on_step:
                samples, _, _ = repeat(step.run, self.device, warmup=1, repeats=steps, on_step=on_step)
        finally:
            self.engine.graphs = graphs
        per = [s / step.per_call for s in samples]
        return Reply(latency_s=statistics.median(per), latency_samples_s=per, trace_path=trace_path)


def serve(inp, out) -> None:
    session: Session | None = None

    def reply(msg: Reply) -> None:
        out.write(json.dumps(msg.to_dict(), default=float) + "\n")
        out.flush()

    for line in inp:
        if not line.strip():
            continue
        t0 = time.perf_counter()
        try:
            req = decode(line)
            if isinstance(req, Setup):
                cap_memory(req.rlimit_bytes)
                session = Session(req)
                msg = Reply(info=session.info)
            elif isinstance(req, Guard):
                msg = session.guard()
            elif isinstance(req, Profile):
                msg = session.profile(req.phase, int(req.context), req.trace_path, int(req.steps), bool(req.eager))
            elif isinstance(req, Measure):
                msg = session.measure(req.phase, int(req.context))
            else:  # Exit
                return
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a verdict
            if isinstance(exc, KeyboardInterrupt):
                raise
            status = Status.oom if is_oom(exc) else Status.error
            if status is Status.error:
                traceback.print_exc(file=sys.stderr)
            elif session is not None:  # the failed step's tensors are gone: hand the CUDA cache back
                from charsuite.trackers.memory import release_free_memory

                release_free_memory(session.device)
            msg = Reply.failed(status, one_line(exc)[:500])  # one line; what a verdict carries
        msg.worker_s = time.perf_counter() - t0
        reply(msg)


def die_with_driver() -> None:
    """No orphans: the kernel sends this process SIGKILL when its driver dies, however it
    dies (Linux PR_SET_PDEATHSIG); if the driver is already gone, go now."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux/glibc: the closed request pipe still ends serve()
        pass
    driver = os.environ.get("CHARSUITE_DRIVER_PID")
    if driver and os.getppid() != int(driver):
        os._exit(1)


def main() -> None:
    die_with_driver()
    # A scheduler's warning ahead of a time limit or preemption (Slurm's --signal, which submitit
    # sets to SIGUSR2) reaches every process of the job; it is the driver's to act on, and would
    # otherwise end this worker mid-point (SIGUSR1/2 terminate by default).
    for sig in (signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)
    fd = int(os.environ["CHARSUITE_RESULT_FD"])
    with os.fdopen(fd, "w") as out:
        serve(sys.stdin, out)


if __name__ == "__main__":
    main()
