"""device.memory_enforcement=cgroup for real: the worker runs in a memory cgroup, the
kernel's OOM killer ends it past the cap (SIGKILL, as on a Jetson), the point is recorded
`oom` - not `crashed` - and the bisection goes on."""

from __future__ import annotations

import json

import pytest

from charsuite.cgroups import parent_dir

pytestmark = pytest.mark.slow


@pytest.mark.skipif(parent_dir() is None, reason="no writable memory cgroup on this machine")
def test_kernel_oom_kill_is_recorded_oom_and_bisected(cli, tmp_path):
    out = tmp_path / "run"
    # GPT-Neo tiny's eager attention is quadratic: ~730 MiB resident at 2K, ~1.3 GiB at 4K (measured
    # 2026-12-01 with blocks mapped while a prefill runs, allocator.py); shared libraries count in the
    # resident set but are charged to the cgroup that first read them, so 0.9 GiB splits the two
    r = cli("+model=gpt_neo", "model.size=tiny", "device.memory_gb=0.9", "device.memory_enforcement=cgroup",
            "context.min=2048", "context.max=4096", "context.tolerance=512", "workload.phases=[prefill]",
            "workload.repeats=1", "workload.warmup=0", f"hydra.run.dir={out}", timeout=600)
    lines = [json.loads(ln) for ln in (out / "results.jsonl").read_text().splitlines()]
    by = {d["context"]: d for d in lines}
    assert by[2048]["status"] == "ok" and by[4096]["status"] == "oom", r.stdout + r.stderr
    assert "OOM killer" in by[4096]["error"] and not any(d["status"] == "crashed" for d in lines)
    assert 3072 in by  # bisected between the last fit and the kill
    # issue 31: an ok point's peak is the group's own count, the one the cap holds (VmHWM kept beside it)
    ok = [d for d in lines if d["status"] == "ok"]
    assert all(d["peak_mem_bytes"] <= 0.9 * 1024**3 and "memory cgroup" in d["peak_mem_source"] for d in ok), ok
    assert all(d["peak_rss_bytes"] > 0 for d in ok)
    assert r.returncode == 0, r.stderr


def test_an_unknown_enforcement_is_one_line(cli):
    bad = cli("+model=mamba2", "model.size=tiny", "device.memory_enforcement=cgroups")
    assert bad.returncode == 2 and "memory_enforcement" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
