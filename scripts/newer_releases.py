"""Which key packages have a release newer than the versions the tests last ran on (scripts/constraints.txt, and
README's torch): the signal to test the next transformers before it reaches anyone, instead of finding out from a
red main.

    python scripts/newer_releases.py        one line per package; exit 0 (3 when the registry cannot be asked)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

CONSTRAINTS = Path(__file__).with_name("constraints.txt")
KEY = ("torch", "transformers", "kernels", "mamba-ssm", "causal-conv1d", "hydra-core", "plotly", "llama-cpp-python")
README_TORCH = "2.13.0"


def pinned(text: str) -> dict[str, str]:
    """{normalized name: version} of a constraints file's `name==version` lines."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def release_key(version: str) -> tuple:
    """A version's order for the common X.Y.Z[.postN] forms (a local label such as +cpu is ignored)."""
    parts = re.findall(r"\d+", version.split("+")[0])
    return tuple(int(p) for p in parts)


def newest(name: str) -> str | None:
    """The registry's newest release of a package (pip index versions), None where it cannot be asked."""
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", name], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(rf"^{re.escape(name)}\s+\(([^)]+)\)", out, flags=re.I | re.M)
    return m.group(1) if m else None


def report(tested: dict[str, str], latest: dict[str, str | None]) -> list[str]:
    lines = []
    for name in KEY:
        have, new = tested.get(name), latest.get(name)
        if new is None:
            lines.append(f"{name}: tested {have or '-'}; the registry did not answer")
        elif have is None:
            lines.append(f"{name}: not pinned (not installed where the tests ran); newest {new}")
        elif release_key(new) > release_key(have):
            lines.append(f"{name}: tested {have}, newer release {new}: test it before raising the pin")
        else:
            lines.append(f"{name}: tested {have}, the newest")
    return lines


def main() -> int:
    tested = {**pinned(CONSTRAINTS.read_text()), "torch": README_TORCH}
    latest = {name: newest(name) for name in KEY}
    print("\n".join(report(tested, latest)))
    return 3 if all(v is None for v in latest.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
