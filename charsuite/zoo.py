"""The zoo as data: which families exist and what kind each is, read from conf/model/*.yaml
(plain YAML, no Hydra, no torch), so figures and reports know every family the zoo ships."""

from __future__ import annotations

from functools import lru_cache

import yaml

from charsuite.config import CONF_DIR, FAMILIES


@lru_cache(maxsize=1)
def families() -> dict[str, str]:
    """{model name: family kind (ssm | hybrid | transformer)}, in file-name order."""
    out = {}
    for path in sorted((CONF_DIR / "model").glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        out[data.get("name", path.stem)] = data.get("family")
    return out


def models_of(kind: str) -> list[str]:
    """The zoo's models of one kind, in a stable order."""
    assert kind in FAMILIES, kind
    return [m for m, k in families().items() if k == kind]
