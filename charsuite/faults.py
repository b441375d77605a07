"""Test seam: faults injected into the worker, as a segfault or a deadlock would strike.

CHARSUITE_FAULT="kill:prefill:512" or "hang:decode:256" makes the worker die by SIGKILL or
hang at that point. With CHARSUITE_FAULT_ONCE=PATH the fault fires once only (PATH is made
when it fires): a Slurm job requeued after the hang then runs through, as after a preemption.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def inject_fault(phase: str, context: int) -> None:
    fault = os.environ.get("CHARSUITE_FAULT")
    if not fault:
        return
    kind, f_phase, f_context = fault.split(":")
    if f_phase != phase or int(f_context) != context:
        return
    once = os.environ.get("CHARSUITE_FAULT_ONCE")
    if once:
        try:
            Path(once).touch(exist_ok=False)
        except FileExistsError:
            return  # it fired before
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "hang":
        signal.pause()
