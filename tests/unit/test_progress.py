"""progress.py: the estimate of what is left follows each phase's own scaling, and the
per-point line says how long the point took, what is left, and NOISY with the reason."""

import io

import pytest
from rich.console import Console

from charsuite import progress as progress_mod
from charsuite.progress import Progress, remaining_s
from charsuite.records import Point, Status


def test_remaining_time_extends_each_phase_along_its_own_power_law():
    walls = {"prefill": [(256, 1.0), (512, 4.0)], "decode": [(256, 2.0), (512, 2.0)]}  # quadratic; flat
    todo = [("prefill", 1024), ("prefill", 2048), ("decode", 1024)]
    assert remaining_s(walls, todo) == pytest.approx(16.0 + 64.0 + 2.0)
    assert remaining_s({"prefill": [(256, 1.0)]}, todo) is None       # one point: no slope yet
    only_prefill = {"prefill": [(256, 1.0), (512, 2.0)]}               # a phase not yet begun borrows a curve
    assert remaining_s(only_prefill, [("decode", 1024)]) == pytest.approx(4.0)


def test_each_finished_point_says_its_time_the_estimate_and_why_it_is_noisy(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: now[0])
    out = io.StringIO()
    prog = Progress("run", Console(file=out, width=200))
    prog.start(3, [("prefill", 256), ("prefill", 512), ("prefill", 1024)])
    base = dict(model="m", size="s", family="ssm", device="cpu", dtype="float32", batch=1, phase="prefill",
                status=Status.ok, latency_s=0.5, median_rel_ci=0.02)
    prog.point("prefill", 256, "ladder")
    now[0] = 2.0
    assert "prefill at 256 tokens (ladder) for 0:02 - 0/3 done - 0:02 elapsed" in prog.__rich__()  # the clocks tick
    prog.done("prefill", 256, Point(**base, context=256), resumed=False)
    prog.point("prefill", 512, "ladder")
    now[0] = 10.0
    prog.done("prefill", 512, Point(**base, context=512, noisy=True, noise_reason="contention: test"), resumed=False)
    text = out.getvalue()
    assert "took 2.0 s, estimating time left" in text
    assert "took 8.0 s, ~0:32 left" in text        # 2 s at 256, 8 s at 512: quadratic, so 32 s at 1K
    assert "NOISY: contention: test" in text and "+-2%" in text


def test_a_failed_point_does_not_bend_the_estimate(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: now[0])
    out = io.StringIO()
    prog = Progress("run", Console(file=out, width=200))
    prog.start(4, [("prefill", 256), ("prefill", 512), ("prefill", 1024), ("prefill", 2048)])
    base = dict(model="m", size="s", family="ssm", device="cpu", dtype="float32", batch=1, phase="prefill")
    for n, t, status in ((256, 2.0, Status.ok), (512, 10.0, Status.ok), (1024, 110.0, Status.oom)):
        prog.point("prefill", n, "ladder")
        now[0] = t
        prog.done("prefill", n, Point(**base, context=n, status=status, latency_s=0.5 if status is Status.ok else None),
                  resumed=False)
    # the out-of-memory point took 100 s of worker restarts; 2048 is still 8 s x 4^2 from the ok points
    assert "took 100.0 s, ~2:08 left" in out.getvalue()


def test_profile_points_are_announced_and_counted_in_the_total():
    out = io.StringIO()
    prog = Progress("run", Console(file=out, width=200))
    prog.start(2, [("prefill", 256), ("prefill", 512)], [("profile:prefill", 256)])
    base = dict(model="m", size="s", family="ssm", device="cpu", dtype="float32", batch=1, status=Status.ok,
                latency_s=0.5)
    prog.done("prefill", 256, Point(**base, phase="prefill", context=256), resumed=False)
    prog.done("prefill", 512, Point(**base, phase="prefill", context=512), resumed=False)
    prog.done("profile:prefill", 256, Point(**base, phase="profile", profiled_phase="prefill", context=256), False)
    text = out.getvalue()
    assert "(2 ladder points and 1 profiled;" in text  # issue 33: once announced 10, then counted 11/11 ... 14/14
    assert "[1/3 " in text and "[3/3 " in text


def test_the_estimate_moves_during_a_long_point(monkeypatch):
    # issue 32: the estimate once froze at "~1:09:58 left" for 28 minutes of one point
    now = [0.0]
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: now[0])
    prog = Progress("run", Console(file=io.StringIO(), width=200))
    prog.start(4, [("prefill", 256), ("prefill", 512), ("prefill", 1024), ("prefill", 2048)])
    base = dict(model="m", size="s", family="ssm", device="cpu", dtype="float32", batch=1, phase="prefill",
                status=Status.ok, latency_s=0.5)
    for n, t in ((256, 2.0), (512, 10.0)):  # 2 s, then 8 s: quadratic
        prog.point("prefill", n, "ladder")
        now[0] = t
        prog.done("prefill", n, Point(**base, context=n), resumed=False)
    prog.point("prefill", 1024, "ladder")  # 32 s expected, then 128 s for 2048
    assert "~2:40 left" in prog.__rich__()
    now[0] = 10.0 + 16
    assert "~2:24 left" in prog.__rich__()   # counts down within the point
    now[0] = 10.0 + 64
    assert "~4:16 left" in prog.__rich__()   # twice its estimate: the 2048 point is scaled up too


def test_a_plan_of_hours_says_so_after_its_first_point_with_the_quicker_answer(monkeypatch):
    # issue 32: the mission's command on a CPU planned 22 points (~84 hours) with no word that predict answers
    now = [0.0]
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: now[0])
    out = io.StringIO()
    prog = Progress("run", Console(file=out, width=300), quicker="python -m charsuite.predict +model=mamba2")
    lengths = [256 * 2**i for i in range(10)]  # 256 .. 128K
    prog.start(len(lengths), [("prefill", n) for n in lengths])
    prog.point("prefill", 256, "ladder")
    now[0] = 10.0  # 10 s at 256 tokens: 128K alone is 5,120 s even growing linearly
    base = dict(model="m", size="s", family="ssm", device="cpu", dtype="float32", batch=1, phase="prefill",
                status=Status.ok, latency_s=2.0)
    prog.done("prefill", 256, Point(**base, context=256), resumed=False)
    text = out.getvalue()
    assert "this plan takes at least ~2:50:20 here" in text  # 10 s x (2 + 4 + ... + 512)
    assert "python -m charsuite.predict +model=mamba2" in text
    quick = Progress("run", Console(file=io.StringIO(), width=300), quicker="x")
    quick.start(2, [("prefill", 256), ("prefill", 512)])
    quick.done("prefill", 256, Point(**base, context=256), resumed=False)
    assert not quick.warned  # a short plan says nothing more
