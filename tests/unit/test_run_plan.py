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


def test_the_driver_starts_workers_from_the_plan_not_from_its_own_choices(monkeypatch):
    from charsuite import isolation

    run = compose("+model=mamba2", "model.size=tiny")
    plan = RunPlan(engine="transformers", memory_limit_bytes=12345, enforcement="rlimit", enforcement_reason="test",
                   threads=1, threads_reason="the plan's", kernel_path="reference", engine_files={"f": "x"})
    sent = []
    monkeypatch.setattr(isolation.Worker, "request", lambda self, req, timeout_s: sent.append(req) or isolation.Reply(
        status="error", error="not started here"))
    monkeypatch.setattr(isolation.subprocess, "Popen", lambda *a, **k: _NoProcess())
    driver = WorkerDriver(run, plan=plan)
    driver.ensure()
    (setup,) = sent
    assert (setup.threads, setup.engine_files, setup.memory_limit_bytes) == (1, {"f": "x"}, 12345)
    assert setup.rlimit_bytes == 12345  # the plan's cap, enforced as the plan says


class _NoProcess:
    stdin = None

    def poll(self):
        return 0

    def kill(self):
        pass

    def wait(self, timeout=None):
        return 0
