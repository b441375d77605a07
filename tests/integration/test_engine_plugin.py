"""An engine added from outside charsuite (issue 27): tests/plugins holds a toy engine registered under the
`charsuite.engines` entry-point group, and nothing in charsuite names it - the run, its worker, its lines and
the summary take it from its EngineSpec alone."""

from __future__ import annotations

import json
import os

import pytest

from helpers import REPO, load_factor, run_cli

PLUGINS = str(REPO / "tests" / "plugins")


@pytest.mark.slow
def test_a_toy_engine_runs_through_the_real_cli_from_its_entry_point(tmp_path):
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [PLUGINS, os.environ.get("PYTHONPATH")]))}
    r = run_cli("+model=mamba2", "model.size=tiny", "engine.name=toy", "context.min=64", "context.max=128",
                "workload.repeats=2", f"hydra.run.dir={tmp_path}", env=env, timeout=600 * load_factor())
    assert r.returncode == 0, r.stderr[-3000:]
    points = [json.loads(ln) for ln in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(points) == 4 and all(p["status"] == "ok" and p["engine"] == "toy" for p in points)
    assert {p["params"] for p in points} == {2 * 512 * 32 + 512}  # the toy's own parameters, not the zoo entry's
    assert all(p["guard_max_abs_dlogit"] < 1e-5 for p in points if p["phase"] == "decode")
    assert all(p["mem_predicted"] is None for p in points)  # the memory model is not the toy's
    s = run_cli(str(tmp_path), module="charsuite.summary", env=env, timeout=300 * load_factor())
    assert s.returncode == 0, s.stderr[-2000:]
    assert "| eager, one-shot, toy |" in s.stdout


def test_without_its_package_the_engine_is_unknown_in_one_line():
    r = run_cli("+model=mamba2", "model.size=tiny", "engine.name=toy", "--cfg", "job",
                env={"PYTHONPATH": ""}, timeout=300 * load_factor())
    assert r.returncode == 2 and "unknown engine 'toy'" in r.stderr and "Traceback" not in r.stderr
