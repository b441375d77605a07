"""Figures and report.html from a synthetic SSM-vs-Transformer batch (known crossovers,
an OOM, profiles), checked as files and in a real headless Chromium."""

import shutil

import pytest

from charsuite import results
from charsuite.analysis.crossover import crossover, interpolate_loglog, speedup_curve
from charsuite.figures.__main__ import main as figures_main
from charsuite.figures.registry import FIGURES
from charsuite.records import Point
from synthetic import ssm_vs_transformer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    return ssm_vs_transformer(tmp_path_factory.mktemp("synthetic"))


def test_crossover_math_on_hand_made_curves():
    assert interpolate_loglog([1000, 4000], [1.0, 16.0], 2000) == pytest.approx(4.0)
    ssm = {1000: 2.0, 2000: 4.0, 4000: 8.0}           # linear in length
    tfm = {1000: 1.0, 2000: 4.0, 4000: 16.0}          # quadratic: crosses at 2000
    curve = speedup_curve(ssm, tfm)
    assert [round(s, 3) for _, s in curve] == [0.5, 1.0, 2.0]
    assert crossover(curve) == pytest.approx(2000)
    assert crossover(speedup_curve({1: 1.0, 2: 2.0}, {1: 3.0, 2: 6.0})) is None


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="kaleido needs Chromium (apt-get install chromium)")
def test_every_supported_figure_in_three_formats(batch, tmp_path, capsys):
    out = tmp_path / "figs"
    assert figures_main([str(batch), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    made = {p.stem for p in out.glob("*.png")}
    expected = set(FIGURES) - {"operator_breakdown_devices"}  # one device only
    assert made == expected
    assert "skipped operator_breakdown_devices" in err
    for name in expected:
        for fmt in ("pdf", "svg", "png"):
            assert (out / f"{name}.{fmt}").stat().st_size > 1000
    assert (out / "report.html").stat().st_size > 1_000_000  # plotly.js embedded


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
def test_report_draws_every_figure_in_a_real_browser(batch, tmp_path):
    from playwright.sync_api import sync_playwright

    out = tmp_path / "html"
    assert figures_main([str(batch), "--out", str(out), "--formats", ""]) == 0
    html = (out / "report.html").read_text()
    assert '<script src="http' not in html and "<script src='http" not in html  # plotly.js is inline
    assert html.count("<script type=\"text/javascript\">") >= 1
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((out / "report.html").as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        drawn = page.evaluate("""() => Array.from(document.querySelectorAll('.figure')).map(f => {
            const plot = f.querySelector('.js-plotly-plot');
            return [f.dataset.figure, plot && plot.data ? plot.data.length : 0,
                    plot ? plot.querySelectorAll('.trace, .barlayer .point').length : 0];
        })""")
        rows = page.evaluate("() => document.querySelectorAll('#summary tbody tr').length")
        browser.close()
    assert not errors, errors
    assert {name for name, _, _ in drawn} == set(FIGURES) - {"operator_breakdown_devices"}
    assert all(n_data > 0 and n_drawn > 0 for _, n_data, n_drawn in drawn), drawn
    assert rows == 4  # 2 models x 2 phases


def test_missing_data_skips_figures_with_a_note(tmp_path, capsys):
    run = tmp_path / "one"
    run.mkdir()
    for n, lat in ((256, 0.01), (512, 0.02)):
        results.append(run, Point(model="mamba2", size="tiny", family="ssm", device="cpu", dtype="float32",
                                  batch=1, phase="prefill", context=n, status="ok", latency_s=lat,
                                  tokens_per_s=n / lat, peak_mem_bytes=10**8,
                                  mem={"weights": 10**6, "kv_cache": 0, "ssm_state": 10**4, "logits": 10**3,
                                       "activations": 10**7}))
    out = tmp_path / "figs"
    assert figures_main([str(run), "--out", str(out), "--formats", ""]) == 0
    err = capsys.readouterr().err
    for skipped in ("speedup_prefill", "decode_latency", "operator_breakdown", "max_context"):
        assert f"skipped {skipped}" in err
    assert (out / "report.html").exists()
    assert figures_main([str(tmp_path / "nope"), "--out", str(out)]) == 2


def test_legends_group_by_the_token_mixers_when_asked(batch):
    from charsuite.figures.__main__ import build_figures

    by_family, _, _ = build_figures([batch])
    by_mixers, _, _ = build_figures([batch], group_by="mixers")
    titles = {t.legendgrouptitle.text for t in by_family["prefill_latency"].data if t.legendgrouptitle.text}
    assert titles == {"SSM", "Transformer"}
    titles = {t.legendgrouptitle.text for t in by_mixers["prefill_latency"].data if t.legendgrouptitle.text}
    assert titles == {"mamba2", "attention"}   # the synthetic SSM's mixer and the Transformer's


def test_an_unknown_grouping_is_one_line(batch, tmp_path, capsys):
    assert figures_main([str(batch), "--out", str(tmp_path / "figs"), "--group-by", "vibes"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "charsuite.figures: unknown --group-by 'vibes'; choose from: family, mixers"
