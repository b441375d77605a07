"""The study's claims beside charsuite's numbers (issue 29): measured ones from synthetic run folders with known
answers (tests/synthetic.py: an SSM prefill of 4e-6 n s, a Transformer's of 1e-9 n^2 s - the Transformer 3.9x
faster at 1K, the SSM 4.1x faster at 16K), simulated ones from dry-runs of tiny models, each labelled."""

from __future__ import annotations

import json

import pytest

from charsuite import claims
from charsuite.analysis.claims import faster_text, measured_numbers
from charsuite.results import load_summaries, load_table
from helpers import run_cli
from synthetic import SSM_LAYOUT, TFM_LAYOUT, write_run

DEVICE = "rtx4090"
REACH = {"id": "reach", "stated": "SSMs reach far", "kind": "reach", "ssm": "mamba2/x", "transformer": "qwen2_5/x"}
SHORT = {"id": "short", "stated": "T faster short", "kind": "speedup", "faster": "transformer", "ssm": "mamba2/x",
         "transformer": "qwen2_5/x", "contexts": [1024, 8192]}
LONG = {**SHORT, "id": "long", "faster": "ssm", "contexts": [16384, 16384]}
SHARE = {"id": "share", "stated": "scan share", "kind": "share", "ssm": "mamba2/x",
         "categories": ["ssm_scan", "conv1d"], "context": 16384}


@pytest.fixture
def batch(tmp_path):
    root = tmp_path / "batch"
    write_run(root, "mamba2", "ssm", lambda n: 4e-6 * n, lambda n: 2e-3, SSM_LAYOUT, "mamba2", params=1, seed=1,
              device=DEVICE, profile_shares={"ssm_scan": 0.6, "conv1d": 0.1, "gemm": 0.25, "other": 0.05})
    write_run(root, "qwen2_5", "transformer", lambda n: 1e-9 * n * n, lambda n: 1e-6 * n, TFM_LAYOUT, "qwen2",
              params=1, seed=2, device=DEVICE, lengths=(1024, 2048, 4096, 8192, 16384), oom_at=32768)
    return root


def _one(claim, root):
    found = measured_numbers(claim, DEVICE, load_table([root]), load_summaries([root]))
    assert len(found) == 1, found
    return found[0]


def test_measured_claims_have_their_known_answers(batch):
    reach = _one(REACH, batch)
    assert reach.ratio == 1.0 and reach.value.startswith("16K tokens") and reach.basis.startswith("measured (")
    short = _one(SHORT, batch)
    assert short.ratio == pytest.approx(4000 / 1024, rel=1e-9) and "Transformer 3.91x faster at 1K" in short.value
    long = _one(LONG, batch)
    assert long.ratio == pytest.approx(16384 / 4000, rel=1e-9) and "SSM 4.10x faster at 16K" in long.value
    share = _one(SHARE, batch)
    assert share.ratio == pytest.approx(0.7) and share.value.startswith("70% of a profiled prefill at 16K")


def test_no_runs_on_the_claims_device_give_no_measured_number(batch):
    assert measured_numbers(REACH, "orin_nano", load_table([batch]), load_summaries([batch])) == []


def test_a_ratio_below_one_is_said_the_right_way_round():
    assert faster_text("ssm", 0.25, 57344, 1).startswith("the Transformer 4.00x faster at 56K")


def test_the_command_prints_measured_claims_and_refuses_unknown_experiments(batch):
    r = run_cli("ispass_rtx4090", str(batch), "--no-simulate", "--format", "json", module="charsuite.claims")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []  # the file's pairs are full sizes; the synthetic runs are size x
    r = run_cli("ispass_mars", module="charsuite.claims")
    assert r.returncode == 2 and "no claims for experiment 'ispass_mars'" in r.stderr and "Traceback" not in r.stderr
    md = claims.claims_markdown("ispass_rtx4090", [])
    assert md.startswith("## Claims: ISPASS 2026") and "engine=mamba_ssm | engine=transformers" in md
