"""One boundary, whatever the path to it: under the same cap, two geometric + bisection
searches and a linear ladder find the same largest context within the resolution. The cap is
set from this machine's own resident set at 1K tokens, so the boundary lands inside the ladder
wherever the test runs."""

import pytest

from charsuite import results
from helpers import run_cli

TINY = ["+model=qwen2_5", "model.size=tiny", "workload.phases=[prefill]", "workload.logits=all",
        "workload.repeats=1", "workload.warmup=0", "workload.max_repeats=1", "device.threads=1"]
STEP = 1024
MIB = 2**20


def search(run_dir, *extra):
    r = run_cli(*TINY, *extra, f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    (s,) = results.read_json(run_dir / results.SUMMARY)
    return s


@pytest.mark.slow
def test_repeated_searches_and_a_linear_ladder_agree_within_the_resolution(tmp_path):
    search(tmp_path / "base", "context.min=1K", "context.max=1K")
    (base,) = results.read_points(tmp_path / "base" / results.RESULTS)
    cap_gb = (base.peak_mem_bytes + 96 * MIB) / 2**30  # ~96 MiB above the worker at 1K tokens
    common = [f"device.memory_gb={cap_gb:.4f}", f"context.tolerance={STEP}", "context.min=1K", "context.max=64K"]
    found = [search(tmp_path / f"geometric{i}", *common) for i in (1, 2)]
    assert all(s["stop_reason"] == "out of memory" for s in found), found
    top = max(s["min_context_oom"] for s in found)
    ladder = ",".join(str(n) for n in range(STEP, top + STEP + 1, STEP))
    found.append(search(tmp_path / "linear", *common, f"context.ladder=[{ladder}]"))
    oks = [s["max_context_ok"] for s in found]
    assert found[-1]["stop_reason"] == "out of memory"
    assert max(oks) - min(oks) <= STEP, (oks, [s.get("min_context_oom") for s in found])

