"""One calibrate measurement: a rate from timed repeats after a warm-up, with the interval of its median and the
noise verdict every measured point carries (noise.assess) - shared by calibrate's roofline, shape grids and host
costs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from charsuite.measure import timed
from charsuite.noise import assess
from charsuite.trackers.load import LoadTracker

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
TARGET_REL_CI = 0.05


def measured(fn: Callable[[], Any], device: torch.device, work: float, repeats: int) -> dict[str, Any]:
    """`work` units per second over `repeats` timed calls after one warm-up: the median rate, the interval of
    the median seconds, and the noise verdict of the calls (load, spread)."""
    timed(fn, device)
    with LoadTracker().track() as load:
        samples = [timed(fn, device)[0] for _ in range(repeats)]
    noise = assess(samples, load, None, TARGET_REL_CI, torch.get_num_threads() if device.type == "cpu" else 1)
    median = sorted(samples)[len(samples) // 2]
    return {"value": work / median, "seconds": median, "median_ci_s": noise.median_ci_s, "repeats": repeats,
            "noisy": noise.noisy, "noise_reason": noise.noise_reason, "load_avg": noise.load_avg}
