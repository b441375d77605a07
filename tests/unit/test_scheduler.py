"""charsuite.scheduler without a cluster: sacct's words parsed, the report's lines, a job killed
before it wrote its status, a batch without accounting, and the launcher settled once."""

from __future__ import annotations

import io
import json
import subprocess

from charsuite import results, scheduler
from charsuite.batch import JOB_STATUS, SLURM_JOBS, report
from charsuite.run_records import SlurmJob

SACCT = """6_0|COMPLETED|00:00:34||0:0
6_0.batch|COMPLETED|00:00:34|219836K|0:0
6_0.0|COMPLETED|00:00:33|805306K|0:0
6_1|CANCELLED by 0|1-00:01:02||0:15
6_1.batch|CANCELLED|1-00:01:02|1.5G|0:15
6_2|PENDING|00:00:00||0:0
7|TIMEOUT|01:02||0:0
"""


def test_sacct_parsed_per_job():
    jobs = scheduler.parse_sacct(SACCT)
    assert set(jobs) == {"6_0", "6_1", "6_2", "7"}
    assert jobs["6_0"] == SlurmJob(job_id="6_0", state="COMPLETED", elapsed_s=34, max_rss_bytes=805306 * 1024,
                                   exit_code="0:0")
    assert jobs["6_1"].state == "CANCELLED" and jobs["6_1"].elapsed_s == 86400 + 62
    assert jobs["6_1"].max_rss_bytes == int(1.5 * 2**30)
    assert jobs["6_2"].max_rss_bytes is None
    assert jobs["7"].elapsed_s == 62 and jobs["7"].state == "TIMEOUT"


def test_units():
    assert scheduler.elapsed_s("00:00:07") == 7 and scheduler.elapsed_s("2-03:04:05") == 2 * 86400 + 11045
    assert scheduler.elapsed_s("garbage") is None
    assert scheduler.mem_bytes("0") == 0 and scheduler.mem_bytes("12M") == 12 * 2**20
    assert scheduler.mem_bytes("") is None


def _fake_sacct(outputs):
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        out = outputs[min(len(calls), len(outputs)) - 1]
        if out is None:
            return subprocess.CompletedProcess(cmd, 1, "", "Slurm accounting storage is disabled")
        return subprocess.CompletedProcess(cmd, 0, out, "")
    return run, calls


def test_accounting_is_asked_again_until_every_job_has_ended():
    running = "6_0|COMPLETING|00:00:30||0:0\n"
    run, calls = _fake_sacct([running, running, "6_0|COMPLETED|00:00:31||0:0\n"])
    t = [0.0]
    acct = scheduler.settled_accounting(["6_0"], wait_s=60, run=run, clock=lambda: t[0],
                                        pause=lambda s: t.__setitem__(0, t[0] + s))
    assert acct["6_0"].state == "COMPLETED" and len(calls) == 3
    run, calls = _fake_sacct([running])
    acct = scheduler.settled_accounting(["6_0"], wait_s=5, run=run, clock=lambda: t[0],
                                        pause=lambda s: t.__setitem__(0, t[0] + s))
    assert acct["6_0"].state == "COMPLETING" and len(calls) == 6  # gave up after wait_s, said what it saw


def _job_folder(sweep, name, overrides, status=None):
    folder = sweep / name
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if status:
        results.write_json(folder / JOB_STATUS, {**status, "overrides": overrides})
    return folder


def test_record_and_report(tmp_path, capsys):
    sweep = tmp_path / "batch"
    ok_o, killed_o, pending_o = (["+model=mamba2", f"workload.seed={i}"] for i in range(3))
    ok = _job_folder(sweep, "ok", ok_o, {"status": "ok", "error": None, "summary": []})
    killed = _job_folder(sweep, "killed", killed_o)  # killed before it wrote a status
    acct = scheduler.parse_sacct(SACCT)
    scheduler.record(sweep, [("6_0", ok_o), ("7", killed_o), ("6_2", pending_o)], acct)
    assert json.loads((ok / JOB_STATUS).read_text())["scheduler"]["max_rss_bytes"] == 805306 * 1024
    status = json.loads((killed / JOB_STATUS).read_text())
    assert status["status"] == "failed" and "reached its Slurm time limit" in status["error"]
    batch = json.loads((sweep / SLURM_JOBS).read_text())
    assert batch["accounting"] is True and [j["job_dir"] is None for j in batch["jobs"]] == [False, False, True]
    out = io.StringIO()
    assert report(sweep, file=out) == (1, 2)
    text = out.getvalue()
    assert "ok      ok [slurm 6_0 COMPLETED 34 s max RSS 786 MiB]" in text
    assert "FAILED  killed [slurm 7 TIMEOUT 62 s]: reached its Slurm time limit" in text
    assert "FAILED  +model=mamba2 workload.seed=2 [slurm 6_2 PENDING 0 s]: never started (state PENDING)" in text


def test_a_job_slurm_ended_turns_an_ok_status_into_failed(tmp_path):
    sweep = tmp_path / "batch"
    o = ["+model=mamba2"]
    folder = _job_folder(sweep, "j", o, {"status": "ok", "error": None})
    scheduler.record(sweep, [("6_1", o)], scheduler.parse_sacct(SACCT))
    status = json.loads((folder / JOB_STATUS).read_text())
    assert status["status"] == "failed" and "state CANCELLED" in status["error"]


def test_without_accounting_it_says_so_once(tmp_path, capsys):
    sweep = tmp_path / "batch"
    o = ["+model=mamba2"]
    folder = _job_folder(sweep, "j", o, {"status": "ok", "error": None})
    run, _ = _fake_sacct([None])
    scheduler.record(sweep, [("6_0", o)], scheduler.settled_accounting(["6_0"], run=run))
    assert json.loads((sweep / SLURM_JOBS).read_text())["accounting"] is False
    assert "scheduler" not in json.loads((folder / JOB_STATUS).read_text())
    assert capsys.readouterr().err.count("accounting is not available") == 1


def test_install_settles_the_class_hydra_instantiates():
    from hydra.core.plugins import Plugins
    from hydra.utils import get_class

    scheduler.install()
    Plugins.instance()  # the scan re-executes plugin modules once per process: the patch survives it
    cls = get_class("hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher")
    assert getattr(cls.launch, "_charsuite", False)
    first = cls.launch
    scheduler.install()  # twice: still the one wrapper
    assert cls.launch is first


def test_a_job_without_a_result_becomes_a_failed_entry():
    from submitit.core.utils import UncompletedJobError

    class Job:
        state = "CANCELLED by 0"

        def results(self):
            raise UncompletedJobError("Job 6_1 has not produced any output (state: CANCELLED by 0)")

    [ret] = scheduler._Tolerant(Job(), ["+model=mamba2"], scheduler._state).results()
    assert ret.return_value["status"] == "failed"
    assert ret.return_value["error"].startswith("Slurm ended it without a result (state CANCELLED)")


def test_a_time_limit_is_recognised_inside_what_a_library_wrapped_it_in():
    """submitit's handler raises where the driver happens to be: in CI it was inside transformers' lazy
    import of Mamba2ForCausalLM, which re-raised it as ModuleNotFoundError and the job read as failed."""
    from submitit.core.utils import UncompletedJobError

    from charsuite.interrupts import time_limit_reached

    def wrapped(explicit: bool) -> BaseException:
        try:
            try:
                raise UncompletedJobError("Job not requeued because: timed-out too many times.")
            except RuntimeError as inner:
                if explicit:
                    raise ModuleNotFoundError("Could not import module 'Mamba2ForCausalLM'") from inner
                raise ModuleNotFoundError("Could not import module 'Mamba2ForCausalLM'")  # noqa: B904
        except ModuleNotFoundError as exc:
            return exc

    assert time_limit_reached(wrapped(explicit=True)) and time_limit_reached(wrapped(explicit=False))
    assert not time_limit_reached(ModuleNotFoundError("Could not import module 'Mamba2ForCausalLM'"))
    preempted = UncompletedJobError("Job not requeued because: preempted and not checkpointable.")
    assert not time_limit_reached(preempted)
    looped = RuntimeError("a")
    looped.__context__ = RuntimeError("b")
    looped.__context__.__context__ = looped
    assert not time_limit_reached(looped)


def test_a_time_limit_swallowed_where_it_landed_still_counts():
    """A library that catches Exception where submitit's handler raised (a prediction falling back) would
    lose the verdict; the driver's watch keeps it for the job's status."""
    import os
    import signal

    from submitit.core.utils import UncompletedJobError

    from charsuite.interrupts import time_limit_reached, watch_time_limit

    def submitits(signum, frame):
        raise UncompletedJobError("Job not requeued because: timed-out and not checkpointable.")

    before = signal.signal(signal.SIGUSR2, submitits)
    try:
        watch_time_limit()
        assert not time_limit_reached(RuntimeError("a point failed"))
        try:
            os.kill(os.getpid(), signal.SIGUSR2)
            signal.sigtimedwait([], 0)  # a pending handler runs before the next bytecode; this is that bytecode
        except Exception:  # noqa: BLE001 - what the library does
            pass
        assert time_limit_reached(RuntimeError("a point failed"))
        watch_time_limit()  # the next job in this process starts clean
        assert not time_limit_reached(RuntimeError("a point failed"))
    finally:
        signal.signal(signal.SIGUSR2, before)


def test_a_line_as_each_job_ends_whatever_order_they_end_in():
    import io

    from charsuite.job_watch import JobWatch

    class Job:
        def __init__(self, job_id):
            self.job_id, self.ended, self.state = job_id, False, "RUNNING"

        def done(self):
            return self.ended

    jobs = [Job("6_0"), Job("6_1"), Job("6_2")]
    out = io.StringIO()
    watch = JobWatch(jobs, [["+model=a"], ["+model=b"], ["+model=c"]], every_s=3600, file=out)
    assert watch.poll_once() == []
    jobs[2].ended, jobs[2].state = True, "COMPLETED"  # the last submitted ends first
    (line,) = watch.poll_once()
    assert "job 6_2 (+model=c) ended COMPLETED [1/3 ended" in line
    jobs[0].ended, jobs[0].state = True, "CANCELLED by 0"
    jobs[1].ended, jobs[1].state = True, "TIMEOUT"
    watch.stop()  # the last poll reports what ended meanwhile, each once
    text = out.getvalue()
    assert "6_0 (+model=a) ended CANCELLED [2/3" in text and "6_1 (+model=b) ended TIMEOUT [3/3" in text
    assert text.count("6_2") == 1
