"""Every value a user can set is bounded before any work starts (issue 31): one ConfigError line
naming the value and what is allowed. Model-free: each case only composes the config."""

import time

import pytest

from charsuite.config import ConfigError
from helpers import compose

BASE = ("+model=mamba2", "model.size=tiny")

BAD = [
    # resources that could take the host down or silently mean "no cap"
    (("device.threads=1000000",), "device.threads=1000000 is above 1,024"),
    (("device.memory_gb=1e-10",), "below 1 MiB"),
    (("device.usable_memory_gb=1e-12",), "below 1 MiB"),
    (("device.memory_share=7",), "at most 1"),
    (("device.memory_share=-0.5",), "device.memory_share must be a positive"),
    (("device.memory_share=nan",), "device.memory_share"),
    (("device.peak_bandwidth_gbs=-3",), "device.peak_bandwidth_gbs"),
    # durations
    (("workload.timeout_s=inf",), "workload.timeout_s must be a finite"),
    (("workload.timeout_s=nan",), "workload.timeout_s"),
    (("workload.timeout_s=1e12",), "a week"),
    (("workload.repeat_time_s=inf",), "workload.repeat_time_s must be a finite"),
    (("workload.budget_s=-inf",), "workload.budget_s"),
    # counts
    (("workload.repeats=100000000",), "workload.repeats=100000000 is above"),
    (("workload.max_repeats=100000000", "workload.repeats=3"), "workload.max_repeats"),
    (("workload.decode_tokens=1000000000",), "workload.decode_tokens"),
    (("workload.warmup=1000000000",), "workload.warmup"),
    (("workload.batch=10000000",), "workload.batch"),
    (("workload.target_rel_ci=5",), "workload.target_rel_ci"),
    (("profile.steps=100000000",), "profile.steps"),
    # ladders and lengths
    (("context.factor=1.0000000001", "context.min=1", "context.max=1M"), "more than 256 lengths"),
    (("context.factor=inf",), "context.factor must be a finite number"),
    (("context.factor=nan",), "context.factor"),
    (("context.max=2000000000000000000",), "more tokens than a tensor length"),
    (("context.ladder=[" + ",".join(str(n) for n in range(1, 400)) + "]", "context.min=1", "context.max=400"),
     "more than 256 lengths"),
    # found by a second adversarial round
    (("workload.phases=[prefill,prefill]",), "lists a phase twice"),
    (("workload.seed=-1",), "workload.seed must be an integer from 0"),
    (("workload.seed=100000000000000000000000",), "workload.seed"),
    # engine settings llama.cpp holds in int32
    (("engine=llamacpp", "engine.n_batch=9999999999"), "engine.n_batch"),
    (("engine=llamacpp", "engine.n_ubatch=9999999999"), "engine.n_ubatch"),
    (("engine=llamacpp", "engine.n_gpu_layers=9999999999"), "engine.n_gpu_layers"),
]


@pytest.mark.parametrize("extra,why", BAD, ids=[" ".join(e)[:60] for e, _ in BAD])
def test_a_value_out_of_bounds_is_one_line(extra, why):
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        compose(*BASE, *extra)
    message = str(caught.value)
    assert why in message and "\n" not in message, message
    assert time.perf_counter() - started < 60  # the pre-check never walks a huge ladder (it once hung)


def test_values_at_their_bounds_still_compose():
    run = compose(*BASE, "device.threads=1024", "device.memory_share=1", "workload.timeout_s=604800",
                  "context.max=64M", "context.min=1M", "device.memory_gb=0.001")
    assert run.device.threads == 1024 and run.context.max == 2**26
    assert run.device.memory_limit_bytes() > 0  # a tiny cap is a cap, never "no cap"
