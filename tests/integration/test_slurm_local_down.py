"""scripts/slurm_local.sh down stops only the daemons its `up` started, by their pids (issue 32): on a real
Slurm node `pkill -x slurmctld` would have stopped the site's own. Fake daemons (a copy of sleep under
the daemon's name), no Slurm needed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from helpers import REPO


def _fake(tmp_path: Path, name: str) -> subprocess.Popen:
    binary = tmp_path / "bin" / name
    binary.parent.mkdir(exist_ok=True)
    shutil.copy(shutil.which("sleep"), binary)
    return subprocess.Popen([str(binary), "600"])


def _down(state: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "scripts" / "slurm_local.sh"), "down"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "CHARSUITE_SLURM_DIR": str(state)}, timeout=120)


def test_down_stops_its_own_daemons_and_never_a_hosts(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    site = _fake(tmp_path, "slurmctld")   # the host's own: no pid file of ours names it
    ours = _fake(tmp_path, "slurmd")
    try:
        (state / "slurmd.pid").write_text(f"{ours.pid}\n")
        (state / "munged.pid").write_text(f"{site.pid}\n")  # a stale pid file naming another daemon's process
        r = _down(state)
        assert r.returncode == 0 and "slurm_local: down" in r.stdout, r.stderr
        ours.wait(timeout=60)
        assert site.poll() is None  # still running
    finally:
        for p in (site, ours):
            p.kill()
            p.wait()
