"""Power and thermal readers from Linux sysfs: Jetson INA3221 rails, Intel/AMD RAPL
through powercap, and thermal zones. Every reader takes a `root` so tests can point it
at a fake tree."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from charsuite.trackers.power import PowerTracker
from charsuite.trackers.thermal import Thermal

JETSON_TOTAL_RAIL = "VDD_IN"
PACKAGE_DOMAIN = re.compile(r"^[a-z-]*rapl:\d+$")  # intel-rapl:0, not its sub-domains intel-rapl:0:0


def _read_number(path: str | Path) -> float | None:
    try:
        return float(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def thermal_zones(root: str = "/") -> Thermal:
    """Hottest thermal zone (millidegrees C in sysfs) and its lowest trip point as threshold."""
    zones = sorted(glob.glob(os.path.join(root, "sys/class/thermal/thermal_zone*/temp")))

    def hottest() -> float | None:
        temps = [t / 1000.0 for t in (_read_number(z) for z in zones) if t is not None]
        return max(temps) if temps else None

    trips = []
    for z in zones:
        zdir = os.path.dirname(z)
        for tp in glob.glob(os.path.join(zdir, "trip_point_*_temp")):
            kind = Path(tp.replace("_temp", "_type")).read_text().strip() if os.path.exists(
                tp.replace("_temp", "_type")) else ""
            v = _read_number(tp)
            if v and kind in ("passive", "hot"):
                trips.append(v / 1000.0)
    return Thermal(read_temp_c=hottest, throttle_temp_c=min(trips) if trips else None)


class JetsonMonitor(PowerTracker):
    """INA3221 rails: inN_label names the rail, inN_input is millivolts and currN_input
    milliamps; the board's total is the VDD_IN rail. Power is sampled and integrated."""

    name = "jetson"

    def __init__(self, volt_path: str, curr_path: str, root: str = "/"):
        self.volt_path, self.curr_path, self.root = volt_path, curr_path, root

    @classmethod
    def open(cls, root: str = "/") -> JetsonMonitor | None:
        pattern = os.path.join(root, "sys/bus/i2c/drivers/ina3221*/*/hwmon/hwmon*/in*_label")
        for label in sorted(glob.glob(pattern)):
            try:
                if Path(label).read_text().strip() != JETSON_TOTAL_RAIL:
                    continue
            except OSError:
                continue
            idx = os.path.basename(label)[2:-len("_label")]
            hw = os.path.dirname(label)
            volt, curr = os.path.join(hw, f"in{idx}_input"), os.path.join(hw, f"curr{idx}_input")
            if os.path.exists(volt) and os.path.exists(curr):
                return cls(volt, curr, root)
        return None

    def power_w(self) -> float | None:
        mv, ma = _read_number(self.volt_path), _read_number(self.curr_path)
        if mv is None or ma is None:
            return None
        return mv * ma / 1e6

    def thermal(self) -> Thermal:
        return thermal_zones(self.root)


class RaplMonitor(PowerTracker):
    """RAPL package domains through powercap: energy_uj counters (microjoules), which wrap
    at max_energy_range_uj. Read before and after; no sampling needed."""

    name = "rapl"

    def __init__(self, domains: list[str], root: str = "/"):
        self.domains, self.root = domains, root
        self.ranges = {d: _read_number(os.path.join(d, "max_energy_range_uj")) for d in domains}
        self._last: dict[str, float] = {}

    @classmethod
    def open(cls, root: str = "/") -> RaplMonitor | None:
        paths = sorted(glob.glob(os.path.join(root, "sys/class/powercap/*/energy_uj")))
        domains = [os.path.dirname(p) for p in paths
                   if PACKAGE_DOMAIN.match(os.path.basename(os.path.dirname(p))) and _read_number(p) is not None]
        return cls(domains, root) if domains else None

    def energy_counter_j(self) -> float | None:
        """Summed package counters in joules, unwrapped since the first read."""
        total = 0.0
        for d in self.domains:
            v = _read_number(os.path.join(d, "energy_uj"))
            if v is None:
                return None
            total += v
        return total / 1e6

    def counter_delta(self, before: float | None, after: float | None) -> float | None:
        if before is None or after is None:
            return None
        delta = after - before
        if delta < 0:  # a counter wrapped: add one range (phases are far shorter than a wrap)
            delta += sum(r for r in self.ranges.values() if r) / 1e6
        return delta

    def thermal(self) -> Thermal:
        return thermal_zones(self.root)
