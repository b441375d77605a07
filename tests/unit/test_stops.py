"""Every stop visible (issue 32): each model and phase says how its sweep ended - OOM bracket, context.max,
a timeout, error or crash at a length with its line, a budget - in the summary, and the max-context
figure says it under each bar; messages give the true reason for an empty section."""

import pandas as pd

from charsuite import results
from charsuite.analysis.stops import ended, max_context_cell
from charsuite.figures.__main__ import build
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
    figures, _, _ = build([runs])
    bars = [t for t in figures["max_context"].data if t.name.startswith("measured")]
    texts = " ".join(" ".join(t.text) for t in bars)
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


def test_max_context_puts_measured_beside_predicted_on_a_log_axis_and_predicts_no_llamacpp_run(tmp_path):
    # issue 32: measured bars (512-4K) were invisible beside 1.3M-5.3M predictions on a linear axis, and a
    # llama.cpp run got the transformers memory model's prediction
    from synthetic import SSM_LAYOUT, TFM_LAYOUT, write_run

    write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", 10**8,
              lengths=(256, 512), memory_limit_bytes=64 * 2**30)
    write_run(tmp_path, "qwen2_5", "transformer", lambda n: 1e-6 * n * n, lambda n: 1e-5 * n, TFM_LAYOUT, "qwen2",
              5 * 10**8, lengths=(256, 512), memory_limit_bytes=64 * 2**30, setup={"engine": "llamacpp"},
              suffix="_llamacpp")
    figures, _, _ = build([tmp_path])
    fig = figures["max_context"]
    predicted = [t for t in fig.data if t.name.startswith("predicted")]
    assert fig.layout.yaxis.type == "log"
    (bars,) = predicted
    by_label = dict(zip(bars.x, bars.y))
    assert max(v for k, v in by_label.items() if k.startswith("mamba2")) > 10**5  # the SSM's prediction stands
    assert all(v == 0 for k, v in by_label.items() if "llamacpp" in k)  # none for the llama.cpp run
    assert fig.layout.xaxis.tickangle == 0  # wrapped labels, never rotated into the caption


def test_memory_panels_get_their_own_scale_when_sizes_differ_tenfold(tmp_path):
    # issue 32: memory_prefill's shared y-axis flattened small models into empty-looking panels
    from synthetic import SSM_LAYOUT, write_run

    for name, params in (("big", 10**9), ("small", 10**6)):
        write_run(tmp_path, name, "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", params,
                  lengths=(256, 512))
    fig = build([tmp_path])[0]["memory_prefill"]
    assert fig.layout.yaxis2.matches is None  # each panel its own scale
    caption = " ".join(a.text for a in fig.layout.annotations if a.name == "caption").replace("<br>", " ")
    assert "Each panel its own y-axis" in caption


def test_a_single_pair_within_a_narrow_range_gets_its_legend_and_readable_ticks(tmp_path):
    # issue 32: speedup_decode with one pair showed a single "1x" tick and no legend
    from synthetic import SSM_LAYOUT, TFM_LAYOUT, write_run

    write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 0.05, SSM_LAYOUT, "mamba2", 10**8)
    write_run(tmp_path, "gpt_neo", "transformer", lambda n: 5e-4 * n, lambda n: 0.03 + 1e-6 * n, TFM_LAYOUT,
              "gpt_neo", 10**8)
    fig = build([tmp_path])[0]["speedup_decode"]
    assert fig.layout.showlegend and [t.name for t in fig.data if t.mode == "lines+markers"]
    ticks = list(fig.layout.yaxis.ticktext)
    assert len(ticks) >= 3 and "1x" in ticks, ticks


def test_setups_of_one_model_differ_by_dash_in_the_latency_figures(tmp_path):
    # issue 32: four setups of one model once shared one colour and one line style
    from synthetic import SSM_LAYOUT, write_run

    for mode in ("eager", "compile"):
        write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", 10**8,
                  setup={"mode": mode}, suffix=f"_{mode}")
    fig = build([tmp_path])[0]["prefill_latency"]
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == 2 and lines[0].line.color == lines[1].line.color and lines[0].line.dash != lines[1].line.dash
    caption = " ".join(a.text for a in fig.layout.annotations if a.name == "caption").replace("<br>", " ")
    assert "a dash per setup" in caption
