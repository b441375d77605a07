"""mamba-ssm's real SSD kernels on this CPU (issue 28): Triton's interpreter runs `mamba_chunk_scan_combined` on CPU
tensors at a tiny size inside the dry-run's allocation tracker (tests/triton_interp_probe.py, a process of its
own); the dry-run's fake of it must allocate what the real wrapper allocated, and the real output must be the
SSM recurrence. Needs Triton and mamba-ssm's Python sources apart from the venv (.ci/run puts them in
.ci_triton: CHARSUITE_TRITON_SITE, CHARSUITE_MAMBA_SRC); skipped, and counted as skipped, without them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from charsuite.simulate import kernels
from charsuite.simulate.tracker import AllocationTracker
from helpers import REPO, load_factor

SITE, SRC = os.environ.get("CHARSUITE_TRITON_SITE"), os.environ.get("CHARSUITE_MAMBA_SRC")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (SITE and SRC), reason="no Triton site / mamba-ssm sources")]


def test_the_real_ssd_kernels_allocate_what_the_dry_runs_fake_allocates_and_compute_the_recurrence():
    r = subprocess.run([sys.executable, str(REPO / "tests" / "triton_interp_probe.py"), SITE, SRC],
                       capture_output=True, text=True,
                       timeout=900 * load_factor(), cwd=REPO)
    assert r.returncode == 0, r.stderr[-3000:]
    real = json.loads(r.stdout.strip().splitlines()[-1])
    assert real["max_abs_error"] < 1e-4 and real["final_state_error"] < 1e-4, real
    s = real["shape"]
    with FakeTensorMode() as mode:
        x, dt = mode.from_tensor(torch.empty(s["b"], s["L"], s["h"], s["p"])), mode.from_tensor(
            torch.empty(s["b"], s["L"], s["h"]))
        A, B = mode.from_tensor(torch.empty(s["h"])), mode.from_tensor(torch.empty(s["b"], s["L"], s["g"], s["n"]))
        tracker = AllocationTracker([x, dt, A, B])
        with tracker:
            kernels.mamba_chunk_scan_combined(x, dt, A, B, B, s["chunk"], return_final_states=True)
    fake = [e for e, _ in tracker.events if e]
    allocated = [e for e in real["events"] if e > 0]
    assert sorted(allocated) == sorted(e for e in fake if e > 0)  # the same tensors, byte for byte
    assert tracker.peak == real["peak"]
