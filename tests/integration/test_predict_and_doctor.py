"""The side commands a GPU user meets first: predict (both methods, its assumptions, its
one-line refusals) and doctor."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import REPO


def test_predict_prints_its_assumptions_and_both_methods_agree_in_kind(cli):
    out = {}
    for method in ("dryrun", "analytic"):
        r = cli("+model=mamba2", "model.size=tiny", "device=orin_nano", "context.max=8K", f"method={method}",
                "format=json", module="charsuite.predict", timeout=300)
        assert r.returncode == 0, r.stderr
        out[method] = json.loads(r.stdout)
    dry = out["dryrun"]
    assert dry["impl"] == "kernels" and dry["memory_limit_bytes"] == int(6.2 * 1024**3)
    assert any("tegrastats" in a for a in dry["assumptions"]) and dry["search"]["probes"] > 3
    assert dry["predicted_max_context"] > 8192 and out["analytic"]["predicted_max_context"] > 8192
    table = cli("+model=qwen2_5", "model.size=tiny", "context.max=1K", module="charsuite.predict", timeout=300)
    assert table.returncode == 0 and "assumptions:" in table.stdout and "SSM path reference" in table.stdout
    # issue 32: the dry-runs say how far they are (stderr; the answer alone on stdout)
    assert "dry-run 1/3 of the ladder: 256 tokens" in table.stderr and "boundary dry-run 1:" in table.stderr
    assert "of the ladder" not in table.stdout and "boundary dry-run" not in table.stdout


def test_predict_refuses_in_one_line(cli):
    for args, word in ((["method=guess"], "method"), (["model.impl=kernels"], "CUDA"),
                       (["model.impl=fast"], "model.impl")):
        r = cli("+model=mamba2", "model.size=tiny", *args, module="charsuite.predict", timeout=120)
        assert r.returncode == 2 and word in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_kernels_on_the_cpu_is_bad_input_before_anything_runs(cli, tmp_path):
    r = cli("+model=mamba2", "model.size=tiny", "model.impl=kernels", f"hydra.run.dir={tmp_path}", timeout=120)
    assert r.returncode == 2 and "model.impl=kernels" in r.stderr and not (tmp_path / "results.jsonl").exists()


def test_doctor_reports_every_check(cli):
    r = cli("format=json", module="charsuite.doctor", timeout=120)
    assert r.returncode == 0, r.stderr
    rows = {row["check"]: row for row in json.loads(r.stdout)}
    assert set(rows) >= {"CUDA", "SSM kernels", "NVML", "RAPL", "Jetson rails", "memory cgroup", "Chromium"}
    assert rows["memory"]["ok"] and "GiB total" in rows["memory"]["detail"]
    # issue 32: the compiler workload.mode=compile needs on a CPU, and Slurm (as the machine has them)
    import shutil

    assert rows["C++ compiler"]["ok"] == bool(shutil.which("g++") or shutil.which("c++"))
    assert rows["Slurm"]["ok"] <= bool(shutil.which("sbatch")) and rows["Slurm"]["detail"]
    assert cli("--bogus", module="charsuite.doctor").returncode == 2


def test_predict_into_a_closed_pipe_is_quiet():
    p = subprocess.Popen(f"{sys.executable} -m charsuite.predict +model=qwen2_5 model.size=tiny "
                         "context.min=1 context.max=64K | head -1", shell=True, cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=120)
    assert out.startswith("qwen2_5 tiny") and "Traceback" not in err and "BrokenPipe" not in err, err
