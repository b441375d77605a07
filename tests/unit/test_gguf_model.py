"""The GGUF writer (engines/gguf_model.py) without llama.cpp: what it writes for each family it
supports - parameter count equal to the zoo's, llama.cpp's names, shapes and metadata, the
layouts it redoes - and the one line for a family it does not."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from charsuite.config import ConfigError
from charsuite.engines import gguf_files, gguf_model
from charsuite.engines.transformers import build, count_params
from helpers import compose

gguf = pytest.importorskip("gguf")

FAMILIES = {"mamba2": "mamba2", "llama3_2": "llama", "qwen2_5": "qwen2", "lfm2": "lfm2"}


def _written(tmp_path, family: str, file_type: str = "f32", **config):
    spec = compose(f"+model={family}", "model.size=tiny").model
    spec.sizes[spec.size]["config"] = {**spec.hf_config, **config}
    torch.manual_seed(0)
    model = build(spec)
    path = tmp_path / f"{family}.gguf"
    info = gguf_model.write_gguf(model, path, file_type)
    return model, info, gguf.GGUFReader(str(path))


def _field(reader, key):
    f = reader.fields[key]
    return f.contents()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_gguf_holds_the_zoo_models_parameters(tmp_path, family):
    model, info, reader = _written(tmp_path, family)
    counted = sum(int(np.prod(t.shape)) for t in reader.tensors if t.name != "rope_freqs.weight")
    assert counted == info["params"] == count_params(model)
    assert _field(reader, "general.architecture") == FAMILIES[family]
    arch = FAMILIES[family]
    assert _field(reader, f"{arch}.block_count") == model.config.num_hidden_layers
    assert _field(reader, f"{arch}.vocab_size") == model.config.vocab_size
    assert _field(reader, "tokenizer.ggml.model") == "none"  # token ids in, no tokenizer
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 for t in reader.tensors)


def test_f16_files_keep_small_and_state_tensors_f32(tmp_path):
    _, _, reader = _written(tmp_path, "mamba2", "f16")
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert types["blk.0.ssm_in.weight"] == gguf.GGMLQuantizationType.F16
    for name in ("blk.0.ssm_a", "blk.0.ssm_d", "blk.0.ssm_conv1d.weight", "blk.0.ssm_norm.weight",
                 "blk.0.attn_norm.weight"):
        assert types[name] == gguf.GGMLQuantizationType.F32, name


def test_mamba2_layouts(tmp_path):
    model, _, reader = _written(tmp_path, "mamba2")
    t = {x.name: x for x in reader.tensors}
    mixer = model.backbone.layers[0].mixer
    a = t["blk.0.ssm_a"].data.reshape(-1)
    assert np.allclose(a, -torch.exp(mixer.A_log).detach().numpy())  # A = -exp(A_log)
    assert t["blk.0.ssm_a"].data.shape[-1] == 1  # a unit axis, as llama.cpp reads it
    assert np.allclose(t["blk.0.ssm_dt.bias"].data.reshape(-1), mixer.dt_bias.detach().numpy())
    assert t["blk.0.ssm_conv1d.weight"].data.ndim == 2  # the depthwise conv squeezed
    assert t["blk.0.ssm_norm.weight"].data.shape == (model.config.n_groups, mixer.norm.weight.numel())


def test_llama_q_rows_interleaved_per_head(tmp_path):
    model, _, reader = _written(tmp_path, "llama3_2")
    q = model.model.layers[0].self_attn.q_proj.weight.detach()
    heads = model.config.num_attention_heads
    half = q.shape[0] // heads // 2
    written = torch.from_numpy(np.array(next(x for x in reader.tensors if x.name == "blk.0.attn_q.weight").data))
    # llama.cpp rotates adjacent pairs: row 2i of a head is transformers' row i, row 2i+1 its row half+i
    assert torch.equal(written[0], q[0]) and torch.equal(written[1], q[half])
    assert torch.equal(written[2], q[1])


def test_llama3_rope_factors_are_transformers_scaling(tmp_path):
    rope = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    model, _, reader = _written(tmp_path, "llama3_2", rope_parameters=rope)
    factors = next(x for x in reader.tensors if x.name == "rope_freqs.weight").data
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    plain = 1.0 / (rope["rope_theta"] ** (np.arange(0, head_dim, 2) / head_dim))
    scaled = model.model.rotary_emb.inv_freq.numpy()
    assert np.allclose(plain / factors, scaled, rtol=1e-5)  # llama.cpp divides each frequency by its factor
    assert math.isclose(float(factors.max()), 32.0) and math.isclose(float(factors.min()), 1.0)


def test_lfm2_kv_heads_per_layer(tmp_path):
    model, _, reader = _written(tmp_path, "lfm2")
    kv = list(_field(reader, "lfm2.attention.head_count_kv"))
    assert kv == [model.config.num_key_value_heads if t == "full_attention" else 0 for t in model.config.layer_types]
    assert 0 in kv and max(kv) > 0


def test_a_family_it_cannot_write_is_one_line():
    with pytest.raises(ConfigError, match="cannot write .*it writes: mamba2, llama3_2, qwen2_5, lfm2"):
        gguf_model.check_supported("zamba2", "zamba2")


def test_cached_files_are_named_by_config_and_weight_type(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARSUITE_CACHE", str(tmp_path))
    a = compose("+model=mamba2", "model.size=tiny").model
    b = compose("+model=mamba2", "model.size=tiny", "engine=llamacpp", "model.quant=q8_0").model
    c = compose("+model=mamba2", "model.size=130m").model
    assert gguf_files.weight_type(a) == "f32" and gguf_files.weight_type(b) == "q8_0"
    paths = {gguf_files.file_for(s, gguf_files.weight_type(s)) for s in (a, b, c)}
    assert len(paths) == 3 and all(p.parent == tmp_path / "gguf" for p in paths)
