"""noise.py and trackers/load.py: the median's interval, when sampling stops, the verdict,
and other processes' share of the cores read from a (written) /proc/stat."""

import math

import pytest

from charsuite.noise import Load, StopRule, spread, verdict
from charsuite.trackers import load as load_mod


def test_interval_is_the_range_below_six_samples_and_drops_the_extremes_from_nine():
    s = spread([1.0, 1.1, 0.9])
    assert (s.low, s.high, s.median) == (0.9, 1.1, 1.0) and s.coverage == pytest.approx(0.75)
    six = spread([1.0] * 5 + [3.0])
    assert six.high == 3.0 and six.coverage == pytest.approx(1 - 2 / 64) and six.coverage >= 0.95
    nine = spread([1.0] * 8 + [30.0])  # one outlier cannot decide the interval from nine samples on
    assert nine.high == 1.0 and nine.rel_ci == 0.0 and nine.coverage >= 0.95
    assert math.isclose(spread([3.35, 0.35, 0.57]).cv, 1.175, rel_tol=0.01)  # the three samples


def test_stop_rule_samples_until_the_interval_is_tight_with_95_percent_coverage():
    rule = StopRule(min_repeats=3, max_repeats=20, target_rel_ci=0.05, time_s=10.0)
    steady = [1.0, 1.01, 0.99]
    assert not rule.done(steady, 0.1)                 # three samples: only 75% coverage
    assert rule.done(steady * 2, 0.1)                 # six: 97%, within +-5%
    wild = [1.0, 2.0] * 5
    assert not rule.done(wild, 1.0) and rule.done(wild * 2, 1.0)   # max_repeats ends it
    assert rule.done(wild[:3], 10.0) and not rule.done(wild[:2], 10.0)  # time out, but `repeats` always run


def test_verdict_names_wide_intervals_and_contention_and_passes_a_clean_point():
    calm = Load(others_busy_cores=0.1, steal_share=0.0, wait_share=0.01, others_runnable=0.1, cores=2, threads=2)
    assert verdict(spread([1.0, 1.01, 0.99] * 3), calm, 0.05) is None
    assert "median +-" in verdict(spread([3.35, 0.35, 0.57]), calm, 0.05)
    # one steady job beside one thread on two cores: the thread choice made room, no contention
    beside = Load(others_busy_cores=1.0, wait_share=0.01, others_runnable=1.0, cores=2, threads=1)
    assert verdict(spread([1.0] * 6), beside, 0.05) is None
    spinners = Load(others_busy_cores=1.0, wait_share=0.02, others_runnable=2.0, cores=2, threads=1)
    assert ("contention: 2.0 tasks of other processes wanted a core beside our 1 thread(s) on 2 cores "
            "(other processes used 1.0 of 2 cores)") in verdict(spread([1.0] * 6), spinners, 0.05)
    waited = Load(others_busy_cores=1.3, wait_share=0.33, cores=2, threads=1)
    assert "our threads waited for a core 33% of the time" in verdict(spread([1.0] * 6), waited, 0.05)
    assert "stolen" in verdict(spread([1.0] * 6), Load(steal_share=0.2), 0.05)
    assert "throttled" in verdict(spread([1.0] * 6), Load(throttled=True), 0.05)


def _stat(path, cores: dict[int, tuple[int, int, int]]) -> None:
    """/proc/stat with cpuN lines: (busy, idle, steal) ticks."""
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    lines += [f"cpu{c} {busy} 0 0 {idle} 0 0 0 {steal} 0 0" for c, (busy, idle, steal) in cores.items()]
    path.write_text("\n".join(lines) + "\n")


def test_choose_threads_leaves_the_cores_other_work_keeps_busy(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    monkeypatch.setattr(load_mod, "affinity", lambda: [0, 1])
    tick = load_mod.TICK_S
    clock = iter([0.0, 1.0, 0.0, 1.0])
    monkeypatch.setattr(load_mod.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(load_mod.os, "times", lambda: type("T", (), {"user": 0.0, "system": 0.0})())
    _stat(stat, {0: (0, 100, 0), 1: (0, 100, 0)})
    busy_one = {0: (round(1 / tick), 100, 0), 1: (0, 100 + round(1 / tick), 0)}  # one core busy for the whole second
    threads, why = load_mod.choose_threads(1.0, stat, sleep=lambda s: _stat(stat, busy_one))
    assert threads == 1 and "kept 1.0 busy" in why
    _stat(stat, {0: (0, 100, 0), 1: (0, 100, 0)})
    idle = {0: (0, 100 + round(1 / tick), 0), 1: (0, 100 + round(1 / tick), 0)}
    assert load_mod.choose_threads(1.0, stat, sleep=lambda s: _stat(stat, idle))[0] == 2


def test_load_tracker_reads_others_and_steal_around_a_phase(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    monkeypatch.setattr(load_mod, "affinity", lambda: [0, 1])
    clock = iter([0.0, 2.0])
    monkeypatch.setattr(load_mod.time, "monotonic", lambda: next(clock))
    own = iter([1.0, 3.0])  # this process used 2 s of CPU over the 2 s phase: one core
    monkeypatch.setattr(load_mod.os, "times", lambda: type("T", (), {"user": next(own), "system": 0.0})())
    t = round(1 / load_mod.TICK_S)
    _stat(stat, {0: (0, 100, 0), 1: (0, 100, 0)})
    with load_mod.LoadTracker(stat).track() as reading:
        _stat(stat, {0: (2 * t, 100, 0), 1: (t, 100, t)})  # 3 core-seconds busy, 1 stolen, of 4
    assert reading.others_busy_cores == pytest.approx(0.5) and reading.steal_share == pytest.approx(0.25)
    assert reading.cores == 2
