"""Token counts and bytes, both ways: human numbers for tables and figures (8K, 128K,
1.5 GiB), and token counts parsed from what users type (4096, 8K, 1M)."""

from __future__ import annotations

import re
from typing import Any

from charsuite.errors import ConfigError


def human_tokens(n: int | None) -> str:
    if n is None:
        return "-"
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f}M".replace(".0M", "M")
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}K"
    if n >= 10_000:
        return f"{n / 1024:.1f}K"
    return str(n)


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# The longest context charsuite takes (64M tokens): longer than any model's window, and the
# largest for which an L x L attention score of up to 128 heads still has a byte size in int64
# (2e18 tokens once ran into a dry-run's RuntimeError).
MAX_TOKENS = 2**26

def human_seconds(s: float | None) -> str:
    """A latency in the unit a reader takes in at a glance: 412 us, 18.4 ms, 2.31 s, 165 s."""
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s" if s < 100 else f"{s:.0f} s"


_SUFFIX = re.compile(r"^\s*(\d+)\s*([kKmM]?)\s*$")


def parse_length(value: Any, key: str) -> int:
    """A positive token count: an int, or a string like '8K' (x1024) or '1M'."""
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be a positive integer number of tokens, got {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer():
        n = int(value)
    elif isinstance(value, str) and _SUFFIX.match(value):
        digits, suffix = _SUFFIX.match(value).groups()
        n = int(digits) * {"": 1, "k": 1024, "m": 1024**2}[suffix.lower()]
    else:
        raise ConfigError(f"{key} must be a positive integer number of tokens (e.g. 4096 or 8K), got {value!r}")
    if n <= 0:
        raise ConfigError(f"{key} must be a positive integer number of tokens, got {value!r}")
    if n > MAX_TOKENS:
        raise ConfigError(f"{key} {value!r} is more tokens than a tensor length can hold here "
                          f"(at most {MAX_TOKENS:,} = 64M)")
    return n


def confidence(coverage: float | None) -> str:
    """An interval's confidence as printed beside it: "95%" from six samples on, "75%" from three."""
    return "-" if coverage is None else f"{coverage:.0%}"


def confidence_range(coverages) -> str:
    """The confidence a set of intervals really has, for a caption or a header: "97%" when all
    share it, "75-97%" when sample counts differ (a median's interval is 95% only from six samples)."""
    vals = sorted({round(float(c), 2) for c in coverages if c is not None and c == c})
    if not vals:
        return "unknown-confidence"
    lo, hi = confidence(vals[0]), confidence(vals[-1])
    return lo if lo == hi else f"{lo.rstrip('%')}-{hi}"
