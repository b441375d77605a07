"""Ladder walk + bisection, driven by a fake device whose memory ends at a known length."""

import math

import pytest

from charsuite.config import ContextConfig
from charsuite.plan import search
from charsuite.records import Status


def fake_device(limit, fail_status="oom"):
    calls = []

    def probe(n, how):
        calls.append((n, how))
        return Status.ok if n <= limit else Status(fail_status)

    return probe, calls


@pytest.mark.parametrize("limit", [300, 1000, 5000, 70_000, 150_000])
def test_bisection_finds_the_boundary_within_tolerance(limit):
    ctx = ContextConfig(min=256, max=262_144, ladder="geometric", factor=2, tolerance=None)
    lengths = ctx.lengths()
    probe, calls = fake_device(limit)
    b = search(lengths, probe, ctx.tolerance_at)
    assert b.max_ok <= limit < b.min_oom
    assert b.min_oom - b.max_ok <= ctx.tolerance_at(b.max_ok)
    ladder_steps = sum(1 for n, how in calls if how == "ladder")
    first_oom = next(n for n in lengths if n > limit)
    gap = first_oom - max(n for n in lengths if n <= limit)
    assert b.probes == len(calls) <= ladder_steps + math.ceil(math.log2(gap / ctx.tolerance_at(b.max_ok)))
    assert b.stop_reason == "out of memory"


def test_fits_everywhere_stops_at_max():
    ctx = ContextConfig(min=256, max=4096, ladder="geometric", factor=2, tolerance=None)
    probe, calls = fake_device(10**9)
    b = search(ctx.lengths(), probe, ctx.tolerance_at)
    assert (b.max_ok, b.min_oom, b.stop_reason) == (4096, None, "reached context.max")
    assert [n for n, _ in calls] == [256, 512, 1024, 2048, 4096]


@pytest.mark.parametrize("status", ["timeout", "crashed", "error", "skipped"])
def test_other_failures_stop_the_phase_without_bisection(status):
    ctx = ContextConfig(min=256, max=4096, ladder="geometric", factor=2, tolerance=None)
    probe, calls = fake_device(600, fail_status=status)
    b = search(ctx.lengths(), probe, ctx.tolerance_at)
    assert b.stop_reason == status and b.failed_at == 1024 and len(calls) == 3


def test_ladder_includes_max_and_explicit_lists():
    assert ContextConfig(100, 1000, "geometric", 2, None).lengths() == [100, 200, 400, 800, 1000]
    assert ContextConfig(100, 1000, [50, 300, 100, 2000], 2, None).lengths() == [100, 300]
    assert ContextConfig(100, 100_000, "geometric", 2, None).tolerance_at(100_000) == 1000
    assert ContextConfig(100, 100_000, "geometric", 2, None).tolerance_at(1000) == 256


@pytest.mark.parametrize("limit,predicted", [(70_000, 68_000), (70_000, 90_000), (5000, 60_000)])
def test_a_predicted_start_skips_the_ladder_above_it_and_still_finds_the_boundary(limit, predicted):
    ctx = ContextConfig(min=256, max=262_144, ladder="geometric", factor=2, tolerance=None, start="predicted")
    probe, calls = fake_device(limit)
    b = search(ctx.lengths(), probe, ctx.tolerance_at, predicted)
    assert b.max_ok <= limit < b.min_oom and b.min_oom - b.max_ok <= ctx.tolerance_at(b.max_ok)
    assert all(n < predicted for n, how in calls if how == "ladder")
    if limit < predicted:  # never more than the plain search: the ladder below, one probe at the prediction
        plain_probe, plain_calls = fake_device(limit)
        assert b.probes <= search(ctx.lengths(), plain_probe, ctx.tolerance_at).probes + 1
    else:  # a prediction just below the boundary: a few steps up instead of the ladder's doublings
        assert sum(1 for _, how in calls if how == "predicted") <= 4


class WarmHeapDriver:
    """A worker whose memory fits `limit` tokens when fresh, but `penalty` tokens fewer once it
    has measured a point (a glibc heap keeping what earlier points freed, under RLIMIT_DATA)."""

    def __init__(self, limit: int, penalty: int):
        self.limit, self.penalty = limit, penalty
        from charsuite.run_records import WorkerInfo

        self.alive, self.served, self.info, self.guard, self.log = False, 0, WorkerInfo(), None, []

    @property
    def fresh(self):
        return not self.alive or self.served == 0

    def ensure(self):
        if not self.alive:
            self.alive, self.served = True, 0

    def request(self, req):
        from charsuite.records import Reply

        context = req.context
        self.ensure()
        fits = self.limit - (self.penalty if self.served else 0)
        self.log.append((context, self.served == 0))
        self.served += 1
        if context > fits:
            self.alive = False  # a CPU worker is retired after an out-of-memory
            return Reply.failed(Status.oom, "MemoryError")
        return Reply(latency_s=1e-3, latency_samples_s=[1e-3])

    def check_guard(self):
        return None

    def retire(self):
        self.alive = False

    kill = retire


@pytest.mark.parametrize("ladder", [[], ["context.ladder=[1024,2048,3072,4096,5120,6144,7168,8192,9216,10240,11264,"
                                          "12288,13312,14336,15360,16384]"]])
def test_one_boundary_whatever_the_path_because_an_oom_counts_only_from_a_fresh_worker(tmp_path, ladder):
    """Geometric + bisection and a linear ladder both reach the fresh worker's boundary
    (10,000 tokens), although a warm worker fails 3,000 tokens earlier."""
    from charsuite.recorder import Recorder
    from charsuite.sweep import Sweep
    from helpers import compose

    run = compose("+model=mamba2", "model.size=tiny", "workload.phases=[prefill]", "context.min=1K",
                  "context.max=16K", "context.tolerance=256", *ladder)
    driver = WarmHeapDriver(limit=10_000, penalty=3_000)
    (row,) = Sweep(run, driver, Recorder(tmp_path, run, params=1)).execute()
    assert row.max_context_ok <= 10_000 < row.min_context_oom
    assert row.min_context_oom - row.max_context_ok <= (1024 if ladder else 256)
    warm_ooms = [i for i, (n, fresh) in enumerate(driver.log) if n > 7_000 and not fresh]
    assert warm_ooms and all(driver.log[i + 1] == (driver.log[i][0], True) for i in warm_ooms)  # retried fresh


class TimingOutDriver(WarmHeapDriver):
    """Every point at or past `slow` times out."""

    def __init__(self, slow: int):
        super().__init__(limit=10**9, penalty=0)
        self.slow = slow

    def request(self, req):
        from charsuite.records import Reply

        context = req.context
        self.log.append((context, self.served == 0))
        self.served += 1
        if context >= self.slow:
            return Reply.failed(Status.timeout, "no answer within 900 s; worker killed")
        return Reply(latency_s=1e-3, latency_samples_s=[1e-3])


@pytest.mark.parametrize("loads,tries", [((4.0, 4.0), 1), ((4.0, 1.0), 2)])
def test_a_timeout_is_tried_again_only_on_a_quieter_machine(tmp_path, monkeypatch, loads, tries):
    # issue 32: a 4K prefill timed out, was retried under the same load, and timed out again: 30 minutes
    from charsuite import sweep as sweep_mod
    from charsuite.recorder import Recorder
    from charsuite.sweep import Sweep
    from helpers import compose

    readings = iter([loads[0], loads[1], loads[1], loads[1], loads[1]])
    monkeypatch.setattr(sweep_mod.os, "getloadavg", lambda: (next(readings, loads[1]), 0.0, 0.0))
    run = compose("+model=mamba2", "model.size=tiny", "workload.phases=[prefill]", "context.min=2K",
                  "context.max=2K")
    driver = TimingOutDriver(slow=2048)
    (row,) = Sweep(run, driver, Recorder(tmp_path, run, params=1)).execute()
    assert row.stop_reason == "timeout at 2048" and len(driver.log) == tries
    from charsuite import results

    point = results.read_points(tmp_path / results.RESULTS)[-1]
    assert point.status.value == "timeout" and ("not retried" in point.error) == (tries == 1)
