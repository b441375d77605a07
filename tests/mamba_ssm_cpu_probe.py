"""Run engine=mamba_ssm for real on CPU tensors - mamba_ssm's Mamba-2 model, its Triton kernels under Triton's
interpreter, the PyTorch conv where causal_conv1d's CUDA kernel would run - and print as JSON: the guard (a cached
decode step against one full forward) and the allocations of a real prefill beside those of the dry-run's
shape-only prefill of the same model (tests/integration/test_mamba_ssm_dryrun.py).

A process of its own: the interpreter is chosen before triton is imported, and the shims (the CUDA extensions this
CPU cannot build; one autotune config, as the interpreter has no driver to benchmark configs with) must not leak
into the tests' process.

    PYTHONPATH=TRITON_SITE:MAMBA_SRC python tests/mamba_ssm_cpu_probe.py
"""

import contextlib
import dataclasses
import json
import os

os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402
import triton  # noqa: E402

from charsuite.simulate.launches import stand_ins  # noqa: E402

stand_ins()
_autotune = triton.autotune
triton.autotune = lambda configs, key, **kw: _autotune(configs=configs[:1], key=key, **kw)

from charsuite.engines.mamba_ssm import MambaSsmEngine  # noqa: E402
from charsuite.simulate.dryrun import dry_run  # noqa: E402
from charsuite.simulate.mamba_ssm_dry import mamba_ssm_on_fakes  # noqa: E402
from charsuite.simulate.tracker import AllocationTracker  # noqa: E402
from helpers import compose  # noqa: E402

LENGTH = 40


def main() -> None:
    spec = dataclasses.replace(compose("+model=mamba2", "model.size=tiny").model, dtype="float32")
    torch.manual_seed(0)
    torch.cuda.device = lambda *_: contextlib.nullcontext()  # Triton wrappers enter it with a CPU tensor's index
    with torch.no_grad():
        engine = MambaSsmEngine(spec, torch.device("cpu"))
        for p in engine.model.parameters():  # random weights of a usable scale: the guard compares logits
            p.normal_(0, 0.02) if p.dim() > 1 else None
        ids = torch.randint(0, engine.vocab_size, (1, LENGTH + 1), generator=torch.Generator().manual_seed(1))
        full, _, _ = engine.prefill(ids, "last")
        _, cache, _ = engine.prefill(ids[:, :LENGTH], "last", reserve=1)
        step, _ = engine.decode_step(ids[:, LENGTH:], cache, LENGTH)
        tracker = AllocationTracker([ids, *engine.model.parameters(), *engine.model.buffers()])
        with tracker:
            logits, cache, _ = engine.prefill(ids[:, :LENGTH], "all")
        real = {"peak": tracker.peak, "events": [e for e, _ in tracker.events if e > 0],
                "ssm_state": engine.cache_bytes(cache)["ssm_state"], "logits": logits.untyped_storage().nbytes()}
    dry = dry_run(spec, LENGTH, logits="all", impl="kernels", device_kind="cpu", engine="mamba_ssm")
    with contextlib.ExitStack() as stack:  # the dry-run's own prefill alone, its events beside the real ones
        fake = mamba_ssm_on_fakes(spec, "kernels", False, stack, {}).engine
        ids = torch.zeros(1, LENGTH, dtype=torch.long)
        tracker = AllocationTracker([ids, *fake.model.parameters(), *fake.model.buffers()])
        with tracker:
            fake.prefill(ids, "all")
    print(json.dumps({"max_abs_dlogit": float((full[:, -1] - step[:, -1]).abs().max()),
                      "logit_scale": float(full.abs().max()), "real": real,
                      "dry": {"prefill_peak": dry.prefill_peak, "ssm_state": dry.ssm_state, "logits": dry.logits,
                              "events": [e for e, _ in tracker.events if e > 0]},
                      "impl": engine.observe()}))


if __name__ == "__main__":
    main()
