"""First-call allocations (issue 28): on a GPU, a process's first prefill allocates once what later calls reuse
(cuBLAS's workspace, 32 MiB on sm90; Triton's autotune buffer, 256 MiB per autotuned kernel) and would land in
the first point's measured peak. One untimed prefill at the point's length runs first; its excess is mem.first_call."""

import torch

from charsuite.engines.transformers import TransformersEngine
from charsuite.measure import measure_phase, random_tokens
from helpers import compose

CPU = torch.device("cpu")


class FirstCallEngine:
    """A tiny real engine whose first prefill allocates a one-off buffer, as cuBLAS's workspace is made."""

    def __init__(self, engine, once_bytes):
        self.engine, self.once, self.calls = engine, once_bytes, 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def prefill(self, ids, logits, *args, **kwargs):
        self.calls += 1
        if self.calls == 1:
            workspace = torch.empty(self.once, dtype=torch.uint8)  # held through the call, then cached away
            out = self.engine.prefill(ids, logits, *args, **kwargs)
            del workspace
            return out
        return self.engine.prefill(ids, logits, *args, **kwargs)


def test_the_first_calls_one_off_allocation_is_recorded_apart_not_in_the_peak():
    run = compose("+model=qwen2_5", "model.size=tiny")
    engine = FirstCallEngine(TransformersEngine(run.model, CPU), once_bytes=64 * 2**20)
    ids = random_tokens(engine.vocab_size, 1, 64, 0, CPU)
    r = measure_phase(engine, CPU, "prefill", ids, "last", decode_tokens=1, warmup=0, repeats=1, warm_first=True)
    assert r.mem["first_call"] >= 64 * 2**20  # the one-off buffer, apart
    assert r.mem["tensor_peak"] < 64 * 2**20  # and not in the point's live-tensor peak
    plain = FirstCallEngine(TransformersEngine(run.model, CPU), once_bytes=64 * 2**20)
    r = measure_phase(plain, CPU, "prefill", ids, "last", decode_tokens=1, warmup=0, repeats=1)
    assert "first_call" not in r.mem and r.mem["tensor_peak"] >= 64 * 2**20  # a CPU's default: as before


def test_the_dry_run_names_a_cuda_processs_first_call_allocations_apart():
    from charsuite.simulate.dryrun import dry_run
    from charsuite.simulate.first_call import MIB

    run = compose("+model=mamba2", "model.size=tiny")
    hopper = dry_run(run.model, 128, impl="kernels", device_kind="cuda", capability=9.0)
    assert hopper.first_call == 32 * MIB + 256 * MIB  # cuBLAS's sm90 workspace + Triton's autotune buffer
    ada = dry_run(run.model, 128, impl="reference", device_kind="cuda", capability=8.9)
    assert ada.first_call == 8 * MIB + 128 * 1024  # no autotuned kernels on the reference path
    assert dry_run(run.model, 128).first_call == 0  # a CPU
    assert hopper.peak < hopper.peak + hopper.first_call and "first_call" in hopper.as_dict()
