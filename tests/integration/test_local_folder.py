"""A local model folder (model.path): the pretrained-loading code, tested offline on a random
model saved with save_pretrained, and the remote-code gate (a folder that ships its own
modeling code, as Hymba's does, runs only with model.trust_remote_code=true)."""

import json

import torch

from charsuite import results
from charsuite.engines.transformers import build
from helpers import compose, run_cli


def _saved(tmp_path):
    spec = compose("+model=qwen2_5", "model.size=tiny").model
    torch.manual_seed(7)
    model = build(spec)
    folder = tmp_path / "qwen2_5-tiny"
    model.save_pretrained(folder)
    return model, folder


def test_pretrained_weights_load_from_a_local_folder(tmp_path):
    saved, folder = _saved(tmp_path)
    spec = compose("+model=qwen2_5", "model.size=tiny", "model.weights=pretrained", f"model.path={folder}").model
    loaded = build(spec)
    for (name, a), (_, b) in zip(saved.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    run_dir = tmp_path / "run"
    r = run_cli("+model=qwen2_5", "model.size=tiny", "model.weights=pretrained", f"model.path={folder}",
                "context.min=128", "context.max=128", "workload.phases=[prefill]", "workload.repeats=1",
                f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    (point,) = results.read_points(run_dir / results.RESULTS)
    assert point.status.value == "ok" and point.params == sum(p.numel() for p in saved.parameters())


def test_a_folder_with_its_own_code_needs_trust_remote_code(tmp_path):
    _, folder = _saved(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoConfig": "configuration_custom.CustomConfig",
                       "AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"}
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "modeling_custom.py").write_text("raise SystemExit('remote code ran')\n")
    r = run_cli("+model=qwen2_5", "model.size=tiny", "model.weights=pretrained", f"model.path={folder}",
                f"hydra.run.dir={tmp_path / 'run'}")
    assert r.returncode == 2, r.stderr[-2000:]
    assert "model.trust_remote_code=true" in r.stderr and "Traceback" not in r.stderr
    assert "remote code ran" not in r.stderr + r.stdout


def test_a_path_without_a_model_is_one_line(tmp_path):
    r = run_cli("+model=qwen2_5", "model.size=tiny", f"model.path={tmp_path}", f"hydra.run.dir={tmp_path / 'run'}")
    assert r.returncode == 2 and "no config.json" in r.stderr and "Traceback" not in r.stderr
