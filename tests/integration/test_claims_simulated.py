"""The study's claims simulated (issue 29): dry-runs of tiny models on the rtx4090 profile under charsuite's method,
each number labelled with what it rests on; the study's method needs mamba_ssm, absent from the test venv, and
its rows say so instead of giving a number."""

from __future__ import annotations

from charsuite import claims

DEVICE = "rtx4090"
REACH = {"id": "reach", "stated": "SSMs reach far", "kind": "reach"}
SHORT = {"id": "short", "stated": "T faster short", "kind": "speedup", "faster": "transformer"}


def test_simulated_claims_are_labelled_and_a_method_this_machine_cannot_run_is_said():
    exp = {"device": DEVICE, "claims": [
        {**REACH, "ssm": "mamba2/tiny", "transformer": "qwen2_5/tiny"},
        {**SHORT, "ssm": "mamba2/tiny", "transformer": "qwen2_5/tiny", "contexts": [256, 1024]}]}
    nums = claims.numbers("test", [], exp=exp, say=lambda s: None)
    assert [n.claim for n in nums] == ["reach", "reach", "short", "short"]
    by = {(n.claim, n.method.split(":")[0]): n for n in nums}
    for claim in ("reach", "short"):
        ours = by[(claim, "charsuite")]
        assert ours.basis.startswith("simulated (") and ours.ratio and ours.ratio > 0
        study = by[(claim, "study")]
        assert study.value == "not simulated here" and "mamba_ssm" in study.basis
    assert "not yet modelled" in by[("short", "charsuite")].basis  # the latency model's gaps travel with it
