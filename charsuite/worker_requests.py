"""What the driver asks its worker, as records: one dataclass per request, written as one JSON line with its
kind (`cmd`) and read back into the same record on the other side of the pipe - no dict of loose keys, no
dispatch on strings beyond the one table here."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setup:
    """Build the engine: the run's resolved settings (run_plan.py) and config sections as plain data."""

    engine: str
    engine_settings: dict[str, Any]
    engine_files: dict[str, str]
    model: dict[str, Any]
    device: dict[str, Any]
    workload: dict[str, Any]
    threads: int | None = None
    memory_limit_bytes: int | None = None  # CUDA: torch's per-process fraction
    rlimit_bytes: int | None = None        # the CPU's cap where no cgroup enforces it


@dataclass(frozen=True)
class Measure:
    phase: str
    context: int


@dataclass(frozen=True)
class Profile:
    phase: str
    context: int
    trace_path: str
    steps: int = 1
    eager: bool = False


@dataclass(frozen=True)
class Guard:
    """Cached decode against a full forward (and chunked against one-shot where the run chunks)."""


@dataclass(frozen=True)
class Exit:
    """Finish nothing more and exit."""


Request = Setup | Measure | Profile | Guard | Exit
KINDS: dict[str, type] = {cls.__name__.lower(): cls for cls in (Setup, Measure, Profile, Guard, Exit)}


def encode(req: Request) -> str:
    return json.dumps({"cmd": type(req).__name__.lower(), **dataclasses.asdict(req)})


def decode(line: str) -> Request:
    """The record a line holds; ValueError for a kind or field this worker does not know."""
    data = json.loads(line)
    kind = KINDS.get(data.pop("cmd", None))
    if kind is None:
        raise ValueError(f"unknown request kind in {line.strip()[:80]!r}")
    try:
        return kind(**data)
    except TypeError as exc:
        raise ValueError(f"a {kind.__name__} request with fields it does not have: {exc}") from None
