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
    if "Could not find 'hydra/" in text:  # a Hydra group: hydra/launcher=nope
        missing = text.split("Could not find '", 1)[1].split("'", 1)[0]
        group, _, value = missing.rpartition("/")
        listing = text.split("Available options in", 1)[-1].split("Config search path", 1)[0]
        options = [ln.strip() for ln in listing.splitlines()[1:] if ln.startswith("\t")]
        return f"unknown {group} {value!r}" + (f"; choose one of: {', '.join(options)}" if options else "")
    cause = exc.__cause__
    if "Could not override" in text or "not in struct" in text or "Key '" in text:
        key = first.split("'")[1] if "'" in first else first
        section = key.split(".")[0]
        if section == "hydra":
            return f"unknown config key {key!r}; Hydra's own keys: python -m charsuite --hydra-help"
        if section in GROUPS:
            return f"unknown config key {key!r}; valid keys under {section}: {', '.join(group_keys(section))}"
        return f"unknown config key {key!r}; valid top-level keys: {', '.join(GROUPS)}, resume, remeasure"
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


def check_hydra(overrides: list[str], hydra_overrides: list[str], batch: bool) -> None:
    """The `hydra.*` overrides (run and sweep folders, launcher, job settings) composed with a job's
    overrides and the folder they name resolved, as Hydra will when it starts: ConfigError otherwise.
    An empty folder would put the run in the current directory."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    for o in hydra_overrides:
        key, _, value = o.partition("=")
        if key.lstrip("+~") in ("hydra.run.dir", "hydra.sweep.dir") and not value.strip():
            raise ConfigError(f"{key} is empty; name a folder (an empty one would write the run into the "
                              "current directory)")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            try:
                cfg = hydra_compose(config_name="config", overrides=[*overrides, *hydra_overrides],
                                    return_hydra_config=True)
            except Exception as exc:
                raise ConfigError(explain(exc, [*overrides, *hydra_overrides])) from None
            key = "hydra.sweep.dir" if batch else "hydra.run.dir"
            HydraConfig.instance().set_config(cfg)  # what ${hydra:...} reads
            try:
                folder = OmegaConf.select(cfg, key, throw_on_missing=True)
            except Exception as exc:
                line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ConfigError(f"{key} does not resolve: {line}") from None
            if not str(folder or "").strip():
                raise ConfigError(f"{key} resolves to an empty folder name; name a folder")
    finally:
        GlobalHydra.instance().clear()


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
