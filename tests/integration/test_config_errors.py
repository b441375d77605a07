"""Bad input ends in one line naming the bad value and the choices, exit code 2."""

import pytest

BAD = [
    ((), "no model chosen", "mamba2"),
    (("+model=mamba3",), "'mamba3'", "qwen2_5"),
    (("+model=mamba2", "model.size=9b"), "'9b'", "130m"),
    (("+model=mamba2", "device=tpu_v9"), "'tpu_v9'", "rtx4090"),
    (("+model=mamba2", "context.min=9000", "context.max=100"), "9000", "context.max"),
    (("+model=mamba2", "context.max=-5"), "-5", "positive"),
    (("+model=mamba2", "context.max=0"), "0", "positive"),
    (("+model=mamba2", "context.max=1.5"), "1.5", "integer"),
    (("+model=mamba2", "context.min=abc"), "abc", "integer"),
    (("+model=mamba2", "model.dtype=float8"), "float8", "bfloat16"),
    (("+model=mamba2", "context.mx=5"), "context.mx", "max"),
    (("+model=mamba2", "workload.logits=some"), "some", "last"),
    (("+model=mamba2", "workload.repeats=0"), "repeats", "positive"),
    (("-m", "+model=mamba2,nope"), "'nope'", "mamba2"),
    (("+model=mamba2", "engine=vllm"), "'vllm'", "llamacpp"),
    (("+model=mamba2", "model.quant=q3"), "'q3'", "q4_k_m"),
    (("+model=mamba2", "engine=llamacpp", "engine.kv_type=q2"), "'q2'", "q8_0"),
]


@pytest.mark.parametrize("args,bad,hint", BAD, ids=[" ".join(a) or "no-model" for a, _, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(cli, args, bad, hint):
    r = cli(*args, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert bad in lines[0] and hint in lines[0], lines[0]


def test_the_commonest_slips_get_a_hint(cli):
    # issue 12: a model without its +, an experiment passed as a group, and --help that says how to run
    bare = cli("model=mamba2")
    assert bare.returncode == 2 and "+model=mamba2" in bare.stderr and len(bare.stderr.strip().splitlines()) == 1
    exp = cli("+experiment=ispass_rtx4090")
    assert exp.returncode == 2 and "python -m charsuite.batch ispass_rtx4090" in exp.stderr
    helped = cli("--help")
    assert helped.returncode == 0 and "usage:" in helped.stdout and "+model=FAMILY" in helped.stdout
    assert "device: a100" in helped.stdout  # the config groups are still listed


def test_model_quant_without_llamacpp_and_a_missing_extra_are_one_line(cli, tmp_path):
    quant = cli("+model=mamba2", "model.size=tiny", "model.quant=q8_0", f"hydra.run.dir={tmp_path / 'q'}", timeout=120)
    assert quant.returncode == 2 and "add engine=llamacpp" in quant.stderr and "Traceback" not in quant.stderr
    fake = tmp_path / "site"  # llama-cpp-python as if not installed: its import fails
    (fake / "llama_cpp").mkdir(parents=True)
    (fake / "llama_cpp" / "__init__.py").write_text("raise ImportError('not installed')\n")
    r = cli("+model=mamba2", "model.size=tiny", "engine=llamacpp", f"hydra.run.dir={tmp_path / 'r'}",
            env={"PYTHONPATH": str(fake)}, timeout=120)
    assert r.returncode == 2, r.stderr
    assert 'pip install -e ".[llamacpp]"' in r.stderr and "Traceback" not in r.stderr, r.stderr
