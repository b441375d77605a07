"""What every tracker shares: the interface (a context manager around a phase that
fills a reading when the phase ends) and the sampling helpers of the power trackers.

    with tracker.track() as reading:    # memory, power/energy, thermal alike
        run the phase
    reading.<fields>                    # filled on exit

Trackers compose with contextlib.ExitStack; none of them knows about the others.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

SAMPLE_HZ = 20.0


class Tracker:
    """Base: tracks nothing. Subclasses override `track`."""

    name = "none"

    @contextlib.contextmanager
    def track(self) -> Iterator[Any]:
        yield None


class Integrator:
    """Trapezoidal integral of power samples (seconds, watts) -> joules."""

    def __init__(self) -> None:
        self.last: tuple[float, float] | None = None
        self.joules = 0.0
        self.count = 0

    def add(self, t: float, watts: float) -> None:
        if self.last is not None:
            t0, w0 = self.last
            self.joules += (t - t0) * (w0 + watts) / 2.0
        self.last = (t, watts)
        self.count += 1



class Sampler:
    """Calls `sample()` every 1/hz seconds on a thread (sleeping between calls, never spinning)."""

    def __init__(self, sample: Callable[[float], None], hz: float = SAMPLE_HZ, clock=time.monotonic):
        self.sample, self.period, self.clock = sample, 1.0 / hz, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample(self.clock())
            self._stop.wait(self.period)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample(self.clock())  # a closing sample at the very end of the phase
