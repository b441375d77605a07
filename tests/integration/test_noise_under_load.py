"""The issue's acceptance check: under a deliberate background load (a busy process on every
core) a sweep flags its points noisy for contention and the summary reports no exponent from
them; without the load the same sweep finds no contention - where the machine was quiet by the
test's own count of the other work on it (README's test command may run beside another test run:
then flags in the quiet half are right, and only the loaded half is checked). (Whether a quiet
point's interval is tight is the machine's own jitter, which the unit tests of noise.py cover.)"""

import contextlib
import os
import subprocess
import sys
import time

import pytest

from charsuite import results
from charsuite.summary import markdown
from helpers import run_cli

# The tiny model's 5-16 ms forwards jitter by +-7% to +-26% on a quiet shared 2-core VM (bimodal,
# drifting over tenths of a second), which the interval rule rightly flags; this test is about
# contention, so it widens the target in both sweeps alike.
SWEEP = ("+model=mamba2", "model.size=tiny", "context.min=128", "context.max=512", "workload.phases=[prefill]",
         "workload.repeat_time_s=2", "workload.target_rel_ci=0.15")
pytestmark = pytest.mark.serial  # its quiet half needs the machine to itself: never beside other tests


@contextlib.contextmanager
def busy_cores():
    """One spinning process per core the tests may use, for as long as the block runs."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in os.sched_getaffinity(0)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


QUIET_CORES = 0.25  # other work below a quarter of a core: a quiet machine, where no point may say contention


def _busy_s() -> float:
    """Seconds the machine's cores were busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _ours_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system  # the sweep's driver and its worker: waited for


def others_cores(block):
    """What `block()` returns, and the cores other processes kept busy meanwhile: the machine's busy time less
    this process's and its children's - counted apart from the product's own load readings."""
    busy, ours, t0 = _busy_s(), _ours_s(), time.monotonic()
    out = block()
    wall = time.monotonic() - t0
    return out, max(0.0, (_busy_s() - busy) - (_ours_s() - ours)) / wall


def _sweep(run_dir):
    r = run_cli(*SWEEP, f"hydra.run.dir={run_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
    return results.read_points(run_dir / results.RESULTS), r.stderr + r.stdout


def _exponent(md: str) -> str:
    (row,) = [ln for ln in md.splitlines() if ln.startswith("| mamba2 | tiny")]
    return row.strip("|").split("|")[7].strip()


def test_a_loaded_machine_flags_its_points_and_a_quiet_one_does_not(tmp_path):
    (quiet, _), others = others_cores(lambda: _sweep(tmp_path / "quiet"))
    # (time a hypervisor steals from this VM is outside the test's control: flagged, but not asserted here)
    contention = [p.noise_reason for p in quiet
                  if "other processes wanted" in (p.noise_reason or "") or "waited" in (p.noise_reason or "")]
    if others < QUIET_CORES:
        assert not contention, (others, contention)
    else:  # other work shared the machine: what the flags say of it is the product's to say, not checked here
        print(f"the quiet half ran beside {others:.2f} cores of other work: its absence of flags is not checked")
    # Whatever else shares the machine (a CI runner's own work), the thread choice leaves room for it.
    cores = len(os.sched_getaffinity(0))
    assert all(p.others_runnable is not None and 1 <= p.threads <= cores for p in quiet)
    with busy_cores():
        loaded, output = _sweep(tmp_path / "loaded")
    assert all(p.noisy and "other processes wanted a core" in p.noise_reason for p in loaded), \
        [p.noise_reason for p in loaded]
    # one spinner per core on top of whatever ran during the quiet half (where it was quiet: other work beside
    # the test comes and goes); the thread choice saw them too
    background = min(p.others_runnable for p in quiet) if others < QUIET_CORES else 0.0
    assert all(p.others_runnable >= background + cores - 0.5 and p.threads == 1 for p in loaded), \
        ([p.others_runnable for p in quiet], [p.others_runnable for p in loaded])
    assert "NOISY" in output and "3 of 3 points are noisy" in output
    assert _exponent(markdown([tmp_path / "loaded"])) == "-"   # no exponent fitted to noise
    assert _exponent(markdown([tmp_path / "loaded"], include_noisy=True)) != "-"
