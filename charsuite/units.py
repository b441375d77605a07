"""Human numbers for tables and figures: 8K, 128K, 1.5 GiB."""

from __future__ import annotations


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
