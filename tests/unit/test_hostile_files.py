"""Every reader (resume, summary, export, figures' table) skips and counts what it cannot use in a
run folder: lines that are not UTF-8, of the wrong types, NaN or infinity, run.json and summary.json
of the wrong shape (issue 31). Synthetic folders; no torch."""

import json
import shutil

import pytest

from charsuite import export, results, summary
from charsuite.figures import __main__ as figures
from synthetic import ssm_vs_transformer

GOOD = {"schema": 1, "model": "mamba2", "size": "x", "family": "ssm", "device": "cpu", "dtype": "float32",
        "batch": 1, "phase": "prefill", "context": 1024, "status": "ok", "latency_s": 1.0}

HOSTILE_LINES = [
    b"\xff\xfe not utf-8 \x80\n",
    json.dumps({**GOOD, "context": [1024]}).encode() + b"\n",
    json.dumps({**GOOD, "context": "1024"}).encode() + b"\n",
    json.dumps({**GOOD, "context": True}).encode() + b"\n",
    json.dumps({**GOOD, "latency_samples_s": "0.1,0.2"}).encode() + b"\n",
    json.dumps({**GOOD, "latency_samples_s": ["a"]}).encode() + b"\n",
    json.dumps({**GOOD, "mem": "lots"}).encode() + b"\n",
    json.dumps({**GOOD, "mem": {"weights": "10"}}).encode() + b"\n",
    json.dumps({**GOOD, "noisy": "no"}).encode() + b"\n",
    json.dumps({**GOOD, "latency_s": float("nan")}).encode() + b"\n",   # json.dumps writes NaN
    json.dumps({**GOOD, "latency_s": float("inf")}).encode() + b"\n",   # ... and Infinity
    json.dumps({**GOOD, "peak_mem_bytes": -float("inf")}).encode() + b"\n",
    b"[" * 100_000 + b"\n",                                              # nested past the recursion limit
    b'"a string"\n',
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return ssm_vs_transformer(tmp_path_factory.mktemp("runs"))


def spoil(runs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(runs, copy)
    path = next(copy.rglob(results.RESULTS))
    with open(path, "ab") as f:
        f.writelines(HOSTILE_LINES)
    return copy, path


def test_each_hostile_line_is_skipped_and_counted_in_one_warning(runs, tmp_path, capsys):
    _, path = spoil(runs, tmp_path)
    good = len(results.read_points(next(runs.rglob(results.RESULTS)), quiet=True))
    capsys.readouterr()
    points = results.read_points(path)
    assert len(points) == good  # every hostile line left out, every good one kept
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"skipped {len(HOSTILE_LINES)} unreadable lines" in err[0], err
    assert "not UTF-8" in err[0] and "context is [1024]" in err[0]


def test_no_nan_or_infinity_reaches_a_table(runs, tmp_path, capsys):
    copy, _ = spoil(runs, tmp_path)
    table = results.load_table([copy])
    numbers = table.select_dtypes("number")
    assert len(table) and numbers.notna().any().any()
    assert not numbers.isin([float("inf"), -float("inf")]).any().any()
    assert summary.main([str(copy)]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower().replace("nano", "") and "inf " not in out.lower()
    assert export.main([str(copy), "--out", str(tmp_path / "t")]) == 0


@pytest.mark.parametrize("name,content", [
    (results.RUN, "[1, 2, 3]"), (results.RUN, '"a string"'), (results.RUN, '{"fingerprint_id": [1]}'),
    (results.SUMMARY, '{"phase": "prefill"}'), (results.SUMMARY, "[1, 2]"), (results.SUMMARY, "NaN"),
    (results.RUN, "\udcff".encode("utf-8", "surrogateescape").decode("latin-1")),
])
def test_run_and_summary_json_of_the_wrong_shape_are_read_as_missing(runs, tmp_path, capsys, name, content):
    copy = tmp_path / "copy"
    shutil.copytree(runs, copy)
    spoilt, other = sorted({p.parent for p in copy.rglob(results.RESULTS)})
    (spoilt / name).write_text(content)  # one run's file: the other run still reads
    assert summary.main([str(copy)]) == 0
    assert export.main([str(copy), "--out", str(tmp_path / "t")]) == 0
    assert set(results.load_table([copy])["run_dir"]) == {str(spoilt), str(other)}
    assert figures.main([str(copy), "--out", str(tmp_path / "f"), "--formats", ""]) in (0, 1)  # html: no browser
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ignoring" in err and str(spoilt) in err, err[-2000:]


def test_a_folder_whose_every_summary_is_unreadable_says_so(runs, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(runs, copy)
    for folder in {p.parent for p in copy.rglob(results.RESULTS)}:
        (folder / results.SUMMARY).write_text("[1, 2]")
    assert summary.main([str(copy)]) == 2
    assert "no readable summary.json" in capsys.readouterr().err
