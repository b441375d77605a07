"""Compilations are counted per call from dynamo's own counters (issue 33): a new shape in the
timed calls is a recompile the point must own up to. torch.compile with the eager backend: real
dynamo frames, no C++ build."""

import torch

from charsuite import compiles
from charsuite.measure import repeat


def test_each_recompile_is_counted_on_the_call_that_made_it():
    torch._dynamo.reset()
    f = torch.compile(lambda x: (x * 2).sin().sum(), backend="eager", dynamic=False)
    shapes = iter([4, 4, 4, 5, 5, 6])
    start = compiles.count()
    each = compiles.PerCall()
    samples, _, _ = repeat(lambda: f(torch.randn(next(shapes))), torch.device("cpu"), warmup=2, repeats=4,
                           on_step=each)
    assert len(samples) == 4 and each.frames[:3] == [1, 0, 0]  # compiled on the first warm-up call only
    assert sum(each.frames[2:]) >= 2  # shapes 5 and 6 recompiled during the timed calls
    total = compiles.count() - start
    assert total.frames == sum(each.frames) and total.seconds > 0
