"""One boundary, whatever the path to it: under the same cap, a geometric + bisection search
and a linear ladder (other probes, other heap histories) find the same largest context within
the resolution. The cap is
set from this machine's own resident set at 128 tokens, so the boundary lands inside the ladder
wherever the test runs. A memory cgroup caps resident memory (RLIMIT_DATA would count the
glibc arenas' reserved address space, far above the resident set)."""

import pytest

from charsuite import cgroups, results
from helpers import run_cli

# a 32K-token vocabulary makes logits=all cost 128 KiB a token: the boundary sits at a few hundred
# tokens, where a forward takes milliseconds and the test takes about a minute
TINY = ["+model=qwen2_5", "model.size=tiny", "model.sizes.tiny.config.vocab_size=32768",
        "workload.phases=[prefill]", "workload.logits=all",
        "workload.repeats=1", "workload.warmup=0", "workload.max_repeats=1", "device.threads=1",
        "device.memory_enforcement=cgroup"]
STEP = 64
MIB = 2**20


def search(run_dir, *extra):
    r = run_cli(*TINY, *extra, f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    (s,) = results.read_json(run_dir / results.SUMMARY)
    return s


@pytest.mark.slow
@pytest.mark.skipif(cgroups.parent_dir() is None, reason="needs a writable memory cgroup (root)")
def test_bisection_and_a_linear_ladder_agree_within_the_resolution(tmp_path):
    search(tmp_path / "base", "context.min=128", "context.max=128")
    (base,) = results.read_points(tmp_path / "base" / results.RESULTS)
    cap_gb = (base.peak_mem_bytes + 64 * MIB) / 2**30  # 64 MiB above the worker at 128 tokens
    common = [f"device.memory_gb={cap_gb:.4f}", f"context.tolerance={STEP}", "context.min=128", "context.max=8K"]
    found = [search(tmp_path / "geometric", *common)]
    assert found[0]["stop_reason"] == "out of memory", found
    ok, top = found[0]["max_context_ok"], found[0]["min_context_oom"]
    # a linear ladder with its own history: a short point first, then one step at a time across the boundary
    ladder = ",".join(str(n) for n in [128, *range(max(ok - 4 * STEP, 192), top + 2 * STEP + 1, STEP)])
    found.append(search(tmp_path / "linear", *common, f"context.ladder=[{ladder}]"))
    oks = [s["max_context_ok"] for s in found]
    assert found[-1]["stop_reason"] == "out of memory"
    assert max(oks) - min(oks) <= STEP, (oks, [s.get("min_context_oom") for s in found])

