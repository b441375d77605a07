"""Whether a process another charsuite run started is still there: what lets a new run sweep what a
killed one left (half-written GGUF files, worker cgroups) and never what a live one holds."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while `pid` names a process (one of another user's too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
