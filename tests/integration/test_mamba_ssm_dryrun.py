"""engine=mamba_ssm's dry-run on this CPU (issue 29): mamba_ssm's and causal_conv1d's own Python run on fake
tensors with shape-only launches (simulate/launches.py), so its numbers follow from mamba_ssm's code. Held here
to what that code allocates, worked out by hand from its source: the logits its head writes (float16, every
position), its conv and SSM states (mamba2.py / mamba_simple.py allocate_inference_cache), the parameter count
of the transformers build of the same zoo entry. Needs Triton and the two packages' sources apart from the venv
(.ci/run puts them in .ci_triton: CHARSUITE_TRITON_SITE, CHARSUITE_MAMBA_SRC, CHARSUITE_CONV1D_SRC); skipped,
and counted as skipped, without them."""

from __future__ import annotations

import json
import os

import pytest

from charsuite.analysis.facts import model_facts
from helpers import compose, load_factor

PATHS = [os.environ.get(k) for k in ("CHARSUITE_TRITON_SITE", "CHARSUITE_MAMBA_SRC", "CHARSUITE_CONV1D_SRC")]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not all(PATHS), reason="no Triton site / mamba-ssm sources")]
FP16 = ("device=rtx4090", "model.dtype=float16", "workload.logits=all")


def predict(cli, *args: str) -> dict:
    r = cli(*args, "format=json", module="charsuite.predict", timeout=900 * load_factor(),
            env={"PYTHONPATH": os.pathsep.join([*PATHS, os.environ.get("PYTHONPATH", "")])})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def state_bytes(family: str, cfg: dict, layers: int) -> int:
    """Per layer, in float16: Mamba-2 conv (d_ssm + 2 ngroups d_state, d_conv) and SSM (nheads, headdim,
    d_state) states (mamba2.py allocate_inference_cache); Mamba-1 conv (d_inner, d_conv) and SSM (d_inner,
    d_state) (mamba_simple.py)."""
    inner = cfg["expand"] * cfg["hidden_size"]
    if family == "mamba2":
        per = (inner + 2 * cfg["n_groups"] * cfg["state_size"]) * cfg["conv_kernel"] + inner * cfg["state_size"]
    else:
        per = inner * cfg["conv_kernel"] + inner * cfg["state_size"]
    return 2 * per * layers


@pytest.mark.parametrize("family", ["mamba", "mamba2"])
def test_the_dry_run_is_mamba_ssms_own_code(cli, family):
    out = predict(cli, f"+model={family}", "model.size=tiny", "engine=mamba_ssm", *FP16, "context.min=1024",
                  "context.max=2048")
    spec = compose(f"+model={family}", "model.size=tiny").model
    cfg = spec.sizes["tiny"]["config"]
    assert out["params"] == model_facts(spec).params  # the same model, built by the other engine's code
    for row in out["ladder"]:
        assert row["logits"] == row["context"] * cfg["vocab_size"] * 2  # its head: float16, every position
        assert row["ssm_state"] == state_bytes(family, cfg, cfg["num_hidden_layers"])
        assert row["kv_cache"] == 0
        assert "Triton launches: shape-only" in row["swapped"]
        assert row["first_call"] >= 256 * 2**20  # its Triton layer norm is autotuned: the buffer, seen launched
    assert out["ladder"][1]["logits"] == 2 * out["ladder"][0]["logits"]
    assert any("Triton's autotune buffer" in a for a in out["assumptions"])  # said as the dry-run counted it


def test_its_float16_head_reaches_further_than_transformers_on_a_24_gb_card(cli):
    """Mamba2-780M with logits for every position, as the study ran it: mamba_ssm's head writes float16 logits,
    transformers' Mamba-2 head a float32 copy besides - the boundary moves by their bytes per position."""
    args = ("+model=mamba2", "model.size=780m", *FP16, "context.min=131072", "context.max=131072")
    ours = predict(cli, *args, "engine=mamba_ssm")
    theirs = predict(cli, *args)
    assert ours["predicted_max_context"] > 2 * theirs["predicted_max_context"]
    row = ours["ladder"][0]
    assert row["logits"] / (row["peak"] - row["weights"]) > 0.9  # logits are what fills the card


def test_the_engine_runs_for_real_under_tritons_interpreter_and_allocates_what_its_dry_run_does():
    """Mamba-2 tiny through MambaSsmEngine on CPU tensors (tests/mamba_ssm_cpu_probe.py): its cached decode
    step matches one full forward, and a real prefill makes the dry-run's allocations, the same sizes in the
    same order (when each is freed may differ: the interpreter holds a launch's arguments in its own frames)."""
    import subprocess
    import sys

    from helpers import REPO

    r = subprocess.run([sys.executable, str(REPO / "tests" / "mamba_ssm_cpu_probe.py")], capture_output=True,
                       text=True, timeout=900 * load_factor(), cwd=REPO,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join([PATHS[0], PATHS[1], str(REPO / "tests")])})
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["max_abs_dlogit"] < 1e-4 * max(1.0, out["logit_scale"])
    assert out["real"]["events"] == out["dry"]["events"] and len(out["real"]["events"]) > 20
    assert out["real"]["ssm_state"] == out["dry"]["ssm_state"] and out["real"]["logits"] == out["dry"]["logits"]
    assert out["impl"]["mamba_chunk_scan_combined"] == "mamba-ssm"
