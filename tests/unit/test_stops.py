"""Every stop visible (issue 32): each model and phase says how its sweep ended - OOM bracket, context.max,
a timeout, error or crash at a length with its line, a budget - in the summary, and the max-context
figure says it under each bar; messages give the true reason for an empty section."""

import pandas as pd

from charsuite import results
from charsuite.analysis.stops import ended, max_context_cell
from charsuite.figures.__main__ import build_figures
from charsuite.records import Point, Status
from charsuite.summary import markdown
from synthetic import ssm_vs_transformer


def test_each_way_a_sweep_ends_is_said():
    row = dict(max_context_ok=2048, min_context_oom=None, failed_at=None, run_dir="r", phase="prefill")
    assert ended({**row, "stop_reason": "out of memory", "min_context_oom": 2304}) == "OOM at 2304"
    assert ended({**row, "stop_reason": "reached context.max"}) == "reached context.max"
    assert ended({**row, "stop_reason": "timeout at 4096", "failed_at": 4096}) == "timeout at 4K"
    assert ended({**row, "stop_reason": "run budget exhausted"}) == "budget ran out"
    points = pd.DataFrame([dict(run_dir="r", phase="prefill", context=4096, status="error",
                                error="RuntimeError: fork failed\nmore")])
    cell = max_context_cell({**row, "stop_reason": "error at 4096", "failed_at": 4096}, points)
    assert cell == "2K (error at 4K: RuntimeError: fork failed)"
    assert max_context_cell({**row, "max_context_ok": None, "stop_reason": "crashed at 256", "failed_at": 256}) \
        == "none (crashed at 256)"


def test_a_run_that_timed_out_says_so_in_the_summary_and_the_figure(tmp_path):
    runs = ssm_vs_transformer(tmp_path)
    run_dir = next(p.parent for p in runs.rglob(results.RESULTS) if "mamba2" in str(p))
    rows = results.read_json(run_dir / results.SUMMARY)
    rows[0].update(stop_reason="timeout at 32768", failed_at=32768)
    results.write_json(run_dir / results.SUMMARY, rows)
    results.append(run_dir, Point(model="mamba2", size="x", family="ssm", device="cpu", dtype="float32", batch=1,
                                  phase="prefill", context=32768, status=Status.timeout,
                                  error="no answer within 900 s; worker killed"))
    md = markdown([runs])
    assert "16K (timeout at 32K: no answer within 900 s; worker killed)" in md
    figures, _, _ = build_figures([runs])
    bars = [t for t in figures["max_context"].data if t.name.startswith("measured")]
    texts = " ".join(" ".join(t.text) for t in bars).replace("<br>", " ")
    assert "timeout at 32K" in texts and "OOM at 32K" in texts
    caption = " ".join(a.text for a in figures["max_context"].layout.annotations if a.name == "caption")
    assert "stopped at context.max" not in caption


def test_an_empty_crossover_section_says_the_true_reason(tmp_path):
    runs = ssm_vs_transformer(tmp_path)
    for path in runs.rglob(results.RESULTS):  # every point of both runs flagged noisy
        path.write_text(path.read_text().replace('"noisy": false', '"noisy": true'))
    md = markdown([runs])
    assert "no SSM/hybrid and Transformer measured on the same device" not in md  # once said here, falsely
    assert "none from trusted points" in md and "analysis.include_noisy=true" in md


def test_runs_measured_under_different_loads_get_no_shared_interval(tmp_path):
    from synthetic import SSM_LAYOUT, write_run

    for mode, load in (("eager", 0.2), ("compile", 6.0)):
        d = write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", 10**8,
                      rel_noise=0.01, setup={"mode": mode}, suffix=f"_{mode}")
        path = d / results.RESULTS
        path.write_text(path.read_text().replace('"load_avg": null', f'"load_avg": {load}')
                        .replace('"threads": null', '"threads": 2'))
    md = markdown([tmp_path], include_noisy=True)
    rows = [ln for ln in md.splitlines() if "compile vs eager" in ln or "eager vs compile" in ln]
    assert rows and all("not comparable: measured at different loads" in r for r in rows), md
