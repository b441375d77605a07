"""A memory cgroup around one worker (`device.memory_enforcement=cgroup`): the cap is
enforced on resident memory by the kernel itself, and going past it summons the kernel's
OOM killer (SIGKILL), as on a Jetson, instead of a catchable allocation failure. The
driver reads the cgroup's OOM-kill counter after a worker dies, so such a death is
recorded `oom`, not `crashed`.

cgroup v1 (`memory.limit_in_bytes`, `memory.oom_control`'s `oom_kill`) and v2
(`memory.max`, `memory.events`' `oom_kill`); the new group is a child of the one this
process is in. Needs write access to the memory controller (root on these machines).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from charsuite.errors import ConfigError
from charsuite.processes import pid_alive

ROOT = Path("/sys/fs/cgroup")
_serial = itertools.count()


def _own_path(controller: str | None) -> str | None:
    """This process's cgroup path in the v1 `controller` hierarchy (None: the v2 one)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if (controller is None and names == "") or (controller is not None and controller in names.split(",")):
            return path
    return None


def parent_dir() -> tuple[Path, int] | None:
    """(the directory to create worker groups under, cgroup version), or None."""
    v1 = ROOT / "memory"
    own = _own_path("memory")
    if (v1 / "memory.limit_in_bytes").exists() and own is not None:
        d = v1 / own.lstrip("/")
        if os.access(d, os.W_OK):
            return d, 1
    own2 = _own_path(None)
    for base in (ROOT, ROOT / "unified"):
        if own2 is None or not (base / "cgroup.controllers").exists():
            continue
        d = base / own2.lstrip("/")
        try:
            enabled = "memory" in (d / "cgroup.subtree_control").read_text().split()
        except OSError:
            continue
        if enabled and os.access(d, os.W_OK):
            return d, 2
    return None


def check_available() -> None:
    if parent_dir() is None:
        raise ConfigError("device.memory_enforcement=cgroup needs a writable memory cgroup (the v1 memory "
                          "controller, or v2 with memory enabled for this process's group; usually root); "
                          "use device.memory_enforcement=rlimit")


def resolve_enforcement(requested: str, device_kind: str) -> tuple[str, str]:
    """The enforcement a run uses, and why: `auto` is a memory cgroup on a CPU device where
    one can be made (the cap then limits resident memory, so the heap's history cannot move
    the boundary), else RLIMIT_DATA (which counts virtual data). On CUDA the cap is the
    caching allocator's fraction and neither applies to device memory."""
    if requested != "auto":
        return requested, f"device.memory_enforcement={requested}"
    if device_kind != "cpu":
        return "rlimit", "auto: a CUDA device's cap is torch's per-process memory fraction"
    if parent_dir() is None:
        return "rlimit", "auto: no writable memory cgroup here, so RLIMIT_DATA (virtual data, not resident memory)"
    return "cgroup", "auto: a writable memory cgroup caps the worker's resident memory"


def sweep_stale_groups(parent: Path) -> list[Path]:
    """Remove worker groups a killed driver left (kill -9 runs no clean-up): charsuite-PID-N
    folders whose driver PID is gone and that hold no process. Returns what it removed."""
    removed = []
    for d in parent.glob("charsuite-*-*"):
        try:
            pid = int(d.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid_alive(pid):
            continue
        try:
            if (d / "cgroup.procs").read_text().strip():
                continue
            d.rmdir()
            removed.append(d)
        except OSError:
            pass
    return removed


class MemoryCgroup:
    """One child memory cgroup with a hard limit; `procs_file` is written by the worker's
    pre-exec hook so everything the worker ever allocates is charged to it."""

    def __init__(self, limit_bytes: int):
        found = parent_dir()
        if found is None:
            check_available()
        parent, self.version = found
        sweep_stale_groups(parent)
        self.path = parent / f"charsuite-{os.getpid()}-{next(_serial)}"
        self.path.mkdir()
        if self.version == 1:
            (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            swap = self.path / "memory.memsw.limit_in_bytes"
            if swap.exists():  # no swapping out of trouble either
                try:
                    swap.write_text(str(limit_bytes))
                except OSError:
                    pass
        else:
            (self.path / "memory.max").write_text(str(limit_bytes))
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")
        self.procs_file = str(self.path / "cgroup.procs")

    def join(self) -> None:
        """Move the calling process in (the worker's preexec_fn, before exec)."""
        with open(self.procs_file, "w") as f:
            f.write(str(os.getpid()))

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    @property
    def peak_file(self) -> Path:
        return self.path / ("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")

    def reset_peak(self) -> bool:
        """Start the group's peak anew (v1: any write; v2: kernels from 6.12). False where it cannot."""
        try:
            self.peak_file.write_text("0")
            return True
        except OSError:
            return False

    def peak_bytes(self) -> int | None:
        """The most memory the kernel charged to the group since the last reset: what the cap is
        held against (a worker's VmHWM also counts pages charged to other groups, shared libraries)."""
        try:
            return int(self.peak_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def remove(self) -> None:
        try:
            self.path.rmdir()
        except OSError:  # still has a process (it is being reaped) or already gone
            pass
