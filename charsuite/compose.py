"""One compose(): overrides -> a validated RunConfig, used by the CLI's pre-check, predict,
the benchmarks and the tests; to_run_config() does the same inside a Hydra job. Hydra's
and OmegaConf's multi-line errors become one ConfigError line here.

    compose(overrides) -> RunConfig     the CLI's pre-check, predict, benchmarks and tests
    to_run_config(cfg) -> RunConfig     inside a Hydra job, from the config Hydra composed
"""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig, OmegaConf

from charsuite.config import CONF_DIR, GROUPS, SCHEMAS, ConfigError, RunConfig, choices


def group_keys(group: str) -> list[str]:
    return sorted(f.name for f in dataclasses.fields(SCHEMAS[group]))


def explain(exc: BaseException, overrides: list[str]) -> str:
    """Hydra/OmegaConf composition errors as one actionable line."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    for group in GROUPS:
        if f"'{group}/" in text or f"group {group}" in text.lower() or f"{group}=" in first:
            for o in overrides:
                if o.lstrip("+~").startswith(f"{group}="):
                    value = o.split("=", 1)[1]
                    return f"unknown {group} {value!r}; choose one of: {', '.join(choices(group))}"
    cause = exc.__cause__
    if "Could not override" in text or "not in struct" in text or "Key '" in text:
        key = first.split("'")[1] if "'" in first else first
        section = key.split(".")[0]
        if section in GROUPS:
            return f"unknown config key {key!r}; valid keys under {section}: {', '.join(group_keys(section))}"
        return f"unknown config key {key!r}; valid top-level keys: {', '.join(GROUPS)}, resume"
    if cause is not None and getattr(cause, "full_key", None):
        return f"{cause.full_key}: {str(cause).strip().splitlines()[0]}"
    return first


def to_run_config(cfg: DictConfig) -> RunConfig:
    """The typed run a composed config describes; ConfigError for anything invalid."""
    if cfg.get("model") is None:
        raise ConfigError(f"no model chosen; add +model=NAME with NAME one of: {', '.join(choices('model'))}")
    try:
        run = OmegaConf.to_object(cfg)
    except ConfigError:
        raise
    except Exception as exc:  # interpolation and type errors name the key
        key = getattr(exc, "full_key", None)
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{key}: {line}" if key else f"config does not resolve: {line}") from None
    assert isinstance(run, RunConfig)
    return run


def compose_dictconfig(overrides: list[str]) -> DictConfig:
    """Hydra's composition of conf/config.yaml with overrides (no job, no run folder)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            try:
                return hydra_compose(config_name="config", overrides=list(overrides))
            except Exception as exc:
                raise ConfigError(explain(exc, list(overrides))) from None
    finally:
        GlobalHydra.instance().clear()


def compose(overrides: list[str] | tuple[str, ...]) -> RunConfig:
    """The one way to turn overrides into a validated run."""
    return to_run_config(compose_dictconfig(list(overrides)))
