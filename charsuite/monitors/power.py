"""Energy, power and thermal state of a phase, behind one small interface.

    monitor = select(kind, device_kind)        # nvml | jetson | rapl | none | auto
    with monitor.measure() as reading:          # around the timed repeats only
        ...
    reading.energy_j, reading.avg_power_w, reading.throttled, ...

Counters (NVML total energy, RAPL) are read before and after; where only power can be
read (Jetson INA3221 rails, NVML without the counter) a thread samples it at >= 10 Hz
and the samples are integrated (trapezoid). No monitor means energy None, never 0.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

SAMPLE_HZ = 20.0


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

    def fill(self, r: Reading) -> None:
        r.temperature_max_c = max(self.temps) if self.temps else None
        if self.clocks:
            r.clock_start_mhz, r.clock_min_mhz = self.clocks[0], min(self.clocks)
        hot = r.temperature_max_c is not None and self.throttle_temp_c is not None and \
            r.temperature_max_c >= self.throttle_temp_c
        slow = bool(self.clocks) and min(self.clocks) < (1 - self.clock_drop) * self.clocks[0]
        r.throttled = hot or slow if (self.temps or self.clocks) else None


class Monitor:
    """Base: no energy. Subclasses override `energy_counter_j` or `power_w` (and `thermal`)."""

    name = "none"

    def energy_counter_j(self) -> float | None:
        return None

    def power_w(self) -> float | None:
        return None

    def thermal(self) -> Thermal:
        return Thermal()

    @contextlib.contextmanager
    def measure(self, clock=time.monotonic, hz: float = SAMPLE_HZ) -> Iterator[Reading]:
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
        with self.measure() as r:
            time.sleep(seconds)
        return r.avg_power_w


def select(kind: str, device_kind: str) -> Monitor:
    """The monitor a device profile names; `auto` picks the first that works here."""
    from charsuite.monitors import nvml, sysfs

    makers = {"nvml": nvml.NvmlMonitor.open, "jetson": sysfs.JetsonMonitor.open, "rapl": sysfs.RaplMonitor.open}
    if kind == "none":
        return Monitor()
    order = [kind] if kind in makers else (["nvml", "jetson"] if device_kind == "cuda" else ["rapl"])
    for name in order:
        mon = makers[name]()
        if mon is not None:
            return mon
    return Monitor()
