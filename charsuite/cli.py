"""Command-line door: check every override before Hydra runs, so bad input ends in
one line and exit code 2 rather than Hydra's multi-line report and a traceback.

Sweeps (`-m +model=a,b context.max=1K,2K`) are expanded and each combination is
composed and validated here; Hydra then launches only a batch that can run.
"""

from __future__ import annotations

import itertools
import sys

from hydra.core.override_parser.overrides_parser import OverridesParser

from charsuite.compose import check_hydra, compose_dictconfig, to_run_config
from charsuite.config import ConfigError, choices

_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                     "--info", "-i", "--experimental-rerun"}
_HELP_FLAGS = {"--help", "-h", "--hydra-help", "--version", "--shell-completion", "-sc", "--info", "-i"}
_MAX_COMBINATIONS = 4096
# conf/config.yaml's own list, kept in step with it: model and device name the job folder.
DIRNAME_EXCLUDED = ("+model", "model", "model.size", "model.dtype", "device", "hydra.sweep.dir", "hydra/launcher")


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """Separate Hydra's flags from config overrides (hydra.* overrides count as flags)."""
    flags, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-"):
            flags.append(arg)
            if arg in _FLAGS_WITH_VALUE and i + 1 < len(argv) and "=" not in argv[i + 1]:
                flags.append(argv[i + 1])
                i += 1
        elif arg.lstrip("+~").startswith(("hydra.", "hydra/")):
            flags.append(arg)
        else:
            overrides.append(arg)
        i += 1
    return flags, overrides


def expand_sweeps(overrides: list[str]) -> list[list[str]]:
    """Every combination of a multirun's overrides, as plain override lists."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    options: list[list[str]] = []
    for o in parsed:
        key = o.get_key_element()
        if o.is_sweep_override():
            options.append([f"{key}={v}" for v in o.sweep_string_iterator()])
        else:
            options.append([o.input_line])
    combos = []
    for combo in itertools.product(*options):
        combos.append(list(combo))
        if len(combos) >= _MAX_COMBINATIONS:
            break
    return combos


def validate(overrides: list[str], batch: bool = False) -> list[str]:
    """Compose and validate every combination; raise ConfigError on the first bad one.
    In a batch, a combination that composes but does not validate (a size its family
    lacks, say) only fails its own job: its reason is returned as a warning."""
    bare = next((o for o in overrides if o.startswith("model=")), None)
    if bare is not None:  # the model group has no default, so Hydra needs the leading +
        raise ConfigError(f"choose the model with a leading +: +{bare} (the model group has no default)")
    experiment = next((o.split("=", 1)[1] for o in overrides if o.lstrip("+").startswith("experiment=")), None)
    if experiment is not None:
        raise ConfigError(f"experiments run as batches: python -m charsuite.batch {experiment} [override ...]; "
                          f"choose one of: {', '.join(choices('experiment'))}")
    if not any(o.lstrip("+~").startswith("model=") for o in overrides):
        raise ConfigError(f"no model chosen; add +model=NAME with NAME one of: {', '.join(choices('model'))}")
    try:
        combos = expand_sweeps(overrides)
    except Exception as exc:
        raise ConfigError(f"cannot parse overrides: {str(exc).strip().splitlines()[0]}") from None
    warnings = []
    for combo in combos:
        cfg = compose_dictconfig(combo)  # a combination Hydra cannot compose fails the whole batch
        try:
            to_run_config(cfg)
        except ConfigError as exc:
            if not batch:
                raise
            warnings.append(f"job {' '.join(combo)} will fail: {exc}")
    if batch and len(warnings) == len(combos):
        raise ConfigError(warnings[0].split(" will fail: ", 1)[1])
    return warnings


def is_batch(flags: list[str]) -> bool:
    return any(f in ("-m", "--multirun") for f in flags)


def hydra_argv(argv: list[str]) -> list[str]:
    """Hydra composes a batch's base config with its non-swept overrides before any job
    has chosen a model, so `-m +model=a,b model.size=x` fails there ("Key 'model' is not
    in struct"). Such `model.*` overrides become one-value sweeps, applied per job."""
    flags, overrides = split_argv(argv)
    if not is_batch(flags):
        return argv
    parsed = OverridesParser.create().parse_overrides(overrides)
    model_swept = any(o.get_key_element().lstrip("+~") == "model" and o.is_sweep_override() for o in parsed)
    # Job folders are named after model and device plus the keys the batch sweeps, not
    # every key it sets (those are the same for all its jobs).
    fixed = sorted({o.get_key_element() for o in parsed if not o.is_sweep_override()}
                   | {o.get_key_element().lstrip("+~") for o in parsed if not o.is_sweep_override()})
    if fixed and not any(a.startswith("hydra.job.config.override_dirname.exclude_keys") for a in argv):
        keys = sorted(set(DIRNAME_EXCLUDED) | set(fixed)
                      | ({o.get_key_element() for o in parsed if o.get_key_element().startswith("model.")}
                         if model_swept else set()))
        argv = [*argv, "hydra.job.config.override_dirname.exclude_keys=[" + ",".join(f"'{k}'" for k in keys) + "]"]
    if not model_swept:
        return argv
    out = []
    for arg in argv:
        key, _, value = arg.partition("=")
        if key.startswith("model.") and value and "," not in value and not value.startswith(("choice(", "range(")):
            arg = f"{key}=choice({value})"
        out.append(arg)
    return out


def check_run_dir(flags: list[str]) -> None:
    """A run or sweep folder Hydra cannot create is bad input, said before Hydra tries."""
    import os
    from pathlib import Path

    for f in flags:
        key, _, value = f.partition("=")
        if key.lstrip("+") not in ("hydra.run.dir", "hydra.sweep.dir") or not value:
            continue
        path = Path(value)
        if any(len(part.encode()) > 255 for part in path.parts):
            raise ConfigError(f"cannot create run folder {path}: a name in it is longer than 255 bytes")
        if path.exists() and not path.is_dir():
            raise ConfigError(f"cannot create run folder {path}: a file of that name exists")
        parent = next((p for p in [path, *path.parents] if p.exists()), None)
        if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"cannot create run folder {path}: {parent} is not writable")
        if parent is not None:  # root passes access(); a folder made and removed is the real test (/proc, ro mounts)
            import tempfile

            try:
                os.rmdir(tempfile.mkdtemp(prefix=".charsuite-probe-", dir=parent))
            except OSError as exc:
                raise ConfigError(f"cannot create run folder {path}: {parent}: {exc.strerror or exc}") from None


def check_argv(argv: list[str]) -> None:
    """Validate the command line; print one line and exit 2 if it cannot run."""
    flags, overrides = split_argv(argv)
    if any(f in _HELP_FLAGS for f in flags):
        return
    if is_batch(flags) and any(f in ("--cfg", "-c") for f in flags):
        print("charsuite: --cfg shows one job's config; drop -m/--multirun to use it", file=sys.stderr)
        raise SystemExit(2)
    try:
        for warning in preflight(argv):
            print(f"charsuite: {warning}", file=sys.stderr)
    except ConfigError as exc:
        print(f"charsuite: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def preflight(argv: list[str]) -> list[str]:
    """Everything the command line says, checked as Hydra and the job will use it: ConfigError for
    the first bad value; the warnings of a batch's jobs that will fail on their own."""
    flags, overrides = split_argv(argv)
    misplaced = [f for f in flags if f in ("-m", "--multirun")]
    if misplaced and argv.index(misplaced[0]) > 0 and any("=" in a for a in argv[:argv.index(misplaced[0])]):
        raise ConfigError(f"{misplaced[0]} goes before the overrides: python -m charsuite {misplaced[0]} "
                          + " ".join(a for a in argv if a != misplaced[0]))
    if not is_batch(flags):
        try:
            swept = [o.input_line for o in OverridesParser.create().parse_overrides(overrides) if o.is_sweep_override()]
        except Exception:  # noqa: BLE001 - validate() says what cannot be parsed
            swept = []
        if swept:
            raise ConfigError(f"{swept[0]} sweeps several values: add -m first for one job per value "
                              f"(python -m charsuite -m {' '.join(argv)}), or quote a list: key=[a,b]")
    check_run_dir(flags)
    warnings = validate(overrides, batch=is_batch(flags))
    if not is_batch(flags) and not any(f in ("--cfg", "-c") for f in flags):
        # a run here: what this machine cannot do, before Hydra makes the run folder (a batch's jobs
        # may run on other machines, and check there)
        from charsuite.compose import compose
        from charsuite.preflight import check_machine

        check_machine(compose(overrides))
    hydra_overrides = [f for f in flags if "=" in f and f.lstrip("+~").startswith(("hydra.", "hydra/"))]
    if hydra_overrides:
        try:
            OverridesParser.create().parse_overrides(hydra_overrides)
        except Exception as exc:
            raise ConfigError(f"cannot parse overrides: {' '.join(str(exc).split())[:200]}") from None
        check_hydra(expand_sweeps(overrides)[0], hydra_overrides, is_batch(flags))
    return warnings
