"""Hostile input through the real CLI (issue 31): what the machine bounds, refused in one line
with exit 2 before a worker starts; the thread case inside a child held to a few processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from charsuite.config import physical_memory_bytes
from helpers import REPO, run_cli

TINY = ("+model=qwen2_5", "model.size=tiny", "context.min=64", "context.max=64")
PIDS = Path("/sys/fs/cgroup/pids")


def one_line(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    return lines[0]


def test_more_threads_than_cores_and_a_cap_above_the_machine_are_refused(tmp_path):
    cores = len(os.sched_getaffinity(0))
    line = one_line(run_cli(*TINY, f"device.threads={cores + 1}", f"hydra.run.dir={tmp_path / 't'}", timeout=300))
    assert f"device.threads={cores + 1}" in line and f"{cores} cores" in line
    gb = physical_memory_bytes() / 1024**3 * 2
    line = one_line(run_cli(*TINY, f"device.memory_gb={gb:.0f}", f"hydra.run.dir={tmp_path / 'm'}", timeout=300))
    assert "more than this machine's" in line
    assert not (tmp_path / "t").exists() and not (tmp_path / "m").exists()  # refused before the folder is made


@pytest.mark.skipif(not (PIDS / "cgroup.procs").exists() or not os.access(PIDS, os.W_OK),
                    reason="needs a writable pids cgroup (v1) to hold the child to a few processes")
def test_a_million_threads_is_refused_inside_a_child_held_to_64_processes(tmp_path):
    group = PIDS / f"charsuite-test-{os.getpid()}"
    group.mkdir()
    proc = None
    try:
        (group / "pids.max").write_text("64")  # the host's process table is never at stake
        procs = str(group / "cgroup.procs")

        def enter() -> None:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))

        proc = subprocess.Popen([sys.executable, "-m", "charsuite", *TINY, "device.threads=1000000",
                                 f"hydra.run.dir={tmp_path / 'run'}"], cwd=REPO, preexec_fn=enter,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, err = proc.communicate(timeout=300)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and "device.threads=1000000" in lines[0], err[-3000:]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in (group / "cgroup.procs").read_text().split():
            os.kill(int(pid), 9)
        group.rmdir()


HYDRA_BAD = [
    (("hydra.run.dir=${oops}",), "hydra.run.dir does not resolve"),
    (("hydra.run.dir=",), "hydra.run.dir is empty"),
    (("hydra/launcher=nope",), "unknown hydra/launcher 'nope'; choose one of: basic"),
    (("hydra.run.dir='unterminated",), "cannot parse overrides"),
    (("hydra.run.dir=/tmp/a]b",), "cannot parse overrides"),
    (("hydra.nope=3",), "unknown config key 'hydra.nope'"),
    (("hydra.job.chdir=maybe",), "hydra.job.chdir"),
    (("+model=mamba2,qwen2_5",), "add -m first"),
    (("workload.repeats=2", "-m"), "-m goes before the overrides"),
]


@pytest.mark.parametrize("extra,why", HYDRA_BAD, ids=[" ".join(e) for e, _ in HYDRA_BAD])
def test_hydra_overrides_and_misplaced_flags_are_checked_up_front(tmp_path, extra, why):
    r = subprocess.run([sys.executable, "-m", "charsuite", *TINY, *extra], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert why in one_line(r)
    assert not list(tmp_path.iterdir())  # nothing written, the current directory least of all


def test_a_batch_checks_its_overrides_before_any_family_starts(tmp_path):
    r = run_cli("cpu_quick", "workload.repeats=0", f"hydra.sweep.dir={tmp_path / 'b'}", module="charsuite.batch",
                timeout=300)
    assert "workload.repeats" in one_line(r) and not (tmp_path / "b").exists()


def load_factor() -> float:
    """Deadlines scale with the machine's load: 1 when the cores are free, more when they are not."""
    return max(1.0, os.getloadavg()[0] / len(os.sched_getaffinity(0)))


def _descendants(pid: int) -> set[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - out
        out |= frontier
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_to_a_batch_ends_the_family_it_runs_and_reports_its_own_folder(tmp_path):
    import signal
    import time

    sweep = tmp_path / "mine"
    proc = subprocess.Popen([sys.executable, "-m", "charsuite.batch", "cpu_quick", f"hydra.sweep.dir={sweep}",
                             "workload.repeat_time_s=600", "workload.max_repeats=100000",
                             "workload.target_rel_ci=0.00001"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    kids: set[int] = set()
    try:
        def worker_started() -> bool:  # an event, not a clock: the family's worker measures its first point
            return any("charsuite.worker" in Path(f"/proc/{k}/cmdline").read_text(errors="replace")
                       for k in _descendants(proc.pid) if _alive(k))

        while not worker_started():
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.5)
        kids = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=300 * load_factor())
        assert proc.returncode == 143, err[-3000:]
        deadline = time.monotonic() + 60 * load_factor()  # the worker ends with its driver
        while any(_alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(k) for k in kids), [Path(f"/proc/{k}/cmdline").read_text() for k in kids if _alive(k)]
        assert f"charsuite batch {sweep}" in err  # the report reads the folder the jobs wrote
        assert [p.name for p in sweep.iterdir() if p.is_dir()] == ["mamba2-tiny-float32_cpu"]  # no family after
    finally:
        for pid in [proc.pid, *kids]:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        proc.wait()
