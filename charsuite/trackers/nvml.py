"""NVIDIA GPUs through NVML (nvidia-ml-py): the total-energy counter (Volta and newer,
millijoules), or sampled power (milliwatts) where the counter is not supported; GPU
temperature and SM clock sampled alongside. Jetsons have no NVML power: see sysfs.py."""

from __future__ import annotations

from charsuite.trackers.power import PowerTracker
from charsuite.trackers.thermal import Thermal


class NvmlMonitor(PowerTracker):
    name = "nvml"

    def __init__(self, nvml, handle):
        self.nvml, self.handle = nvml, handle
        self.has_counter = self._try(lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle)) is not None

    @classmethod
    def open(cls, index: int = 0, nvml=None) -> NvmlMonitor | None:
        try:
            if nvml is None:
                import pynvml as nvml
            nvml.nvmlInit()
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
        except Exception:  # no driver, no GPU, or no NVML (Jetson)
            return None
        mon = cls(nvml, handle)
        if not mon.has_counter and mon.power_w() is None:
            return None
        return mon

    def _try(self, fn):
        try:
            return fn()
        except Exception:  # NVMLError_NotSupported and friends
            return None

    def energy_counter_j(self) -> float | None:
        if not self.has_counter:
            return None
        mj = self._try(lambda: self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
        return mj / 1000.0 if mj is not None else None

    def power_w(self) -> float | None:
        mw = self._try(lambda: self.nvml.nvmlDeviceGetPowerUsage(self.handle))
        return mw / 1000.0 if mw is not None else None

    def thermal(self) -> Thermal:
        nvml, h = self.nvml, self.handle
        threshold = self._try(lambda: nvml.nvmlDeviceGetTemperatureThreshold(
            h, nvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN))
        return Thermal(
            read_temp_c=lambda: self._try(lambda: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)),
            read_clock_mhz=lambda: self._try(lambda: nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM)),
            throttle_temp_c=threshold,
        )
