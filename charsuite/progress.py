"""What a researcher sees while a sweep runs: a live line per point (current point,
done/total, elapsed) and a short table at the end. Rich draws it; in a log file
(no terminal) it degrades to one plain line per finished point."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from charsuite.records import Point
from charsuite.units import human_bytes, human_tokens


class Progress:
    def __init__(self, title: str, console: Console | None = None):
        self.console = console or Console(stderr=True, highlight=False)
        self.title = title
        self.total = 0
        self.count = 0
        self.t0 = time.monotonic()
        self.status = None

    def start(self, total_estimate: int) -> None:
        self.total = total_estimate
        self.console.print(f"[bold]{self.title}[/bold]  ({total_estimate} ladder points; bisection adds a few)",
                           soft_wrap=True)
        if self.console.is_terminal:
            self.status = self.console.status("")
            self.status.start()

    def elapsed(self) -> str:
        s = int(time.monotonic() - self.t0)
        return f"{s // 60:d}:{s % 60:02d}"

    def point(self, phase: str, context: int, how: str) -> None:
        if self.status:
            self.status.update(f"{phase} at {human_tokens(context)} tokens ({how}) - "
                               f"{self.count}/{self.total} done - {self.elapsed()} elapsed")

    def done(self, phase: str, context: int, point: Point, resumed: bool) -> None:
        self.count += 1
        self.total = max(self.total, self.count)
        lat = point.latency_s
        detail = f"{lat * 1e3:9.1f} ms" if lat is not None else f"{(point.error or '')[:70]}"
        mem = point.peak_mem_bytes
        mark = " (recorded earlier)" if resumed else ""
        spread = f" +-{point.median_rel_ci:.0%}" if point.median_rel_ci is not None else ""
        noisy = f"  [yellow]NOISY[/yellow]: {point.noise_reason}" if point.noisy else ""
        self.console.print(f"[{self.count}/{self.total} {self.elapsed()}] {phase:15s} {human_tokens(context):>6s} "
                           f"{point.status.value:8s} {detail}{spread:>6s}  {human_bytes(mem) if mem else ''}{mark}{noisy}",
                           soft_wrap=True)

    def stop(self) -> None:
        if self.status:
            self.status.stop()
            self.status = None


def print_table(points: list[Point], summary: list[dict[str, Any]], console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    if not console.is_terminal:  # a log file: wide enough for every column unabbreviated
        console.width = max(console.width, 110)
    table = Table(title="charsuite results", show_lines=False)
    for col in ("phase", "context", "status", "latency", "95% interval", "n", "tokens/s", "peak memory", "noisy"):
        table.add_column(col, justify="right" if col not in ("phase", "status", "noisy") else "left")
    for p in sorted(points, key=lambda r: (r.phase != "prefill", r.phase, r.context)):
        lat, tps, mem = p.latency_s, p.tokens_per_s, p.peak_mem_bytes
        table.add_row(p.phase, human_tokens(p.context), p.status.value,
                      f"{lat * 1e3:.1f} ms" if lat is not None else "-",
                      f"+-{p.median_rel_ci:.1%}" if p.median_rel_ci is not None else "-",
                      str(len(p.latency_samples_s)) if p.latency_samples_s else "-",
                      f"{tps:,.0f}" if tps is not None else "-",
                      human_bytes(mem) if mem else "-",
                      "[yellow]noisy[/yellow]" if p.noisy else "")
    console.print(table)
    noisy = [p for p in points if p.noisy]
    if noisy:
        console.print(f"[yellow]{len(noisy)} of {len(points)} points are noisy[/yellow] (their interval stayed "
                      f"wider than workload.target_rel_ci, or other work wanted the cores); the summary leaves them "
                      f"out of exponents and crossovers. First: {noisy[0].phase} {human_tokens(noisy[0].context)}: "
                      f"{noisy[0].noise_reason}", soft_wrap=True)
    for s in summary:
        ok = human_tokens(s["max_context_ok"]) if s["max_context_ok"] else "none"
        oom = human_tokens(s["min_context_oom"]) if s["min_context_oom"] else "-"
        noisy = f"; {s['noisy_points']} noisy" if s.get("noisy_points") else ""
        console.print(f"{s['phase']}: largest context that ran {ok}; smallest out of memory {oom}; "
                      f"{s['probes']} probes{noisy}; stopped: {s['stop_reason']}", soft_wrap=True)
