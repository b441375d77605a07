"""An interval is printed with the confidence it really has (issue 33): three samples give a median
interval of 75%, not 95%; the run's table and the latency figures' captions say which."""

import io

from rich.console import Console

from charsuite import results
from charsuite.figures.__main__ import build_figures
from charsuite.noise import spread
from charsuite.progress import print_table
from synthetic import ssm_vs_transformer


def test_the_table_prints_each_intervals_own_confidence(tmp_path):
    three, eight = spread([1.0, 1.01, 0.99]), spread([1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01])
    assert round(three.coverage, 2) == 0.75 and eight.coverage >= 0.95
    runs = ssm_vs_transformer(tmp_path)
    points = results.read_points(next(runs.rglob(results.RESULTS)))[:2]
    points[0].median_rel_ci, points[0].ci_coverage = 0.01, three.coverage
    points[1].median_rel_ci, points[1].ci_coverage = 0.01, eight.coverage
    out = io.StringIO()
    print_table(points, [], console=Console(file=out, width=200))
    text = out.getvalue()
    assert "95% interval" not in text and "interval (conf.)" in text
    assert "+-1.0% (75%)" in text and f"+-1.0% ({eight.coverage:.0%})" in text


def test_latency_captions_say_the_plotted_intervals_confidence(tmp_path):
    runs = ssm_vs_transformer(tmp_path)
    for path in runs.rglob(results.RESULTS):  # every point with three samples: 75% intervals
        lines = path.read_text().replace('"ci_coverage": null', '"ci_coverage": 0.75')
        path.write_text(lines)
    figures, _, _ = build_figures([runs])
    caption = " ".join(a.text for a in figures["prefill_latency"].layout.annotations if a.name == "caption")
    caption = caption.replace("<br>", " ")  # the theme wraps long captions
    assert "75% interval (95% needs six samples)" in caption and "95% interval" not in caption


def test_a_narrow_terminal_wraps_cells_and_never_cuts_a_number(tmp_path):
    from charsuite.records import Point, Status

    base = dict(model="m", size="s", family="ssm", device="cpu", dtype="float32", batch=1)
    points = [Point(**base, phase="prefill", context=131072, status=Status.ok, latency_s=165.125, tokens_per_s=793.8,
                    median_rel_ci=0.123, ci_coverage=0.75, latency_samples_s=[165.0, 165.1, 165.2],
                    peak_mem_bytes=1_294_467_072, noisy=True),
              Point(**base, phase="profile", profiled_phase="decode", context=131072, status=Status.timeout)]
    out = io.StringIO()
    print_table(points, [], console=Console(file=out, width=80, force_terminal=True, color_system=None))
    text = out.getvalue()
    table = text.split("of 2 points are noisy")[0].splitlines()[:-1]  # the notes below soft-wrap on their own
    assert table and max(len(line) for line in table) <= 80
    words = " ".join(table).split()
    for whole in ("165", "+-12.3%", "(75%)", "794", "1.2", "GiB", "timeout", "noisy", "(decode)"):
        assert whole in words, (whole, text)  # a number is whole or not there: never "16512..." or "timeo..."
    assert "…" not in text and "..." not in text
