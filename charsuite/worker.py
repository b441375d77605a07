"""The measuring process. Started by isolation.Worker with `python -m charsuite.worker`.

It caps its own memory, builds the model once, then answers one JSON request per line
on stdin with one JSON reply per line on the file descriptor in CHARSUITE_RESULT_FD.
It knows nothing of sweeps: it measures the point it is asked for. Running out of
memory is caught here and reported as `oom`; anything worse kills the process, and
the driver records that as `crashed`.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any

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


def inject_fault(phase: str, context: int) -> None:
    """Test seam: CHARSUITE_FAULT="kill:prefill:512" or "hang:decode:256" makes the worker
    die by SIGKILL or hang at that point, as a segfault or a deadlock would."""
    fault = os.environ.get("CHARSUITE_FAULT")
    if not fault:
        return
    kind, f_phase, f_context = fault.split(":")
    if f_phase == phase and int(f_context) == context:
        if kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif kind == "hang":
            time.sleep(24 * 3600)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:500]


class Session:
    """A built model and the settings to measure it with."""

    def __init__(self, setup: dict[str, Any]):
        import torch

        from charsuite.config import DeviceConfig, ModelConfig
        from charsuite.models import build, count_params, implementations

        self.torch = torch
        self.model_cfg = ModelConfig(**setup["model"])
        self.device_cfg = DeviceConfig(**setup["device"])
        self.workload = setup["workload"]
        if self.device_cfg.kind == "cuda":
            self.device = torch.device("cuda")
            limit = setup.get("memory_limit_bytes")
            total = torch.cuda.get_device_properties(0).total_memory
            if limit and limit < total:
                torch.cuda.set_per_process_memory_fraction(limit / total, 0)
        else:
            self.device = torch.device("cpu")
        threads = self.device_cfg.threads or len(os.sched_getaffinity(0))
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        self.model = build(self.model_cfg, self.device)
        self.build_s = time.perf_counter() - t0
        self.params = count_params(self.model)
        self.vocab_size = self.model.get_input_embeddings().num_embeddings
        self.max_positions = self._max_positions()
        from charsuite.monitors.power import select

        self.monitor = select(self.device_cfg.power_monitor, self.device_cfg.kind)
        self.idle_power_w = self.monitor.idle_power_w() if self.monitor.name != "none" else None
        self.info = {
            "params": self.params,
            "build_s": self.build_s,
            "threads": torch.get_num_threads(),
            "device_name": self._device_name(),
            "power_monitor": self.monitor.name,
            "idle_power_w": self.idle_power_w,
            **implementations(self.model, self.device),
        }

    def _max_positions(self) -> int | None:
        """A hard length limit, for models with learned absolute positions only."""
        emb = getattr(getattr(self.model, "transformer", None), "wpe", None)
        return emb.num_embeddings if emb is not None else None

    def _device_name(self) -> str:
        if self.device.type == "cuda":
            return self.torch.cuda.get_device_name(0)
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        import platform

        return platform.processor() or "cpu"

    def guard(self) -> dict[str, Any]:
        from charsuite.measure import decode_matches_forward

        delta = decode_matches_forward(self.model, self.vocab_size, self.device)
        tol = self.workload["guard_tolerance"].get(self.model_cfg.dtype, 1e-3)
        return {"max_abs_dlogit": delta, "tolerance": tol, "passed": delta <= tol}

    def measure(self, phase: str, context: int) -> dict[str, Any]:
        from charsuite.measure import measure_decode, measure_prefill, random_tokens

        inject_fault(phase, context)
        w = self.workload
        if self.max_positions is not None and context > self.max_positions:
            return {"status": "error", "error": f"context {context} exceeds the model's {self.max_positions} "
                                                f"learned positions"}
        ids = random_tokens(self.vocab_size, w["batch"], context, w["seed"], self.device)
        if phase == "prefill":
            r = measure_prefill(self.model, ids, w["repeats"], w["warmup"], w["logits"], self.device, self.monitor)
            tokens_per_rep = w["batch"] * context
        else:
            r = measure_decode(self.model, ids, w["decode_tokens"], w["repeats"], w["warmup"], self.device,
                               self.monitor)
            tokens_per_rep = w["batch"] * w["decode_tokens"]
        return {**self.energy_fields(r.energy, w["repeats"], tokens_per_rep),
            "status": "ok",
            "error": None,
            "latency_s": r.latency_s,
            "latency_samples_s": r.samples_s,
            "tokens_per_s": r.tokens / r.latency_s,
            "peak_mem_bytes": r.peak_mem_bytes,
            "mem": r.mem,
        }

    def energy_fields(self, e, repeats: int, tokens_per_rep: int) -> dict[str, Any]:
        """Joules of one timed repetition of the phase, per token, and the thermal state."""
        energy = e.energy_j / repeats if e.energy_j is not None else None
        above = None
        if energy is not None and self.idle_power_w is not None:
            above = energy - self.idle_power_w * e.duration_s / repeats
        return {
            "energy_j": energy,
            "energy_per_token_j": energy / tokens_per_rep if energy is not None else None,
            "energy_above_idle_j": above,
            "avg_power_w": e.avg_power_w,
            "idle_power_w": self.idle_power_w,
            "power_monitor": e.monitor,
            "power_sample_hz": e.sample_hz,
            "temperature_max_c": e.temperature_max_c,
            "clock_min_mhz": e.clock_min_mhz,
            "throttled": e.throttled,
        }

    def profile(self, phase: str, context: int, trace_path: str) -> dict[str, Any]:
        """One profiled step of the phase (after one traced warmup step); writes the trace."""
        from kernels_profile.capture import capture

        seconds = capture(self.model, _profile_step(self, phase, context), trace_path, self.device)
        return {"status": "ok", "latency_s": seconds, "trace_path": trace_path}


def _profile_step(session: Session, phase: str, context: int):
    from charsuite.measure import decode_step, prefill, random_tokens

    w = session.workload
    ids = random_tokens(session.vocab_size, w["batch"], context, w["seed"], session.device)
    if phase == "prefill":
        return lambda: prefill(session.model, ids, w["logits"])
    _, cache, token = prefill(session.model, ids, "last")
    state = {"cache": cache, "token": token, "position": context}

    def step():
        logits, state["cache"] = decode_step(session.model, state["token"], state["cache"], state["position"])
        state["token"] = logits[:, -1].argmax(dim=-1, keepdim=True)
        state["position"] += 1

    return step


def serve(inp, out) -> None:
    session: Session | None = None

    def reply(msg: dict[str, Any]) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    for line in inp:
        if not line.strip():
            continue
        req = json.loads(line)
        t0 = time.perf_counter()
        try:
            if req["cmd"] == "setup":
                cap_memory(req.get("memory_limit_bytes"))
                session = Session(req)
                msg = {"status": "ok", "info": session.info}
            elif req["cmd"] == "guard":
                msg = {"status": "ok", **session.guard()}
            elif req["cmd"] == "profile":
                msg = session.profile(req["phase"], int(req["context"]), req["trace_path"])
            elif req["cmd"] == "measure":
                msg = session.measure(req["phase"], int(req["context"]))
            elif req["cmd"] == "exit":
                return
            else:
                msg = {"status": "error", "error": f"unknown command {req['cmd']!r}"}
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a verdict
            if isinstance(exc, KeyboardInterrupt):
                raise
            status = "oom" if is_oom(exc) else "error"
            if status == "error":
                traceback.print_exc(file=sys.stderr)
            msg = {"status": status, "error": one_line(exc)}
        msg["worker_s"] = time.perf_counter() - t0
        reply(msg)


def main() -> None:
    fd = int(os.environ["CHARSUITE_RESULT_FD"])
    with os.fdopen(fd, "w") as out:
        serve(sys.stdin, out)


if __name__ == "__main__":
    main()
