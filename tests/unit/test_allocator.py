"""glibc's two malloc modes (charsuite/allocator.py), checked on this process's own resident
set in a child interpreter (mallopt is process-wide): mapped hands each freed 8 MiB block back
to the kernel at once, retained keeps freed blocks resident in the heap. (Whether glibc then
reuses a block depends on the sizes and alignments that follow; the decode numbers in
allocator.py's docstring are what the mode is for.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from charsuite import allocator
from helpers import REPO

CHILD = """
import json, torch
from charsuite import allocator

def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))

out = {}
for mode in ("mapped", "retained"):
    out[mode + "_set"] = allocator.set_mode(mode)
    cycles = []
    for _ in range(6):
        t = torch.ones(8 * 2**20, dtype=torch.uint8)   # 8 MiB, every page touched
        held = rss()
        del t
        cycles.append((held, rss()))
    out[mode] = cycles[1:]  # the first cycle settles the heap into the mode
print(json.dumps(out))
"""


@pytest.mark.skipif(allocator._mallopt() is None, reason="needs glibc's malloc")
def test_mapped_returns_freed_blocks_and_retained_reuses_them():
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["mapped_set"] and out["retained_set"]
    mib = 2**20
    # mapped: every freed block leaves the resident set at once
    assert all(held - freed >= 7.5 * mib for held, freed in out["mapped"]), out["mapped"]
    # retained: the freed block stays resident (in the heap, for what comes next)
    assert all(held - freed < 1 * mib for held, freed in out["retained"]), out["retained"]


def test_a_bad_malloc_setting_is_one_line():
    from charsuite.config import ConfigError
    from helpers import compose

    with pytest.raises(ConfigError, match="device.malloc"):
        compose("+model=mamba2", "device.malloc=jemalloc")
