"""Engines own themselves (issue 27): what the rooms above the worker know of an engine comes from its
EngineSpec (charsuite/engines/__init__.py), never from testing its name; and mamba_ssm's engine builds the
zoo's entries through a field map (issue 29), checked here without mamba_ssm installed."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from charsuite import engines
from charsuite.analysis.setups import modelled, setup
from charsuite.config import ConfigError
from charsuite.engines.mamba_ssm_config import mamba_config_kwargs
from charsuite.fingerprint import fingerprint
from helpers import REPO, compose

NAMES = "(transformers|llamacpp|mamba_ssm)"
ENGINE_NAMES = re.compile(rf"""[!=]=\s*["']{NAMES}["']|["']{NAMES}["']\s*[!=]=""")


def test_no_engine_name_is_tested_outside_engines():
    found = []
    for path in (REPO / "charsuite").rglob("*.py"):
        if Path("charsuite/engines") in path.relative_to(REPO).parents:
            continue
        found += [f"{path.relative_to(REPO)}:{i}" for i, line in enumerate(path.read_text().splitlines(), 1)
                  if ENGINE_NAMES.search(line)]
    assert not found, found


def test_folder_suffix_and_label_follow_the_spec():
    assert engines.folder_suffix("transformers", "q8_0") == ""
    assert engines.folder_suffix("llamacpp", "q8_0") == "_llamacpp_q8_0"
    assert engines.folder_suffix("llamacpp", "None") == "_llamacpp"
    assert engines.folder_suffix("mamba_ssm", "q8_0") == "_mamba_ssm"  # it has no weight types
    assert engines.setup_label(None, None) == "transformers"
    assert engines.setup_label("llamacpp", "f16") == "llamacpp f16"
    assert engines.setup_label("someone_elses", "x") == "someone_elses"  # a plugin this install lacks reads plain
    assert engines.baseline_labels()[:2] == ("transformers", "llamacpp f32")


def test_fingerprint_keeps_older_folders_resumable():
    """The default engine adds nothing; llama.cpp's part is its name and every setting, as before."""
    base = fingerprint(compose("+model=mamba2", "model.size=tiny"))
    assert not any(k.startswith("engine.") for k in base)
    llama = fingerprint(compose("+model=mamba2", "model.size=tiny", "engine=llamacpp"))
    assert {k for k in llama if k.startswith("engine.")} == {
        "engine.name", "engine.n_batch", "engine.n_ubatch", "engine.n_gpu_layers", "engine.kv_type", "engine.repack"}
    ours = fingerprint(compose("+model=mamba2", "model.size=tiny", "engine=mamba_ssm"))
    assert {k: v for k, v in ours.items() if k.startswith("engine.")} == {"engine.name": "mamba_ssm",
                                                                         "engine.prefill_cache": True}


def test_the_memory_model_applies_where_its_engine_says():
    lines = lambda **kw: pd.DataFrame([{"logits": "last", **kw}])  # noqa: E731
    assert modelled(lines(engine="transformers"))
    assert modelled(lines())  # lines older than engines
    assert not modelled(lines(engine="transformers", prefill_chunk=512))
    assert not modelled(lines(engine="mamba_ssm"))
    assert setup(lines(engine="llamacpp", quant="q4_0"))["engine"] == "llamacpp q4_0"


def test_an_unknown_engine_is_one_line():
    with pytest.raises(ConfigError, match="unknown engine"):
        compose("+model=mamba2", "engine.name=vllm")


@pytest.mark.parametrize("family,size,expect", [
    ("mamba2", "780m", {"d_model": 1536, "n_layer": 48, "vocab_size": 50288, "pad_vocab_size_multiple": 16,
                        "ssm_cfg": {"layer": "Mamba2", "d_state": 128, "d_conv": 4, "expand": 2, "headdim": 64,
                                    "ngroups": 1, "chunk_size": 256}}),
    ("mamba", "130m", {"d_model": 768, "n_layer": 24, "vocab_size": 50280, "pad_vocab_size_multiple": 8,
                       "ssm_cfg": {"layer": "Mamba1", "d_state": 16, "d_conv": 4, "expand": 2}}),
])
def test_mamba_ssm_builds_the_zoo_entry_as_the_checkpoints_configure_it(family, size, expect):
    got = mamba_config_kwargs(compose(f"+model={family}", f"model.size={size}").model)
    assert {k: got[k] for k in expect} == expect
    assert got["d_intermediate"] == 0 and got["rms_norm"] and got["residual_in_fp32"] and got["fused_add_norm"]


def test_mamba_ssm_refuses_what_it_has_no_model_for():
    with pytest.raises(ConfigError, match="Mamba and Mamba-2 layers only; qwen2_5 is qwen2"):
        mamba_config_kwargs(compose("+model=qwen2_5", "model.size=0.5b").model)


def test_the_summary_pairs_a_mamba_ssm_run_with_its_transformers_twin(tmp_path):
    from charsuite.summary import markdown
    from synthetic import SSM_LAYOUT, write_run

    write_run(tmp_path, "mamba2", "ssm", lambda n: 4e-6 * n, lambda n: 2e-3, SSM_LAYOUT, "mamba2", params=1, seed=1)
    write_run(tmp_path, "mamba2", "ssm", lambda n: 2e-6 * n, lambda n: 1e-3, SSM_LAYOUT, "mamba2", params=1, seed=2,
              setup={"engine": "mamba_ssm"}, suffix="_mamba_ssm")
    md = markdown([tmp_path])
    assert "| mamba2 | x | cpu | prefill | mamba_ssm vs transformers | 2.00x |" in md
