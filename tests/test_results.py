"""results.jsonl is append-only and durable; a torn last line is reported and ignored."""

import json

from charsuite import results


def rec(context, status="ok", **kw):
    return {"model": "m", "size": "s", "device": "cpu", "dtype": "float32", "batch": 1, "phase": "prefill",
            "context": context, "logits": "last", "status": status, **kw}


def test_torn_last_line_is_ignored(tmp_path, capsys):
    results.append(tmp_path, rec(256))
    results.append(tmp_path, rec(512))
    with open(tmp_path / results.RESULTS, "a") as f:
        f.write('{"schema": 1, "model": "m", "cont')  # killed mid-write
    points = results.read_points(tmp_path / results.RESULTS, quiet=True)
    assert [p["context"] for p in points] == [256, 512]
    results.read_points(tmp_path / results.RESULTS)
    assert "ignoring unreadable line 3" in capsys.readouterr().err


def test_latest_line_wins_and_skipped_points_are_not_finished(tmp_path):
    results.append(tmp_path, rec(256, "skipped"))
    results.append(tmp_path, rec(512, "error"))
    results.append(tmp_path, rec(512, "ok", latency_s=1.0))
    done = results.finished(results.read_points(tmp_path / results.RESULTS))
    assert len(done) == 1 and next(iter(done.values()))["latency_s"] == 1.0
    lines = (tmp_path / results.RESULTS).read_text().splitlines()
    assert all(json.loads(ln)["schema"] == results.SCHEMA for ln in lines)


def test_load_table_reads_runs_and_batches(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "batch" / name).mkdir(parents=True)
        results.append(tmp_path / "batch" / name, rec(256, model=name))
    table = results.load_table([tmp_path / "batch"])
    assert sorted(table["model"]) == ["a", "b"]
    assert table["run_dir"].str.endswith(("a", "b")).all()
