"""Figures over many runs that a reviewer accepts (issue 32): log axes where ranges span decades, a scale
per panel where sizes differ, legends that name each run once and fit, a dash per setup of one model,
ticks a reader says aloud."""

from charsuite.figures.__main__ import build_figures
from synthetic import SSM_LAYOUT, TFM_LAYOUT, write_run


def test_max_context_puts_measured_beside_predicted_on_a_log_axis_and_predicts_no_llamacpp_run(tmp_path):
    # issue 32: measured bars (512-4K) were invisible beside 1.3M-5.3M predictions on a linear axis, and a
    # llama.cpp run got the transformers memory model's prediction
    write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", 10**8,
              lengths=(256, 512), memory_limit_bytes=64 * 2**30)
    write_run(tmp_path, "qwen2_5", "transformer", lambda n: 1e-6 * n * n, lambda n: 1e-5 * n, TFM_LAYOUT, "qwen2",
              5 * 10**8, lengths=(256, 512), memory_limit_bytes=64 * 2**30, setup={"engine": "llamacpp"},
              suffix="_llamacpp")
    figures, _, _ = build_figures([tmp_path])
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
    for name, params in (("big", 10**9), ("small", 10**6)):
        write_run(tmp_path, name, "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", params,
                  lengths=(256, 512))
    fig = build_figures([tmp_path])[0]["memory_prefill"]
    assert fig.layout.yaxis2.matches is None  # each panel its own scale
    caption = " ".join(a.text for a in fig.layout.annotations if a.name == "caption").replace("<br>", " ")
    assert "Each panel its own y-axis" in caption


def test_a_single_pair_within_a_narrow_range_gets_its_legend_and_readable_ticks(tmp_path):
    # issue 32: speedup_decode with one pair showed a single "1x" tick and no legend
    write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 0.05, SSM_LAYOUT, "mamba2", 10**8)
    write_run(tmp_path, "gpt_neo", "transformer", lambda n: 5e-4 * n, lambda n: 0.03 + 1e-6 * n, TFM_LAYOUT,
              "gpt_neo", 10**8)
    fig = build_figures([tmp_path])[0]["speedup_decode"]
    assert fig.layout.showlegend and [t.name for t in fig.data if t.mode == "lines+markers"]
    ticks = list(fig.layout.yaxis.ticktext)
    assert len(ticks) >= 3 and "1x" in ticks, ticks


def test_setups_of_one_model_differ_by_dash_in_the_latency_figures(tmp_path):
    # issue 32: four setups of one model once shared one colour and one line style
    for mode in ("eager", "compile"):
        write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", 10**8,
                  setup={"mode": mode}, suffix=f"_{mode}")
    fig = build_figures([tmp_path])[0]["prefill_latency"]
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == 2 and lines[0].line.color == lines[1].line.color and lines[0].line.dash != lines[1].line.dash
    caption = " ".join(a.text for a in fig.layout.annotations if a.name == "caption").replace("<br>", " ")
    assert "a dash per setup" in caption


def test_throughput_gives_a_panel_per_phase_a_dash_per_setup_one_legend_entry_per_run_and_decade_ticks(tmp_path):
    # issue 32: throughput_energy's setups of one model shared colour and dash, each run had two legend
    # entries (one per phase) whose list was clipped, and a log axis ticked "5" and "2" between decades
    for mode in ("eager", "compile", "cudagraph"):
        write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", 10**8,
                  setup={"mode": mode}, suffix=f"_{mode}")
    write_run(tmp_path, "gpt_neo", "transformer", lambda n: 5e-4 * n, lambda n: 0.03, TFM_LAYOUT, "gpt_neo", 10**8)
    fig = build_figures([tmp_path])[0]["throughput_energy"]
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    named = [t.name for t in lines if t.showlegend is not False]
    assert len(named) == len(set(named)) == 4  # each run once, not once per phase
    mamba = [t for t in lines if t.name.startswith("mamba2")]
    by_run = {}
    for t in mamba:
        by_run.setdefault(t.name, set()).add(t.line.dash)
    assert all(len(d) == 1 for d in by_run.values())  # a run keeps its dash in every panel
    assert len({next(iter(d)) for d in by_run.values()}) == 3  # and the setups differ by it
    assert len({t.line.color for t in mamba}) == 1
    for axis in (fig.layout.yaxis, fig.layout.yaxis2):
        assert axis.type == "log" and all(str(t)[0] == "1" for t in axis.ticktext), axis.ticktext
    legend_px = 21 * len(named) + 26 * 2 + 40
    assert fig.layout.height >= legend_px  # the figure holds its legend


def test_the_same_setup_measured_twice_gets_two_legend_names(tmp_path):
    # issue 32: two folders of one model and setup (beside a third setup) both read
    # "qwen2_5 tiny (eager, one-shot, transformers)"
    for root in ("a", "b"):
        write_run(tmp_path / root, "qwen2_5", "transformer", lambda n: 5e-4 * n, lambda n: 0.03, TFM_LAYOUT, "qwen2",
                  10**8)
    write_run(tmp_path / "b", "qwen2_5", "transformer", lambda n: 5e-4 * n, lambda n: 0.03, TFM_LAYOUT, "qwen2",
              10**8, setup={"mode": "compile"}, suffix="_compile")
    fig = build_figures([tmp_path / "a", tmp_path / "b"])[0]["prefill_latency"]
    names = [t.name for t in fig.data if t.mode == "lines+markers"]
    assert len(names) == 3 and len(set(names)) == 3, names


def test_one_colour_means_one_thing_in_the_breakdown_figures():
    # issue 32: operator_breakdown_study coloured the study's 'arithmetic' like our 'embedding', and our
    # linear_attention like 'other'
    from charsuite.figures import theme

    ours = theme.category_colors()
    assert len(set(ours.values())) == len(ours)
    for group, color in theme.study_colors().items():
        same = theme.STUDY_SAME_AS.get(group)
        assert color == ours[same] if same else color not in ours.values(), group


def test_two_setups_of_one_model_get_their_own_breakdown_panels_named_by_run_and_phase(tmp_path):
    # issue 32: the breakdown figures merged every run of one model and size into one panel, and the
    # study figure's right-hand panels said neither model nor phase
    for mode in ("eager", "compile"):
        write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", 10**8,
                  setup={"mode": mode}, suffix=f"_{mode}", profile_shares={"ssm_scan": 0.7, "other": 0.3})
    figures = build_figures([tmp_path])[0]
    titles = [a.text for a in figures["operator_breakdown"].layout.annotations if a.name != "caption"]
    assert len(titles) == 4 and any("compile" in t and "decode" in t for t in titles), titles
    study = [a.text for a in figures["operator_breakdown_study"].layout.annotations if a.name != "caption"]
    assert len(study) == 8 and all(("eager" in t or "compile" in t) and ("prefill" in t or "decode" in t)
                                   for t in study), study


def test_a_sweep_stopped_by_a_timeout_is_marked_where_it_stopped_in_the_latency_figure(tmp_path):
    # issue 32: a run that timed out at 1K ended its curve at 512 with nothing to say why
    import json

    from charsuite import results

    run = write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", 10**8,
                    lengths=(256, 512))
    summary = json.loads((run / results.SUMMARY).read_text())
    for row in summary:
        row.update(stop_reason="timeout at 1024", failed_at=1024)
    (run / results.SUMMARY).write_text(json.dumps(summary))
    fig = build_figures([tmp_path])[0]["prefill_latency"]
    (mark,) = [t for t in fig.data if getattr(t.marker, "symbol", None) == "triangle-up-open"]
    assert list(mark.x) == [1024] and "timeout at 1K" in mark.hovertext
    caption = " ".join(a.text for a in fig.layout.annotations if a.name == "caption").replace("<br>", " ")
    assert "triangle: stopped by a timeout" in caption


def test_a_run_of_one_length_gets_a_stacked_bar_not_an_empty_memory_panel(tmp_path):
    # issue 32: a stacked area of one length draws nothing, and its panel looked empty
    write_run(tmp_path, "mamba2", "ssm", lambda n: 1e-3 * n, lambda n: 1e-2, SSM_LAYOUT, "mamba2", 10**8,
              lengths=(256,))
    write_run(tmp_path, "gpt_neo", "transformer", lambda n: 5e-4 * n, lambda n: 0.03, TFM_LAYOUT, "gpt_neo", 10**8)
    fig = build_figures([tmp_path])[0]["memory_prefill"]
    bars = [t for t in fig.data if t.type == "bar"]
    assert bars and all(list(t.x) == ["256"] for t in bars) and any(max(t.y) > 0 for t in bars)
    names = [t.name for t in fig.data if t.showlegend]
    assert len(names) == len(set(names))  # each band once in the legend
