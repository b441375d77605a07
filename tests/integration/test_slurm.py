"""Batches on a real one-node Slurm cluster (scripts/slurm_local.sh up; CI starts it): a 12-job
array read back as one table, and the faults a cluster brings - scancel, requeue (what
preemption does), a time limit - with no point lost or measured twice. Skipped, and counted
as skipped, where no cluster answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from charsuite import results
from charsuite.batch import JOB_STATUS, SLURM_JOBS, job_statuses
from helpers import REPO

pytestmark = pytest.mark.slurm

CONF = os.environ.get("SLURM_CONF", "/tmp/charsuite-slurm/slurm.conf")
# The preset asks for a GPU, 8 CPUs and 64 GB: a CPU node gets one core and 3 GB per job.
NODE = ["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=3"]
TINY = ["model.size=tiny", "workload.phases=[prefill]", "workload.repeats=1", "workload.max_repeats=1",
        "workload.repeat_time_s=2"]


def _slurm(*cmd: str) -> str:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30,
                          env={**os.environ, "SLURM_CONF": CONF}).stdout


@pytest.fixture(scope="module")
def cluster():
    try:
        state = _slurm("sinfo", "-h", "-o", "%t")
    except (OSError, subprocess.TimeoutExpired):
        state = ""
    if not any(s in state for s in ("idle", "mix", "alloc", "comp")):
        pytest.skip(f"no Slurm cluster answers (SLURM_CONF={CONF}); scripts/slurm_local.sh up starts one")
    return CONF


def submit(cluster: str, sweep: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m charsuite -m ... hydra/launcher=slurm`, running until its batch ends (10 minutes at most a job,
    unless the test sets its own limit)."""
    limit = [] if any(a.startswith("hydra.launcher.timeout_min=") for a in args) else ["hydra.launcher.timeout_min=10"]
    return subprocess.Popen([sys.executable, "-m", "charsuite", "-m", *args, *NODE, *limit, f"hydra.sweep.dir={sweep}"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SLURM_CONF": cluster, **(env or {})})


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def wait_for(condition, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.5)


def prefill_contexts(run_dir: Path) -> Counter:
    return Counter(p.context for p in results.read_points(run_dir / results.RESULTS) if p.phase == "prefill")


def the_job(sweep: Path, key: str) -> Path:
    [job] = [d for d in results.run_dirs([sweep]) if key in d.name]
    return job


def running_job_id(cluster: str, index: int | None = None) -> str:
    """The Slurm id of array task `index` (the batch's job number) while it runs; of the one running
    job when `index` is None (a batch of one job is submitted as a plain job, not an array)."""
    ids = _slurm("squeue", "-h", "-t", "R", "-o", "%i").split()
    if index is not None:
        ids = [i for i in ids if i.endswith(f"_{index}")]
    assert len(ids) == 1, ids
    return ids[0]


def test_a_12_job_array_reads_back_as_one_table(cluster, tmp_path):
    sweep = tmp_path / "batch"
    rc, err = finish(submit(cluster, sweep, "+model=mamba2,llama3_2", "workload.seed=0,1,2,3,4,5", *TINY,
                            "context.min=64", "context.max=64"))
    assert rc == 0, err[-3000:]
    assert "12 job(s) succeeded, 0 failed" in err
    accounting = json.loads((sweep / SLURM_JOBS).read_text())
    assert accounting["accounting"] is True
    jobs = accounting["jobs"]
    assert len(jobs) == 12 and len({j["job_id"] for j in jobs}) == 12
    assert len({j["job_dir"] for j in jobs}) == 12  # concurrent jobs never share a folder
    for j in jobs:
        assert j["state"] == "COMPLETED" and j["elapsed_s"] > 0, j
        assert j["max_rss_bytes"] > 100 * 2**20, j  # a Python process with torch, measured by Slurm
    statuses = job_statuses(sweep)
    assert len(statuses) == 12 and all(s.scheduler.state == "COMPLETED" for s in statuses)
    assert "[slurm " in err and "COMPLETED" in err and "max RSS" in err
    table = results.load_table([sweep])
    assert len(table) == 12 and table["run_dir"].nunique() == 12
    assert set(table["model"]) == {"mamba2", "llama3_2"} and (table["status"] == "ok").all()
    out = tmp_path / "table"
    export = subprocess.run([sys.executable, "-m", "charsuite.export", str(sweep), "--out", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stderr[-2000:]
    import pandas as pd

    assert len(pd.read_parquet(out.with_suffix(".parquet"))) == 12
    summary = subprocess.run([sys.executable, "-m", "charsuite.summary", str(sweep)], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert summary.returncode == 0, summary.stderr[-2000:]
    assert "mamba2" in summary.stdout and "llama3_2" in summary.stdout


def test_scancel_fails_one_job_and_resubmitting_measures_only_what_is_missing(cluster, tmp_path):
    sweep = tmp_path / "batch"
    args = ("+model=mamba2", "context.max=128,256", *TINY, "context.min=64")
    proc = submit(cluster, sweep, *args, env={"CHARSUITE_FAULT": "hang:prefill:256"})
    wait_for(lambda: any(prefill_contexts(d)[128] for d in results.run_dirs([sweep]) if "256" in d.name),
             "the job to hang at its third point")
    _slurm("scancel", running_job_id(cluster, 1))  # job 1: context.max=256
    rc, err = finish(proc)
    assert rc == 1, err[-3000:]
    assert "1 job(s) succeeded, 1 failed" in err
    hung, done = the_job(sweep, "context.max=256"), the_job(sweep, "context.max=128")
    status = json.loads((hung / JOB_STATUS).read_text())
    assert status["scheduler"]["state"] == "CANCELLED", status
    assert "interrupted" in status["error"] and "2 points kept" in status["error"], status
    before = (done / results.RESULTS).read_bytes()
    rc, err = finish(submit(cluster, sweep, *args))
    assert rc == 0, err[-3000:]
    assert "2 job(s) succeeded, 0 failed" in err
    assert (done / results.RESULTS).read_bytes() == before  # the finished job measured nothing again
    assert prefill_contexts(hung) == {64: 1, 128: 1, 256: 1}  # the missing point once, no other again


def test_a_requeued_job_resumes_its_run_folder(cluster, tmp_path):
    sweep, fired = tmp_path / "batch", tmp_path / "fired"
    proc = submit(cluster, sweep, "+model=mamba2", *TINY, "context.min=64", "context.max=256",
                  env={"CHARSUITE_FAULT": "hang:prefill:256", "CHARSUITE_FAULT_ONCE": str(fired)})
    wait_for(fired.exists, "the job to hang at its third point")
    job_id = running_job_id(cluster)
    _slurm("scontrol", "requeue", job_id)
    # A requeued job is held back a while before it may start again (Slurm's begin time)
    wait_for(lambda: "PENDING" in _slurm("scontrol", "show", "job", job_id), "the job to be requeued", 60)
    _slurm("scontrol", "update", f"jobid={job_id}", "starttime=now")
    rc, err = finish(proc)
    assert rc == 0, err[-3000:]
    assert "1 job(s) succeeded, 0 failed" in err
    assert "Restarts=1" in _slurm("scontrol", "show", "job", job_id)
    [job] = json.loads((sweep / SLURM_JOBS).read_text())["jobs"]
    assert job["state"] == "COMPLETED"
    assert prefill_contexts(Path(job["job_dir"])) == {64: 1, 128: 1, 256: 1}


def test_a_job_at_its_time_limit_is_reported_as_such(cluster, tmp_path):
    sweep = tmp_path / "batch"
    # One minute, signalled 20 s ahead (Slurm may signal up to a minute early), never requeued
    proc = submit(cluster, sweep, "+model=mamba2", *TINY, "context.min=64", "context.max=256",
                  "hydra.launcher.timeout_min=1", "hydra.launcher.max_num_timeout=0",
                  "hydra.launcher.signal_delay_s=20", env={"CHARSUITE_FAULT": "hang:prefill:256"})
    rc, err = finish(proc, timeout=300)
    assert rc == 1, err[-3000:]
    assert "reached its Slurm time limit" in err, err[-3000:]
    [job] = results.run_dirs([sweep])
    counts = prefill_contexts(job)
    assert 256 not in counts and all(n == 1 for n in counts.values()), counts
