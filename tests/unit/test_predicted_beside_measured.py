"""issue 30: the latency model's prediction stands beside the measurement wherever a person reads both - dotted in
the latency figures, its crossing beside the measured one in the summary - from each line's latency_predicted_s
(synthetic folders with known laws: the predicted crossing is known in advance)."""

from __future__ import annotations

import pytest

from charsuite.figures.__main__ import build_figures
from charsuite.summary import markdown
from synthetic import SSM_LAYOUT, TFM_LAYOUT, write_run


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Measured: the SSM's prefill 4e-6 n, the Transformer's 1e-9 n^2 (cross at 4,000 tokens). Predicted: the SSM
    half as fast, 8e-6 n, and the Transformer as measured: they cross at 8,000 tokens."""
    root = tmp_path_factory.mktemp("predicted") / "batch"
    write_run(root, "mamba2", "ssm", lambda n: 4e-6 * n, lambda n: 2e-3, SSM_LAYOUT, "mamba2", params=129_000_000,
              predicted={"prefill": lambda n: 8e-6 * n, "decode": lambda n: 2e-3})
    write_run(root, "qwen2_5", "transformer", lambda n: 1e-9 * n * n, lambda n: 1e-6 * n, TFM_LAYOUT, "qwen2",
              params=494_000_000, predicted={"prefill": lambda n: 1e-9 * n * n, "decode": lambda n: 1e-6 * n})
    return root


def test_the_summary_puts_the_predicted_crossing_beside_the_measured_one(batch):
    (line,) = [ln for ln in markdown([batch]).splitlines() if ln.startswith("| mamba2 x | qwen2_5 x | cpu | prefill")]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert (cells[4], cells[6]) == ("4000", "8000")  # measured, predicted


def test_a_folder_without_predictions_says_so_with_a_dash(tmp_path):
    root = tmp_path / "batch"
    write_run(root, "mamba2", "ssm", lambda n: 4e-6 * n, lambda n: 2e-3, SSM_LAYOUT, "mamba2", params=129_000_000)
    write_run(root, "qwen2_5", "transformer", lambda n: 1e-9 * n * n, lambda n: 1e-6 * n, TFM_LAYOUT, "qwen2",
              params=494_000_000)
    (line,) = [ln for ln in markdown([root]).splitlines() if ln.startswith("| mamba2 x | qwen2_5 x | cpu | prefill")]
    assert [c.strip() for c in line.strip("|").split("|")][6] == "-"


def test_the_latency_figure_draws_the_prediction_dotted_in_the_model_s_colour(batch):
    figures, _, _ = build_figures([batch])
    fig = figures["prefill_latency"]
    dotted = {t.name: t for t in fig.data if t.name and t.name.endswith(": predicted")}
    measured = {t.name: t for t in fig.data if t.mode and "markers" in t.mode and t.name in
                {n.removesuffix(": predicted") for n in dotted}}
    assert len(dotted) == 2 and len(measured) == 2
    for name, t in dotted.items():
        assert t.line.dash == "dot" and t.line.color == measured[name.removesuffix(": predicted")].line.color
    ssm = next(t for n, t in dotted.items() if n.startswith("mamba2"))
    assert list(ssm.y) == pytest.approx([8e-6 * n * 1e3 for n in ssm.x])
    caption = " ".join(a.text for a in fig.layout.annotations).replace("<br>", " ")
    assert "dotted: the latency model's prediction (simulated: the dry-run's ops at the data sheet peaks)" in caption
