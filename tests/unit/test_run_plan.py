"""One plan per run (issue 27): every "auto" setting resolved once, by its one resolver, into a typed record that
run.json carries and the driver starts its workers from."""

from __future__ import annotations

import json

import pytest

from charsuite.driver import WorkerDriver
from charsuite.run_plan import RunPlan, resolve_plan
from helpers import compose


@pytest.mark.parametrize("engine,path", [("transformers", "reference"), ("llamacpp", None), ("mamba_ssm", "kernels")])
def test_the_plan_resolves_each_setting_once(engine, path, monkeypatch):
    run = compose("+model=mamba2", "model.size=tiny", "device.threads=1", f"engine={engine}")
    if engine == "llamacpp":  # its prepare() writes a GGUF: not this test's business
        from charsuite.engines.llamacpp import LlamaCppEngine

        monkeypatch.setattr(LlamaCppEngine, "prepare", classmethod(lambda cls, run: {"gguf": "/x.gguf"}))
    plan = resolve_plan(run)
    assert plan.kernel_path == path and plan.engine == engine
    assert (plan.threads, plan.threads_reason) == (1, "device.threads")
    assert plan.memory_limit_bytes == run.device.memory_limit_bytes()
    assert plan.enforcement in ("rlimit", "cgroup") and plan.enforcement_reason
    json.dumps(plan.as_dict())  # plain data for run.json


def test_the_driver_starts_workers_from_the_plan_not_from_its_own_choices():
    run = compose("+model=mamba2", "model.size=tiny")
    plan = RunPlan(engine="transformers", memory_limit_bytes=None, enforcement="rlimit", enforcement_reason="test",
                   threads=1, threads_reason="the plan's", kernel_path="reference", engine_files={"f": "x"})
    driver = WorkerDriver(run, plan=plan)
    assert driver.choose_threads() == (1, "the plan's") and driver.enforcement == ("rlimit", "test")
    assert driver.engine_files == {"f": "x"}
