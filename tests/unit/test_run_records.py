"""run.json, job_status.json and the worker's setup and guard replies are records (issue 27): written from one
dataclass each, read back into the same one, and a reader survives a file another program or a hand edit made."""

from __future__ import annotations

import json
import math

from charsuite.records import Reply
from charsuite.run_records import ChunkVerdict, GuardVerdict, JobStatus, RunRecord, SlurmJob, SlurmJobs, WorkerInfo


def test_a_run_record_reads_back_as_written_through_json():
    record = RunRecord(config={"workload": {"batch": 2}}, fingerprint_id="abc", params=10, mixers={"ssm": 2},
                       memory_limit_bytes=2**30, plan={"threads": 1}, model_facts={"dtype": "float32"},
                       worker=WorkerInfo(engine="transformers", threads=2, impl={"attention": "sdpa"}),
                       correctness_guard=GuardVerdict(max_abs_dlogit=1e-5, tolerance=1e-3, passed=True,
                                                      chunk=ChunkVerdict(max_abs_dlogit=0.0, chunk=64, passed=True)))
    again = RunRecord.from_dict(json.loads(json.dumps(record.as_dict())))
    assert again == record and again.section("workload") == {"batch": 2} and again.section("device") == {}


def test_a_field_of_the_wrong_type_is_left_out_and_the_rest_reads():
    data = {"fingerprint_id": 7, "params": "many", "memory_limit_bytes": True, "config": {"device": {}},
            "worker": ["not", "a", "worker"], "correctness_guard": {"passed": "yes", "tolerance": 1e-3},
            "something_new": 1}
    got = RunRecord.from_dict(data)
    assert got.fingerprint_id is None and got.params is None and got.memory_limit_bytes is None  # a bool is no int
    assert got.config == {"device": {}} and got.worker is None
    assert got.correctness_guard.passed is False and got.correctness_guard.tolerance == 1e-3  # never passed by a typo
    assert RunRecord.from_dict("a string") is None and JobStatus.from_dict(None) is None


def test_a_guard_that_saw_nan_logits_keeps_its_nan_and_fails():
    wire = json.loads(json.dumps(Reply(guard=GuardVerdict(max_abs_dlogit=float("nan"), tolerance=1e-3)).to_dict()))
    got = Reply.from_dict(wire).guard
    assert isinstance(got, GuardVerdict) and math.isnan(got.max_abs_dlogit) and got.passed is False


def test_an_engine_s_own_facts_go_to_details_and_the_common_ones_to_fields():
    info = WorkerInfo.of_engine({"attn_implementation": "llama.cpp", "mode": "eager", "quant": "q8_0",
                                 "gguf": "/m.gguf", "n_batch": 512}, engine="llamacpp", threads=2)
    assert (info.attn_implementation, info.mode, info.quant) == ("llama.cpp", "eager", "q8_0")
    assert info.details == {"gguf": "/m.gguf", "n_batch": 512}
    back = Reply.from_dict(json.loads(json.dumps(Reply(info=info).to_dict()))).info
    assert back == info


def test_a_job_status_round_trips_and_an_unreadable_one_is_a_failure():
    status = JobStatus(status="ok", overrides=["+model=mamba2"], summary=[{"model": "mamba2", "phase": "prefill"}],
                       plan={"fingerprint_id": "x"}, batch_id="b1",
                       scheduler=SlurmJob(job_id="6_0", state="COMPLETED", elapsed_s=34, max_rss_bytes=2**30))
    assert JobStatus.from_dict(json.loads(json.dumps(status.as_dict()))) == status
    assert JobStatus.from_dict({}).status == "failed"  # a status without a verdict is no success
    batch = SlurmJobs(accounting=True, jobs=[SlurmJob(job_id="7", state="TIMEOUT", overrides=["a=1"])])
    assert SlurmJobs.from_dict(json.loads(json.dumps(batch.as_dict()))) == batch
    assert SlurmJobs.from_dict({"accounting": True, "jobs": [{"job_id": "7"}, "junk", 3]}).jobs == [SlurmJob("7")]
