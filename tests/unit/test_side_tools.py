"""Every side tool speaks one line for bad input (exit 2) and for a runtime failure (exit 1),
never a traceback, and checks its input before any work."""

import json

import pytest

from charsuite import batch, export, predict, summary
from charsuite.figures import __main__ as figures
from kernels_profile import __main__ as kernels_profile
from synthetic import ssm_vs_transformer


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return ssm_vs_transformer(tmp_path_factory.mktemp("runs"))


def one_line(capsys, prog):
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith(f"{prog}: ") and "Traceback" not in err[0], err
    return err[0]


def test_missing_folders(tmp_path, capsys):
    for main, prog, extra in ((summary.main, "charsuite.summary", []),
                              (export.main, "charsuite.export", ["--out", str(tmp_path / "t")]),
                              (figures.main, "charsuite.figures", ["--out", str(tmp_path / "f")])):
        assert main([str(tmp_path / "nope"), *extra]) == 2
        assert "no such folder" in one_line(capsys, prog)


def test_an_empty_folder_is_bad_input_not_an_empty_table(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert export.main([str(tmp_path / "empty"), "--out", str(tmp_path / "t")]) == 2
    assert "no results" in one_line(capsys, "charsuite.export")
    assert not (tmp_path / "t.csv").exists()
    assert summary.main([str(tmp_path / "empty")]) == 2
    one_line(capsys, "charsuite.summary")


def test_unwritable_outputs_are_refused_before_any_work(runs, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert export.main([str(runs), "--out", str(blocker / "t")]) == 2
    assert "cannot create output folder" in one_line(capsys, "charsuite.export")
    assert figures.main([str(runs), "--out", str(blocker / "figs")]) == 2
    assert "cannot create output folder" in one_line(capsys, "charsuite.figures")


def test_figures_formats_are_checked_and_report_needs_no_browser(runs, tmp_path, capsys, monkeypatch):
    assert figures.main([str(runs), "--out", str(tmp_path / "f"), "--formats", "png,gif"]) == 2
    assert "'gif'" in one_line(capsys, "charsuite.figures")
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no Chrome anywhere
    assert figures.main([str(runs), "--out", str(tmp_path / "g")]) == 0
    out = capsys.readouterr()
    assert "no Chrome/Chromium found" in out.err and "(0 files)" in out.out
    assert (tmp_path / "g" / "report.html").exists() and not list((tmp_path / "g").glob("*.png"))


def test_a_truncated_summary_json_is_reported_and_read_as_missing(runs, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(runs, copy)
    victim = next(copy.rglob("summary.json"))
    victim.write_text(victim.read_text()[:40])
    assert summary.main([str(copy)]) == 0
    assert "ignoring unreadable" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["[1, 2]", "null", "{\"traceEvents\": 5}", "{not json"])
def test_kernels_profile_refuses_what_is_not_a_trace(tmp_path, capsys, content):
    trace = tmp_path / "t.json"
    trace.write_text(content)
    assert kernels_profile.main([str(trace)]) == 2
    assert "cannot read" in one_line(capsys, "kernels_profile")


def test_unknown_experiment_and_predict_errors(capsys):
    assert batch.main(["nope"]) == 2
    assert "unknown experiment 'nope'" in one_line(capsys, "charsuite.batch")
    assert predict.main(["+model=qwen2_5", "model.size=7b"]) == 2
    assert "'7b'" in one_line(capsys, "charsuite.predict")
    assert predict.main(["+model=qwen2_5", "format=xml"]) == 2


def test_results_lines_lacking_fields_do_not_break_the_readers(runs, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(runs, copy)
    with open(next(copy.rglob("results.jsonl")), "a") as f:
        f.write(json.dumps({"model": "mamba2", "phase": "prefill"}) + "\n")
    assert summary.main([str(copy)]) == 0 and export.main([str(copy), "--out", str(tmp_path / "t")]) == 0
    assert "unreadable line" in capsys.readouterr().err
