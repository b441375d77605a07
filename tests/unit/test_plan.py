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
