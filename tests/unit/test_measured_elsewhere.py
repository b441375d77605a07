"""A Slurm job never replays points measured elsewhere (issue 32): a resumed run takes as its own only the
points measured on its host by the same kind of launch; a local run's finished job is not a Slurm job's."""

from charsuite import results
from charsuite.environment import measured_on
from charsuite.fingerprint import finished_job, plan
from charsuite.recorder import Recorder
from charsuite.records import Status
from helpers import compose


def _run():
    return compose("+model=mamba2", "model.size=tiny", "workload.phases=[prefill]", "context.min=64",
                   "context.max=128")


def test_where_a_point_was_measured_says_host_and_launcher(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    local = measured_on()
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    assert local.endswith("(local)") and measured_on() == local.replace("(local)", "(slurm)")


def test_a_slurm_job_measures_again_what_a_local_run_measured_in_its_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    run = _run()
    local = Recorder(tmp_path, run, params=1, run_id="r")
    for n in (64, 128):
        local.record(local.point("prefill", n, status=Status.ok, latency_s=0.1))
    assert len(Recorder(tmp_path, run, params=1, run_id="r").done) == 2  # the same place resumes them
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    job = Recorder(tmp_path, run, params=1, run_id="r")
    assert job.done == {} and job.elsewhere == {local.here}
    job.record(job.point("prefill", 64, status=Status.ok, latency_s=0.2))
    latest = results.latest(results.read_points(tmp_path / results.RESULTS), "r")
    by = {p.context: p for p in latest.values()}
    assert by[64].measured_on == job.here and by[64].latency_s == 0.2  # readers see the job's own line


def test_a_finished_local_job_is_not_a_finished_slurm_job(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    run = _run()
    from charsuite.fingerprint import fingerprint, fingerprint_id

    rid = fingerprint_id(fingerprint(run))
    rec = Recorder(tmp_path, run, params=1, run_id=rid)
    rec.record(rec.point("prefill", 64, status=Status.ok, latency_s=0.1))
    results.write_json(tmp_path / results.RUN, {"fingerprint_id": rid})
    results.write_json(tmp_path / results.JOB_STATUS, {"status": "ok", "plan": plan(run), "measured_on": measured_on()})
    assert finished_job(run, tmp_path) is not None
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    assert finished_job(run, tmp_path) is None
