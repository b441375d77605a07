"""Which power tracker a device profile names, by name: one table, no import cycles."""

from __future__ import annotations

from charsuite.trackers.nvml import NvmlMonitor
from charsuite.trackers.power import PowerTracker
from charsuite.trackers.sysfs import JetsonMonitor, RaplMonitor

POWER_TRACKERS = {"nvml": NvmlMonitor.open, "jetson": JetsonMonitor.open, "rapl": RaplMonitor.open}
AUTO_ORDER = {"cuda": ("nvml", "jetson"), "cpu": ("rapl",)}


def power_tracker(kind: str, device_kind: str) -> PowerTracker:
    """The tracker a device profile names; `auto` picks the first that works here; `none`
    (or nothing that works) is the base tracker, whose energy is None."""
    if kind == "none":
        return PowerTracker()
    order = [kind] if kind in POWER_TRACKERS else list(AUTO_ORDER.get(device_kind, ()))
    for name in order:
        tracker = POWER_TRACKERS[name]()
        if tracker is not None:
            return tracker
    return PowerTracker()
