"""The driver survives whatever its worker does: runs out of memory, is killed, hangs;
and a driver killed mid-sweep resumes to the same points with no duplicates."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from charsuite import results
from charsuite.records import Point
from helpers import REPO, run_cli

TINY = ["+model=qwen2_5", "model.size=tiny", "workload.repeats=1", "workload.warmup=0", "workload.decode_tokens=2"]


def points(run_dir):
    return [p.to_dict() for p in results.read_points(run_dir / results.RESULTS, quiet=True)]


@pytest.mark.slow
def test_real_oom_is_caught_and_the_boundary_bisected(tmp_path):
    # logits=all over a 32K-token vocabulary costs 128 KiB a token; a 0.7 GB cap on the data segment
    # (RLIMIT_DATA: a catchable allocation failure; the cgroup path is test_cgroup.py's) ends the ladder
    # near 1K tokens (896 ok, 1K failed on 2026-12-01), where a forward takes milliseconds
    run_dir = tmp_path / "oom"
    r = run_cli(*TINY, "model.sizes.tiny.config.vocab_size=32768", "workload.phases=[prefill]", "workload.logits=all",
                "device.memory_gb=0.7", "device.memory_enforcement=rlimit", "workload.max_repeats=1",
                "context.min=256", "context.max=16K", "context.tolerance=128", f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    pts = points(run_dir)
    ooms = [p for p in pts if p["status"] == "oom"]
    assert ooms, [(p["context"], p["status"]) for p in pts]
    assert all("allocat" in p["error"].lower() or "memory" in p["error"].lower() for p in ooms)
    (s,) = [s for s in results.read_json(run_dir / results.SUMMARY)]
    assert s["stop_reason"] == "out of memory"
    assert s["min_context_oom"] - s["max_context_ok"] <= 128
    assert any(p["probe"] == "bisect" for p in pts)
    ok = [p for p in pts if p["status"] == "ok"]
    assert max(p["context"] for p in ok) == s["max_context_ok"]


def test_killed_worker_is_retried_then_recorded_as_crashed(tmp_path):
    run_dir = tmp_path / "kill"
    r = run_cli(*TINY, "context.min=64", "context.max=256", f"hydra.run.dir={run_dir}",
                env={"CHARSUITE_FAULT": "kill:prefill:128"})
    assert r.returncode == 1, r.stderr[-3000:]  # a run with a failed point is not a success...
    assert r.stderr.strip().splitlines()[-1].startswith("charsuite: 1 point(s) failed")  # ...and says so in one line
    by = {(p["phase"], p["context"]): p for p in points(run_dir)}
    assert by[("prefill", 64)]["status"] == "ok"
    assert by[("prefill", 128)]["status"] == "crashed"
    assert by[("prefill", 128)]["error"].count("SIGKILL") == 2 and "retried once" in by[("prefill", 128)]["error"]
    assert by[("prefill", 256)]["status"] == "skipped"  # the phase stops at a crash; the rest is recorded
    assert "not reached: crashed at 128" in by[("prefill", 256)]["error"]
    assert by[("decode", 256)]["status"] == "ok"  # a fresh worker carries on
    # a resume measures the failed point again (and only it and the skipped one)
    r = run_cli(*TINY, "context.min=64", "context.max=256", f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    latest = {(p["phase"], p["context"]): p for p in points(run_dir)}
    assert latest[("prefill", 128)]["status"] == latest[("prefill", 256)]["status"] == "ok"
    assert r.stderr.count("recorded earlier") == 4


def test_hanging_worker_is_recorded_as_timeout(tmp_path):
    run_dir = tmp_path / "hang"
    t0 = time.monotonic()
    r = run_cli(*TINY, "context.min=64", "context.max=128", "workload.phases=[prefill]", "workload.timeout_s=5",
                f"hydra.run.dir={run_dir}", env={"CHARSUITE_FAULT": "hang:prefill:128"})
    assert r.returncode == 1, r.stderr[-3000:]
    assert time.monotonic() - t0 < 120
    by = {p["context"]: p for p in points(run_dir)}
    assert by[64]["status"] == "ok" and by[128]["status"] == "timeout"
    assert "5 s" in by[128]["error"]


@pytest.mark.slow
def test_driver_killed_mid_sweep_resumes_without_loss_or_duplicates(tmp_path):
    args = [*TINY, "model.size=tiny", "context.min=64", "context.max=2048", "+model=mamba2"]
    args = [a for a in args if a != "+model=qwen2_5"]
    clean = tmp_path / "clean"
    assert run_cli(*args, f"hydra.run.dir={clean}").returncode == 0
    resumed = tmp_path / "resumed"
    proc = subprocess.Popen([sys.executable, "-m", "charsuite", *args, f"hydra.run.dir={resumed}"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(points(resumed)) < 4:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(points(resumed))
    assert 4 <= before < len(points(clean))
    r = run_cli(*args, f"hydra.run.dir={resumed}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "recorded earlier" in r.stderr
    keys = Counter(tuple(p[k] for k in Point.KEY) for p in points(resumed))
    assert all(c == 1 for c in keys.values()), keys
    assert set(keys) == {tuple(p[k] for k in Point.KEY) for p in points(clean)}


def test_a_refused_fork_is_tried_again_before_it_counts(monkeypatch):
    # issue 32: a failed fork once ended a phase as an error, and every length above it was skipped
    import dataclasses
    import errno
    import subprocess

    from charsuite import isolation
    from charsuite.run_plan import resolve_plan
    from helpers import compose

    real, calls, naps = subprocess.Popen, [], []

    def refuse_once(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real(*a, **k)

    monkeypatch.setattr(isolation.subprocess, "Popen", refuse_once)
    run = compose("+model=qwen2_5", "model.size=tiny", "device.memory_enforcement=rlimit")
    plan = dataclasses.replace(resolve_plan(run), threads=1, enforcement="rlimit")  # (its thread count samples load)
    monkeypatch.setattr(isolation.time, "sleep", naps.append)
    worker = isolation.Worker(run, plan, setup_timeout_s=600)
    try:
        reply = worker.start()
        assert reply.ok and len(calls) == 2 and len(naps) == 1, reply.error
    finally:
        worker.close()

    def refuse(*a, **k):
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(isolation.subprocess, "Popen", refuse)
    reply = isolation.Worker(run, plan, setup_timeout_s=600).start()
    assert reply.status.value == "error" and f"tried {isolation.START_TRIES} times" in reply.error
