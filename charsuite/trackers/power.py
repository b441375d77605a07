"""Energy and power of a phase (and the thermal state alongside), behind one interface.

    tracker = power_tracker(kind, device_kind)   # registry.py: nvml | jetson | rapl | none | auto
    with tracker.track() as reading:             # around the timed repeats only
        ...
    reading.energy_j, reading.avg_power_w, reading.throttled, ...

Counters (NVML total energy, RAPL) are read before and after; where only power can be
read (Jetson INA3221 rails, NVML without the counter) a thread samples it at >= 10 Hz
and the samples are integrated (trapezoid). No tracker means energy None, never 0.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from charsuite.records import Energy
from charsuite.trackers.base import SAMPLE_HZ, Integrator, Sampler, Tracker
from charsuite.trackers.thermal import Thermal


@dataclass
class Reading:
    monitor: str
    energy_j: float | None = None
    duration_s: float = 0.0
    samples: int = 0
    sample_hz: float | None = None
    temperature_max_c: float | None = None
    clock_min_mhz: float | None = None
    clock_start_mhz: float | None = None
    throttled: bool | None = None

    @property
    def avg_power_w(self) -> float | None:
        if self.energy_j is None or self.duration_s <= 0:
            return None
        return self.energy_j / self.duration_s



class PowerTracker(Tracker):
    """Base: no energy. Subclasses override `energy_counter_j` or `power_w` (and `thermal`)."""

    name = "none"

    def energy_counter_j(self) -> float | None:
        return None

    def power_w(self) -> float | None:
        return None

    def thermal(self) -> Thermal:
        return Thermal()

    @contextlib.contextmanager
    def track(self, clock=time.monotonic, hz: float = SAMPLE_HZ) -> Iterator[Reading]:
        reading = Reading(self.name)
        thermal = self.thermal()
        integ = Integrator()
        use_counter = self.energy_counter_j() is not None
        uses_power = not use_counter and self.power_w() is not None

        def sample(t: float) -> None:
            thermal.sample()
            if uses_power:
                w = self.power_w()
                if w is not None:
                    integ.add(t, w)

        e0 = self.energy_counter_j() if use_counter else None
        t0 = clock()
        if uses_power or thermal.active:
            with Sampler(sample, hz, clock):
                yield reading
        else:
            yield reading
        reading.duration_s = clock() - t0
        if use_counter:
            reading.energy_j = self.counter_delta(e0, self.energy_counter_j())
        elif uses_power and integ.count >= 2:
            reading.energy_j = integ.joules
        reading.samples = integ.count
        reading.sample_hz = hz if uses_power else None
        thermal.fill(reading)

    def counter_delta(self, before: float | None, after: float | None) -> float | None:
        if before is None or after is None:
            return None
        return after - before

    def idle_power_w(self, seconds: float = 1.0) -> float | None:
        """Average power with nothing running, for the per-run idle baseline."""
        with self.track() as r:
            time.sleep(seconds)
        return r.avg_power_w


def phase_energy(e: Reading, idle_power_w: float | None, repeats: int, tokens_per_rep: int) -> Energy:
    """Joules of one timed repetition of a phase, per token, and the thermal state."""
    energy = e.energy_j / repeats if e.energy_j is not None else None
    above = None
    if energy is not None and idle_power_w is not None:
        above = energy - idle_power_w * e.duration_s / repeats
    return Energy(energy_j=energy, energy_per_token_j=energy / tokens_per_rep if energy is not None else None,
                  energy_above_idle_j=above, avg_power_w=e.avg_power_w, idle_power_w=idle_power_w,
                  power_monitor=e.monitor, power_sample_hz=e.sample_hz, temperature_max_c=e.temperature_max_c,
                  clock_min_mhz=e.clock_min_mhz, throttled=e.throttled)
