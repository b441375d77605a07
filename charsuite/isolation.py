"""The driver's side of the worker process: start it, ask it for points, and turn
whatever happens to it (an answer, death, silence) into a verdict.

The driver waits by blocking on the reply pipe with a timeout (select), never by
spinning: on a 2-core machine a busy parent steals a core from the measurement.
"""

from __future__ import annotations

import errno
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict

from charsuite.config import RunConfig
from charsuite.records import Reply, Status
from charsuite.run_plan import RunPlan
from charsuite.run_records import WorkerInfo
from charsuite.worker_requests import Exit, Measure, Request, Setup, encode

STDERR_TAIL_LINES = 8
# Lines a worker's stderr carries that never say why it failed (torch.profiler's USDT probes, Kineto).
STDERR_NOISE = re.compile(r"USDT|profiler_(start|stop)|STAGE:|Kineto|ActivityProfilerController")


START_TRIES = 5  # starts of a worker process before a refused fork counts as an error (backing off 2-16 s)


class Worker:
    """One warm worker process holding one built model."""

    def __init__(self, run: RunConfig, plan: RunPlan, setup_timeout_s: float = 900.0):
        """`plan`: the run's resolved plan (run_plan.py): the cap and how it is enforced, the threads, the files
        the engine's prepare() made in the driver (a GGUF)."""
        self.run = run
        self.plan = plan
        self.setup_timeout_s = setup_timeout_s
        self.proc: subprocess.Popen | None = None
        self.info = WorkerInfo()
        self._reply = None
        self._stderr = None
        self.cgroup = None
        self._pending = False  # a request is out and unanswered: the worker cannot read "exit"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.run.device.allocator_env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("TRANSFORMERS_VERBOSITY", "error")
        env.setdefault("HF_HUB_OFFLINE", "0" if self.run.model.weights == "pretrained" else "1")
        return env

    def start(self) -> Reply:
        """Spawn the process and build the model; returns the setup reply."""
        read_fd, write_fd = os.pipe()
        self._stderr = tempfile.TemporaryFile(mode="w+")
        env = self.env()
        env["CHARSUITE_RESULT_FD"] = str(write_fd)
        env["CHARSUITE_DRIVER_PID"] = str(os.getpid())
        limit = self.plan.memory_limit_bytes
        cpu = self.run.device.kind == "cpu"
        if self.plan.enforcement == "cgroup" and cpu and limit:
            from charsuite.cgroups import MemoryCgroup

            self.cgroup = MemoryCgroup(limit)
        for attempt in range(START_TRIES):  # a fork the machine refuses for now (EAGAIN, ENOMEM) is tried again
            try:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "charsuite.worker"],
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr,
                    pass_fds=(write_fd,), env=env, text=True, start_new_session=True,
                    preexec_fn=self.cgroup.join if self.cgroup is not None else None,
                )
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.ENOMEM) or attempt == START_TRIES - 1:
                    os.close(read_fd)
                    os.close(write_fd)
                    return Reply.failed(Status.error, f"could not start a worker ({exc.strerror or exc}; tried "
                                                      f"{attempt + 1} times)")
                time.sleep(2.0 * 2**attempt)  # back off: other work is holding the machine's processes
        os.close(write_fd)
        self._reply = os.fdopen(read_fd, "r")
        run = self.run
        setup = Setup(
            engine=run.engine.name, engine_settings=asdict(run.engine), engine_files=self.plan.engine_files,
            model=asdict(run.model), device=asdict(run.device), workload=asdict(run.workload),
            threads=self.plan.threads,
            memory_limit_bytes=limit,  # CUDA: torch's per-process fraction
            # the CPU's cap, unless a cgroup enforces it (RLIMIT_DATA would fail first); never
            # on CUDA, whose contexts map far more virtual memory than the device's cap
            rlimit_bytes=limit if cpu and self.cgroup is None else None)
        reply = self.request(setup, self.setup_timeout_s)
        if reply.ok:
            self.info = reply.info or WorkerInfo()
            self.info.memory_enforcement = ("cgroup" if self.cgroup is not None else "rlimit") if cpu and limit else (
                "torch's per-process fraction" if limit else None)
        return reply

    def request(self, req: Request, timeout_s: float) -> Reply:
        """Send one request and wait for its reply; death and silence become verdicts."""
        assert self.proc is not None and self.proc.stdin is not None
        t0 = time.perf_counter()
        self._pending = True
        group_peak = self.cgroup is not None and isinstance(req, Measure) and self.cgroup.reset_peak()
        try:
            self.proc.stdin.write(encode(req) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return self._died(t0)
        ready, _, _ = select.select([self._reply], [], [], timeout_s)
        if not ready:
            self.kill()
            return Reply.failed(Status.timeout, f"no answer within {timeout_s:g} s; worker killed",
                                stderr_tail=self.stderr_tail(), wall_s=time.perf_counter() - t0)
        line = self._reply.readline()
        if not line:
            return self._died(t0)
        self._pending = False
        reply = Reply.from_dict(json.loads(line))
        reply.wall_s = time.perf_counter() - t0
        charged = self.cgroup.peak_bytes() if group_peak and reply.peak_mem_bytes is not None else None
        if charged:  # the cap is the group's: its own accounting is the peak held against it
            reply.peak_rss_bytes, reply.peak_mem_bytes = reply.peak_mem_bytes, charged
            reply.peak_mem_source = f"memory cgroup ({self.cgroup.peak_file.name})"
        return reply

    def _died(self, t0: float) -> Reply:
        code = self.proc.wait() if self.proc else None
        how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        if self.cgroup is not None and self.cgroup.oom_kills() > 0:
            return Reply.failed(Status.oom, f"killed by the kernel's OOM killer at the memory cgroup's "
                                            f"{self.plan.memory_limit_bytes:,} bytes ({how})",
                                stderr_tail=self.stderr_tail(), wall_s=time.perf_counter() - t0)
        return Reply.failed(Status.crashed, f"worker died ({how})", stderr_tail=self.stderr_tail(),
                            wall_s=time.perf_counter() - t0)

    def stderr_tail(self) -> list[str]:
        if self._stderr is None:
            return []
        self._stderr.flush()
        self._stderr.seek(0)
        lines = [ln.rstrip() for ln in self._stderr.read().splitlines() if ln.strip() and not STDERR_NOISE.search(ln)]
        return lines[-STDERR_TAIL_LINES:]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def close(self) -> None:
        """Ask an idle worker to exit; one still busy with a request (an interrupt came
        mid-point) is killed at once rather than waited on."""
        if self.alive and not self._pending:
            try:
                self.proc.stdin.write(encode(Exit()) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                pass
        self.kill()
        for f in (self._reply, self._stderr):
            if f is not None:
                f.close()
        self._reply = self._stderr = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
