"""The typed records and the results file: append-only and durable, a torn last line
reported and ignored, lines read back as the same Points, unknown or missing fields tolerated."""

import json

import pytest

from charsuite import results
from charsuite.records import Breakdown, Energy, Point, Reply, Status


def rec(context, status="ok", **kw):
    return Point(**{"model": "m", "size": "s", "family": "ssm", "device": "cpu", "dtype": "float32", "batch": 1,
                    "phase": "prefill", "context": context, "status": status, **kw})


def test_torn_last_line_is_ignored(tmp_path, capsys):
    results.append(tmp_path, rec(256))
    results.append(tmp_path, rec(512))
    with open(tmp_path / results.RESULTS, "a") as f:
        f.write('{"schema": 1, "model": "m", "cont')  # killed mid-write
    points = results.read_points(tmp_path / results.RESULTS, quiet=True)
    assert [p.context for p in points] == [256, 512]
    results.read_points(tmp_path / results.RESULTS)
    assert "skipped 1 unreadable line: line 3 (" in capsys.readouterr().err


def test_latest_line_wins_and_skipped_points_are_not_finished(tmp_path):
    results.append(tmp_path, rec(256, "skipped"))
    results.append(tmp_path, rec(512, "error"))
    results.append(tmp_path, rec(512, "ok", latency_s=1.0))
    done = results.finished(results.read_points(tmp_path / results.RESULTS))
    assert len(done) == 1 and next(iter(done.values())).latency_s == 1.0
    lines = (tmp_path / results.RESULTS).read_text().splitlines()
    assert all(json.loads(ln)["schema"] == results.SCHEMA for ln in lines)


def test_a_point_round_trips_through_the_file(tmp_path):
    p = rec(1024, latency_s=0.5, latency_samples_s=[0.4, 0.5, 0.6], mem={"weights": 10}, energy_j=2.5,
            throttled=False, breakdown=Breakdown(categories={"gemm": 0.3}, time_basis="host", coverage=1.0).to_dict())
    results.append(tmp_path, p)
    (back,) = results.read_points(tmp_path / results.RESULTS)
    assert back == p and back.status is Status.ok
    assert back.energy() == Energy(energy_j=2.5, throttled=False)
    assert Breakdown.from_dict(back.breakdown).categories == {"gemm": 0.3}
    line = json.loads((tmp_path / results.RESULTS).read_text())
    assert list(line)[:3] == ["schema", "model", "size"] and line["status"] == "ok"


def test_lines_with_unknown_or_missing_fields(tmp_path, capsys):
    with open(tmp_path / results.RESULTS, "w") as f:
        f.write(json.dumps({**rec(256).to_dict(), "from_the_future": 1}) + "\n")
        f.write(json.dumps({"model": "m", "context": 512}) + "\n")   # not a point: required fields missing
        f.write("[1, 2]\n")                                           # not an object
        f.write(json.dumps({**rec(1024).to_dict(), "status": "exploded"}) + "\n")  # a status the schema lacks
    points = results.read_points(tmp_path / results.RESULTS)
    assert [p.context for p in points] == [256]
    err = capsys.readouterr().err
    assert "skipped 3 unreadable lines" in err and all(f"line {n} (" in err for n in (2, 3, 4))
    assert len(err.strip().splitlines()) == 1  # one warning line per file, however many lines it skips


def test_statuses_and_replies():
    with pytest.raises(ValueError):
        Status("exploded")
    r = Reply.from_dict({"status": "oom", "error": "OutOfMemoryError: x", "worker_s": 1.0, "unknown": 3})
    r.wall_s = 1.25
    assert not r.ok and r.status is Status.oom and r.isolation_overhead_s == pytest.approx(0.25)
    assert Reply.from_dict(Reply(latency_s=1.0, energy_j=3.0).to_dict()).energy_j == 3.0


def test_load_table_reads_runs_and_batches(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "batch" / name).mkdir(parents=True)
        results.append(tmp_path / "batch" / name, rec(256, model=name))
    table = results.load_table([tmp_path / "batch"])
    assert sorted(table["model"]) == ["a", "b"]
    assert table["run_dir"].str.endswith(("a", "b")).all()


def test_a_record_after_a_torn_line_is_whole(tmp_path):
    results.append(tmp_path, rec(256))
    with open(tmp_path / results.RESULTS, "a") as f:
        f.write('{"schema": 1, "model": "m", "cont')  # the driver died mid-write
    results.append(tmp_path, rec(512))                 # the resumed run appends
    assert [p.context for p in results.read_points(tmp_path / results.RESULTS, quiet=True)] == [256, 512]


def test_one_driver_per_run_folder(tmp_path):
    import os
    import subprocess
    import sys

    held = results.lock(tmp_path)
    code = f"from charsuite import results; results.lock(__import__('pathlib').Path({str(tmp_path)!r}))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode != 0 and f"pid {os.getpid()}" in r.stderr
    (tmp_path / ".lock").unlink()  # issue 31: removing the file once let a second driver in
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode != 0 and "RunFolderBusy" in r.stderr
    held.close()  # released: another process may take it
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_full_disk_ends_in_one_line_and_leaves_no_half_files(tmp_path, monkeypatch):
    import errno
    import os

    results.append(tmp_path, rec(256))

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(results.RunFolderError, match="No space left on device"):
        results.append(tmp_path, rec(512))
    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(results.RunFolderError, match="cannot write"):
        results.write_json(tmp_path / results.RUN, {"a": 1})
    assert not list(tmp_path.glob("*.tmp"))
    assert 256 in [p.context for p in results.read_points(tmp_path / results.RESULTS, quiet=True)]


def test_an_ok_line_carries_its_roofline_position_against_the_peaks_it_names(tmp_path):
    """Result-line mfu and mbu (CONTRACT, third wave): achieved FLOP/s and bytes/s over the data-sheet peaks (a
    calibration, where run.json has one, replaces them); no peaks, no fields - never a number over nothing."""
    import dataclasses

    from charsuite.analysis.facts import model_facts
    from charsuite.analysis.roofline import bytes_moved, flops
    from charsuite.recorder import Recorder
    from charsuite.run_records import RunRecord
    from helpers import compose

    run = compose("+model=mamba2", "model.size=tiny", "device=rtx4090")
    facts = model_facts(run.model)
    info = RunRecord(model_facts=facts.to_dict(), config=run.raw)
    mem = {"weights": 4000, "kv_cache": 0, "ssm_state": 100, "logits": 2000}
    rec = Recorder(tmp_path, run, facts.params, record=info)
    p = rec.record(rec.point("decode", 1024, status=Status.ok, latency_s=0.01, mem=mem))
    lay = facts.layout
    body = facts.params - lay.vocab * lay.hidden  # tied embeddings
    assert p.mfu == pytest.approx(flops(lay, body, 1024, 1, "decode") / 0.01 / (165.2e12))
    assert p.mbu == pytest.approx(bytes_moved(4000, 0, 100, 2000, "decode") / 0.01 / 1008e9)
    assert p.peak_basis == "data sheet"
    bare = dataclasses.replace(run, device=dataclasses.replace(run.device, peak_tflops={}, peak_bandwidth_gbs=None))
    (tmp_path / "bare").mkdir()
    rec = Recorder(tmp_path / "bare", bare, facts.params,
                   record=RunRecord(model_facts=facts.to_dict(), config=bare.raw))
    p = rec.record(rec.point("decode", 1024, status=Status.ok, latency_s=0.01, mem=mem))
    assert p.mfu is None and p.mbu is None and p.peak_basis is None


def test_requests_cross_the_pipe_as_the_records_they_were():
    """issue 27: what the driver asks its worker is a record, read back as the same record; a kind or a field the
    worker does not know is a ValueError (one line in the reply), never a silent default."""
    from charsuite.worker_requests import Exit, Guard, Measure, Profile, Setup, decode, encode

    for req in (Measure("prefill", 1024), Profile("decode", 64, "/t.json", steps=3, eager=True), Guard(), Exit(),
                Setup(engine="transformers", engine_settings={"name": "transformers"}, engine_files={}, model={},
                      device={}, workload={}, threads=2, memory_limit_bytes=None, rlimit_bytes=10)):
        assert decode(encode(req)) == req
    with pytest.raises(ValueError, match="unknown request kind"):
        decode('{"cmd": "reboot"}')
    with pytest.raises(ValueError, match="fields it does not have"):
        decode('{"cmd": "measure", "phase": "prefill", "context": 1, "logits": "all"}')


def test_summary_rows_are_read_back_as_records_and_malformed_ones_are_no_rows():
    from charsuite.phase_summary import PhaseSummary

    row = PhaseSummary("mamba2", "tiny", "ssm", "cpu", "float32", 1, "prefill", max_context_ok=4096, probes=3)
    assert PhaseSummary.from_dict(row.as_dict()) == row
    older = {k: v for k, v in row.as_dict().items() if k not in ("mode", "noisy_points", "mixers")}
    assert PhaseSummary.from_dict({**older, "later_field": 1}) == row  # older rows read, unknown keys ignored
    for bad in ([1, 2], "x", {**row.as_dict(), "max_context_ok": "4096"}, {**row.as_dict(), "probes": float("nan")},
                {**row.as_dict(), "model": None}):
        assert PhaseSummary.from_dict(bad) is None
