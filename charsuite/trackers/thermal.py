"""Temperatures and clocks seen during a phase, and whether the device throttled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Thermal:
    """Temperatures and clocks seen during a phase; `throttled` when the clock fell or
    the temperature reached the throttle threshold."""

    read_temp_c: Callable[[], float | None] | None = None
    read_clock_mhz: Callable[[], float | None] | None = None
    throttle_temp_c: float | None = None
    clock_drop: float = 0.10
    temps: list[float] = field(default_factory=list)
    clocks: list[float] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.read_temp_c is not None or self.read_clock_mhz is not None

    def sample(self) -> None:
        t = self.read_temp_c() if self.read_temp_c else None
        c = self.read_clock_mhz() if self.read_clock_mhz else None
        if t is not None:
            self.temps.append(t)
        if c is not None:
            self.clocks.append(c)

    def fill(self, r) -> None:
        r.temperature_max_c = max(self.temps) if self.temps else None
        if self.clocks:
            r.clock_start_mhz, r.clock_min_mhz = self.clocks[0], min(self.clocks)
        hot = r.temperature_max_c is not None and self.throttle_temp_c is not None and \
            r.temperature_max_c >= self.throttle_temp_c
        slow = bool(self.clocks) and min(self.clocks) < (1 - self.clock_drop) * self.clocks[0]
        r.throttled = hot or slow if (self.temps or self.clocks) else None
