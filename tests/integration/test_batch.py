"""Batches: a real 2-model x 2-length batch through submitit_local, read back as one
table; a failing job does not stop the others; the Slurm preset resolves here."""


import pytest

from charsuite import results
from charsuite.batch import job_statuses
from charsuite.config import choices
from helpers import run_cli

TINY = ["model.size=tiny", "context.min=64", "context.max=128", "workload.repeats=1", "workload.decode_tokens=2"]


@pytest.mark.slow
def test_submitit_local_batch_reads_back_as_one_table(tmp_path):
    sweep = tmp_path / "batch"
    r = run_cli("-m", "+model=mamba2,qwen2_5", *TINY, "hydra/launcher=local", f"hydra.sweep.dir={sweep}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 job(s) succeeded, 0 failed" in r.stderr
    table = results.load_table([sweep])
    assert set(table["model"]) == {"mamba2", "qwen2_5"}
    assert len(table) == 2 * 2 * 2  # models x lengths x phases
    assert (table["status"] == "ok").all()
    assert table["run_dir"].nunique() == 2
    out = tmp_path / "table"
    from charsuite.export import export

    written = export([sweep], out)
    assert {p.suffix for p in written} == {".csv", ".parquet"}
    import pandas as pd

    assert len(pd.read_parquet(out.with_suffix(".parquet"))) == 8
    # Re-submitting the same batch measures nothing again.
    before = sum(len(results.read_points(d / results.RESULTS)) for d in results.run_dirs([sweep]))
    r = run_cli("-m", "+model=mamba2,qwen2_5", *TINY, "hydra/launcher=local", f"hydra.sweep.dir={sweep}")
    assert r.returncode == 0, r.stderr[-3000:]
    after = sum(len(results.read_points(d / results.RESULTS)) for d in results.run_dirs([sweep]))
    assert after == before


def test_a_failing_job_does_not_stop_the_batch(tmp_path):
    sweep = tmp_path / "batch"
    r = run_cli("-m", "+model=qwen2_5", "model.size=9b,tiny", *TINY[1:], "workload.phases=[prefill]",
                f"hydra.sweep.dir={sweep}")
    assert r.returncode == 1, r.stderr[-3000:]  # the batch ran to its end, and says that one job failed
    assert "will fail: unknown model.size '9b'" in r.stderr
    jobs = {j.job.split("-float32")[0]: j for j in job_statuses(sweep)}
    assert jobs["qwen2_5-tiny"].status == "ok"
    assert jobs["qwen2_5-9b"].status == "failed"
    assert "unknown model.size '9b'" in jobs["qwen2_5-9b"].error
    assert "1 job(s) succeeded, 1 failed" in r.stderr and "FAILED  qwen2_5-9b-float32_cpu" in r.stderr
    assert len(results.load_table([sweep])) == 2


@pytest.mark.parametrize("launcher", choices("hydra/launcher"))
def test_every_shipped_launcher_resolves(launcher):
    r = run_cli("+model=mamba2", "device=rtx4090", f"hydra/launcher={launcher}", "--cfg", "hydra", timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    expected = {"slurm": ("SlurmLauncher", "gpus_per_node: 1"), "local": ("LocalLauncher", "")}[launcher]
    assert all(e in r.stdout for e in expected), r.stdout[-2000:]


def test_plugin_launcher_composes_a_job(tmp_path):
    r = run_cli("+model=mamba2", "hydra/launcher=submitit_slurm", "--cfg", "job", timeout=120)
    assert r.returncode == 0 and "name: mamba2" in r.stdout


def test_experiment_presets_expand_to_valid_commands():
    from charsuite.batch import experiment_commands
    from charsuite.cli import validate

    for name in choices("experiment"):
        _, cmds = experiment_commands(name, [])
        assert cmds
        for cmd in cmds:
            overrides = [a for a in cmd[4:] if not a.startswith(("hydra.", "-"))]
            validate(overrides)
