"""`python -m charsuite.doctor [format=json]`: what this machine can measure, as a table -
CUDA and its GPU, whether the fused SSM kernels import and are the path transformers
dispatches to, NVML energy, RAPL, Jetson power rails, a memory cgroup for Jetson-style
OOM, llama.cpp for engine=llamacpp, and Chromium for the figures. Each line says what is missing and what it costs."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from collections.abc import Callable

from charsuite.errors import ConfigError, help_or_version, run_command


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cuda() -> tuple[bool, str]:
    import torch

    if not torch.cuda.is_available():
        return False, f"none (torch {torch.__version__}): GPU profiles run only through charsuite.predict"
    p = torch.cuda.get_device_properties(0)
    return True, f"{p.name}, {p.total_memory / 2**30:.1f} GiB, capability {p.major}.{p.minor}"


def kernels() -> tuple[bool, str]:
    from charsuite.engines import kernel_paths

    versions = {d: _version(d.replace("_", "-")) for d in kernel_paths.PACKAGES}
    if not kernel_paths.kernels_importable():
        missing = ", ".join(d for d, v in versions.items() if v is None) or "an import failed"
        return False, (f"not importable ({missing}): SSM mixers run the PyTorch reference (docs/install.md, 'The fused "
                       "kernels': bash scripts/install_kernels.sh on a GPU box)")
    path = kernel_paths.observed("mamba2")
    return path == "mamba-ssm kernels", (f"{versions} via {kernel_paths.install_route()}; transformers dispatches "
                                         f"Mamba-2 to: {path}")


def nvml() -> tuple[bool, str]:
    from charsuite.trackers.nvml import NvmlMonitor

    mon = NvmlMonitor.open()
    if mon is None:
        return False, "no NVML (no NVIDIA driver, or nvidia-ml-py missing): no GPU energy"
    energy = mon.energy_counter_j()
    return energy is not None, f"energy counter {'reads ' + format(energy, '.0f') + ' J' if energy else 'unsupported'}"


def rapl() -> tuple[bool, str]:
    from charsuite.trackers.sysfs import RaplMonitor

    mon = RaplMonitor.open()
    return (mon is not None), ("readable" if mon else "no readable /sys/class/powercap energy: no CPU energy")


def jetson() -> tuple[bool, str]:
    from charsuite.trackers.sysfs import JetsonMonitor

    mon = JetsonMonitor.open()
    return (mon is not None), ("INA3221 rails readable" if mon else "not a Jetson (no INA3221 rails)")


def cgroup() -> tuple[bool, str]:
    from charsuite.cgroups import parent_dir

    found = parent_dir()
    if found is None:
        return False, "no writable memory cgroup: device.memory_enforcement=cgroup unavailable (rlimit works)"
    return True, f"v{found[1]} at {found[0]}"


def llamacpp() -> tuple[bool, str]:
    from charsuite.engines.llamacpp import INSTALL

    version = _version("llama-cpp-python")
    if version is None:
        return False, f"llama-cpp-python not installed: engine=llamacpp unavailable ({INSTALL})"
    import llama_cpp

    gpu = "GPU offload" if llama_cpp.llama_supports_gpu_offload() else "CPU only (engine.n_gpu_layers unavailable)"
    return True, f"llama-cpp-python {version}, {gpu}"


def chromium() -> tuple[bool, str]:
    from charsuite.figures.__main__ import find_browser

    path = find_browser()
    return (path is not None), (path or "not found: figures fall back to report.html only")


def compiler() -> tuple[bool, str]:
    """workload.mode=compile on a CPU: Inductor's C++ backend builds with the system's C++ compiler."""
    import shutil
    import subprocess

    path = shutil.which("g++") or shutil.which("c++")
    if path is None:
        return False, "no g++: workload.mode=compile cannot build on the CPU (Debian: apt-get install g++)"
    first = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.splitlines()
    return True, f"{first[0] if first else path}: workload.mode=compile can build on the CPU"


def slurm() -> tuple[bool, str]:
    """hydra/launcher=slurm: sbatch to submit, sacct for each job's state, time and memory."""
    import shutil
    import subprocess

    if shutil.which("sbatch") is None:
        return False, "no sbatch: hydra/launcher=slurm unavailable here (scripts/slurm_local.sh up makes a local one)"
    r = subprocess.run(["sinfo", "-h", "-o", "%P %a %D"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return False, "sbatch is installed but no Slurm controller answers (sinfo failed; set SLURM_CONF?)"
    acct = subprocess.run(["sacct", "-n", "-X", "-S", "now"], capture_output=True, text=True, timeout=30)
    parts = ", ".join(r.stdout.split("\n")[0].split()) or "no partition"
    return True, (f"controller answers ({parts}); accounting "
                  + ("on (sacct)" if acct.returncode == 0 else "off: the batch report has no state, time or RSS"))


def memory_headroom() -> tuple[bool, str]:
    fields = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            fields[key] = int(value.split()[0]) * 1024
    return True, f"{fields['MemTotal'] / 2**30:.1f} GiB total, {fields['MemAvailable'] / 2**30:.1f} GiB available now"


CHECKS: dict[str, Callable[[], tuple[bool, str]]] = {
    "CUDA": cuda, "SSM kernels": kernels, "NVML": nvml, "RAPL": rapl, "Jetson rails": jetson,
    "memory cgroup": cgroup, "llama.cpp": llamacpp, "Chromium": chromium, "C++ compiler": compiler, "Slurm": slurm,
    "memory": memory_headroom,
}


def doctor_rows() -> list[dict]:
    rows = []
    for name, check in CHECKS.items():
        try:
            ok, detail = check()
        except Exception as exc:  # noqa: BLE001 - a check that breaks is a finding, not a crash
            ok, detail = False, f"check failed: {type(exc).__name__}: {exc}"
        rows.append({"check": name, "ok": ok, "detail": detail})
    return rows


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if (done := help_or_version("charsuite.doctor", argv, __doc__)) is not None:
        return done
    fmt = "table"
    for a in argv:
        if a in ("format=json", "format=table"):
            fmt = a.split("=", 1)[1]
        else:
            raise ConfigError(f"unknown argument {a!r}; usage: python -m charsuite.doctor [format=table|json]")
    rows = doctor_rows()
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="charsuite doctor: what this machine can measure")
    for col in ("check", "", "detail"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["check"], "[green]yes[/green]" if r["ok"] else "[yellow]no[/yellow]", escape(r["detail"]))
    Console().print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("charsuite.doctor", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
