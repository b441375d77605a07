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
