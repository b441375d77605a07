"""The transformers config a run builds its model from: a zoo entry's (conf/model/*.yaml) or a local
model folder's own config.json, read with every way it can be wrong said in one line."""

from __future__ import annotations

import json
from pathlib import Path

import transformers

from charsuite.config import ConfigError, ModelConfig
from charsuite.errors import one_line


def hf_config(spec: ModelConfig) -> transformers.PretrainedConfig:
    """The transformers config object for a zoo entry (no download), or a local model
    folder's own (model.path). A folder that ships its own modeling code (config.json
    `auto_map`, e.g. Hymba) is read only with model.trust_remote_code=true: no remote code
    runs unless asked."""
    if spec.path is None:
        cls = getattr(transformers, spec.config_class, None)
        if not (isinstance(cls, type) and issubclass(cls, transformers.PretrainedConfig)):
            raise ConfigError(f"model.config_class={spec.config_class!r} is not a transformers config class "
                              "(e.g. Qwen2Config, Mamba2Config)")
        try:
            return cls(**spec.hf_config)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{spec.name} {spec.size}: {spec.config_class} does not take its config: "
                              f"{one_line(exc)}") from None
    where = Path(spec.path) / "config.json"
    try:
        folder = json.loads(where.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ConfigError(f"model.path={spec.path}: its config.json is unreadable ({one_line(exc)[:120]})") from None
    if not isinstance(folder, dict):
        raise ConfigError(f"model.path={spec.path}: its config.json holds a JSON {type(folder).__name__}, "
                          "not an object")
    if folder.get("auto_map") and not spec.trust_remote_code:
        raise ConfigError(f"model.path={spec.path} ships its own modeling code ({folder.get('model_type')}); "
                          "run it with model.trust_remote_code=true if you trust that code")
    try:
        return transformers.AutoConfig.from_pretrained(spec.path, trust_remote_code=spec.trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - an unknown model_type, a nested config it cannot read, ...
        raise ConfigError(f"model.path={spec.path}: transformers cannot read its config.json "
                          f"({one_line(exc)[:160]})") from None
