"""mamba_ssm's engine on fake tensors: its own Python - MambaLMHeadModel, the mixers, the kernels'
wrappers - runs as shipped, with the launches shape-only (simulate/launches.py), so the dry-run's
allocations are the ones mamba_ssm's code makes, by construction. Needs mamba_ssm's and
causal_conv1d's Python and Triton importable (no CUDA build): engines/mamba_ssm.py DRY_RUN_INSTALL.
"""

from __future__ import annotations

import contextlib

import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from charsuite.config import ConfigError, ModelConfig
from charsuite.simulate.dryrun import OnFakes
from charsuite.simulate.launches import shape_only, stand_ins


def mamba_ssm_on_fakes(spec: ModelConfig, impl: str, cuda: bool, stack: contextlib.ExitStack,
                       settings: dict) -> OnFakes:
    from charsuite.engines.mamba_ssm import DRY_RUN_INSTALL, MambaSsmEngine
    from charsuite.engines.mamba_ssm_config import check

    check(spec)  # a layout mamba_ssm has no model for is said before what its install lacks
    put = stand_ins()  # before mamba_ssm imports the extensions this machine lacks
    try:
        launches = stack.enter_context(shape_only())
        fake = FakeTensorMode()
        with fake:
            engine = MambaSsmEngine(spec, torch.device("cpu"), settings=settings)
    except ConfigError as exc:
        raise ConfigError(f"{exc} - for the dry-run on this machine: {DRY_RUN_INSTALL}") from None
    except ImportError as exc:
        raise ConfigError(f"engine=mamba_ssm's dry-run needs {exc.name or exc}: {DRY_RUN_INSTALL}") from None
    stack.enter_context(fake)
    swapped = ["Triton launches: shape-only", *(f"{ext}: shape-only stand-in" for ext in put)]
    return OnFakes(engine, swapped, lambda: bool(launches.autotuned))
