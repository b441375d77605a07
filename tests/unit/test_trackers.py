"""Power trackers against a fake sysfs tree and a fake NVML that replay recorded
counter and sample sequences: the integration math is real and fails if wrong."""

import pytest

from charsuite.trackers import registry
from charsuite.trackers.base import Integrator
from charsuite.trackers.nvml import NvmlMonitor
from charsuite.trackers.power import PowerTracker
from charsuite.trackers.registry import power_tracker
from charsuite.trackers.sysfs import JetsonMonitor, RaplMonitor


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_trapezoid_integration_by_hand():
    integ = Integrator()
    for t, w in [(0.0, 10.0), (0.1, 10.0), (0.2, 20.0), (0.4, 20.0)]:
        integ.add(t, w)
    # 0.1 s at 10 W + 0.1 s ramp 10->20 W + 0.2 s at 20 W = 1 + 1.5 + 4 = 6.5 J
    assert integ.joules == pytest.approx(6.5)


def jetson_tree(tmp_path, mv, ma):
    hw = tmp_path / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3"
    hw.mkdir(parents=True)
    for i, label in ((1, "VDD_IN"), (2, "VDD_CPU_GPU_CV"), (3, "VDD_SOC")):
        (hw / f"in{i}_label").write_text(label + "\n")
        (hw / f"in{i}_input").write_text(f"{mv}\n")
        (hw / f"curr{i}_input").write_text(f"{ma if i == 1 else 1}\n")
    zone = tmp_path / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("51000\n")
    (zone / "trip_point_0_temp").write_text("99000\n")
    (zone / "trip_point_0_type").write_text("passive\n")
    return hw


def test_jetson_reads_the_vdd_in_rail_and_integrates_replayed_samples(tmp_path):
    hw = jetson_tree(tmp_path, 5000, 1200)
    mon = JetsonMonitor.open(str(tmp_path))
    assert mon is not None and mon.power_w() == pytest.approx(6.0)  # 5 V x 1.2 A
    integ = Integrator()
    # a recorded sequence: (seconds, mV, mA) -> 5 W, 5 W, 10 W, 10 W
    for t, mv, ma in [(0.0, 5000, 1000), (0.5, 5000, 1000), (1.0, 5000, 2000), (2.0, 5000, 2000)]:
        (hw / "in1_input").write_text(f"{mv}\n")
        (hw / "curr1_input").write_text(f"{ma}\n")
        integ.add(t, mon.power_w())
    assert integ.joules == pytest.approx(2.5 + 3.75 + 10.0)
    assert mon.thermal().read_temp_c() == pytest.approx(51.0)


def test_jetson_sampler_runs_at_10hz_or_more(tmp_path):
    import time

    jetson_tree(tmp_path, 5000, 2000)  # a constant 10 W
    mon = JetsonMonitor.open(str(tmp_path))
    with mon.track() as r:
        time.sleep(0.6)
    assert r.samples / r.duration_s >= 10
    assert r.energy_j == pytest.approx(10.0 * r.duration_s, rel=0.25)
    assert r.avg_power_w == pytest.approx(10.0, rel=0.25)
    assert r.temperature_max_c == pytest.approx(51.0) and r.throttled is False


def rapl_tree(tmp_path, uj, rng=262143328850):
    d = tmp_path / "sys/class/powercap/intel-rapl:0"
    (d / "intel-rapl:0:0").mkdir(parents=True)
    (d / "energy_uj").write_text(f"{uj}\n")
    (d / "max_energy_range_uj").write_text(f"{rng}\n")
    (d / "intel-rapl:0:0" / "energy_uj").write_text("5\n")  # a sub-domain: not counted twice
    return d


def test_rapl_counter_delta_and_wraparound(tmp_path):
    d = rapl_tree(tmp_path, 1_000_000, rng=10_000_000)
    mon = RaplMonitor.open(str(tmp_path))
    assert mon is not None and len(mon.domains) == 1
    e0 = mon.energy_counter_j()
    (d / "energy_uj").write_text("4500000\n")
    assert mon.counter_delta(e0, mon.energy_counter_j()) == pytest.approx(3.5)
    e1 = mon.energy_counter_j()
    (d / "energy_uj").write_text("500000\n")  # wrapped past 10 J
    assert mon.counter_delta(e1, mon.energy_counter_j()) == pytest.approx(6.0)


class FakeNvml:
    """Replays recorded NVML values; `counter` None makes the energy counter unsupported."""

    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_TEMPERATURE_THRESHOLD_SLOWDOWN = 2

    class NotSupported(Exception):
        pass

    def __init__(self, counter_mj=None, power_mw=None, clocks=None, temps=None):
        self.counter = list(counter_mj) if counter_mj is not None else None
        self.power = list(power_mw or [])
        self.clocks = list(clocks or [])
        self.temps = list(temps or [])

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, i):
        return "gpu0"

    def _next(self, seq):
        return seq.pop(0) if len(seq) > 1 else seq[0]

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        if self.counter is None:
            raise self.NotSupported()
        return self._next(self.counter)

    def nvmlDeviceGetPowerUsage(self, h):
        if not self.power:
            raise self.NotSupported()
        return self._next(self.power)

    def nvmlDeviceGetTemperature(self, h, kind):
        return self._next(self.temps) if self.temps else 50

    def nvmlDeviceGetClockInfo(self, h, kind):
        return self._next(self.clocks) if self.clocks else 2520

    def nvmlDeviceGetTemperatureThreshold(self, h, kind):
        return 87


def test_nvml_energy_counter():
    nvml = FakeNvml(counter_mj=[1_000_000, 1_000_000, 1_000_000, 1_045_500])
    mon = NvmlMonitor.open(nvml=nvml)
    assert mon.has_counter
    with mon.track() as r:
        pass
    assert r.energy_j == pytest.approx(45.5) and r.sample_hz is None


def test_nvml_falls_back_to_power_sampling_and_flags_throttling():
    nvml = FakeNvml(counter_mj=None, power_mw=[300_000], clocks=[2520, 2520, 1800], temps=[70, 80, 88])
    mon = NvmlMonitor.open(nvml=nvml)
    assert not mon.has_counter
    clock = FakeClock()
    integ_check = []
    with mon.track(clock=clock, hz=1000) as r:
        import time

        for _ in range(5):
            clock.t += 0.1
            time.sleep(0.01)
            integ_check.append(clock.t)
    # constant 300 W over the fake 0.5 s
    assert r.energy_j == pytest.approx(300 * 0.5, rel=0.25)
    assert r.throttled is True and r.temperature_max_c == 88 and r.clock_min_mhz == 1800


def test_no_tracker_means_null_energy_never_zero():
    mon = power_tracker("none", "cpu")
    with mon.track() as r:
        pass
    assert r.energy_j is None and r.avg_power_w is None and r.monitor == "none"


def test_auto_takes_the_first_tracker_that_opens(monkeypatch, tmp_path):
    opened = []

    class Fake(PowerTracker):
        name = "fake-nvml"

    def nvml_absent():
        opened.append("nvml")
        return None

    def jetson_present():
        opened.append("jetson")
        return Fake()

    monkeypatch.setattr(registry, "POWER_TRACKERS", {"nvml": nvml_absent, "jetson": jetson_present,
                                                     "rapl": lambda: None})
    assert power_tracker("auto", "cuda").name == "fake-nvml" and opened == ["nvml", "jetson"]
    assert power_tracker("auto", "cpu").name == "none"          # RAPL did not open: energy stays None
    assert power_tracker("jetson", "cpu").name == "fake-nvml"   # a named tracker is tried whatever the device
