"""What a researcher sees while a sweep runs: a live line (the point running and its own
clock, done/total, elapsed, an estimate of what is left) re-rendered twice a second, a
line per finished point (its time, the estimate, NOISY and why), and a table at the end.
Rich draws it; in a log file (no terminal) only the per-point lines are written."""

from __future__ import annotations

import time

from rich import box
from rich.console import Console
from rich.table import Table

from charsuite.phase_summary import PhaseSummary
from charsuite.point_view import BY_NAME, RUN_TABLE, cells, in_order
from charsuite.records import Point, Status
from charsuite.units import human_tokens


def remaining_s(walls: dict[str, list[tuple[int, float]]], todo: list[tuple[str, int]]) -> float | None:
    """Seconds the points still to run should take: each phase's wall times so far, extended
    along its own fitted power law (exponent kept within 0..3); a phase with no point yet
    borrows the curve of the last phase measured. None until two points have run."""
    from charsuite.analysis.scaling import fit_exponent

    curves = {}
    for phase, pts in walls.items():
        if len(pts) >= 2:
            e = fit_exponent([c for c, _ in pts], [t for _, t in pts])
            curves[phase] = (pts[-1], min(3.0, max(0.0, e if e is not None else 1.0)))
    if not curves:
        return None
    fallback = list(curves.values())[-1]
    total = 0.0
    for phase, n in todo:
        (c0, t0), e = curves.get(phase, fallback)
        total += t0 * (n / c0) ** e
    return total


def clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:d}:{s % 60:02d}"


LONG_PLAN_S = 3600  # a plan estimated past this gets one line saying so, and where a quicker answer is


class Progress:
    def __init__(self, title: str, console: Console | None = None, quicker: str | None = None):
        self.console = console or Console(stderr=True, highlight=False)
        self.title = title
        self.quicker = quicker  # the command that answers the memory question at once (predict)
        self.warned = False
        self.total = 0
        self.count = 0
        self.t0 = time.monotonic()
        self.status = None
        self.current: tuple[str, int, str, float] | None = None  # phase, context, how, started
        self.walls: dict[str, list[tuple[int, float]]] = {}       # phase -> (context, seconds) measured here
        self.todo: list[tuple[str, int]] = []                     # ladder points not yet done

    def start(self, total_estimate: int, plan: list[tuple[str, int]] | None = None,
              profiled: list[tuple[str, int]] | None = None) -> None:
        """`plan`: the ladder's (phase, length) points; `profiled`: the profile points run after them."""
        self.total = total_estimate + len(profiled or [])
        self.todo = list(plan or [])
        extra = f" and {len(profiled)} profiled" if profiled else ""
        self.console.print(f"[bold]{self.title}[/bold]  ({total_estimate} ladder points{extra}; bisection adds a "
                           "few)", soft_wrap=True)
        if self.console.is_terminal:
            self.status = self.console.status(self, refresh_per_second=2)  # re-rendered: the clocks tick
            self.status.start()

    def elapsed(self) -> str:
        return clock(time.monotonic() - self.t0)

    def left(self) -> str:
        """What is left: each phase's fitted growth, and within the point running now its own clock - the
        point's share counts down, and once it runs longer than its estimate, the points after it are
        scaled up by the same factor (the growth was steeper than fitted), so the estimate never freezes."""
        eta = remaining_s(self.walls, self.todo)
        if eta is None:
            return "estimating time left"
        if self.current is not None and tuple(self.current[:2]) in self.todo:
            this = remaining_s(self.walls, [tuple(self.current[:2])]) or 0.0
            spent = time.monotonic() - self.current[3]
            rest = eta - this
            eta = rest * (spent / this) if this and spent > this else rest + (this - spent)
        return f"~{clock(eta)} left (ladder, from the points so far)"

    def __rich__(self) -> str:
        """The live line: the point running, for how long, what is done, and what is left."""
        if self.current is None:
            return f"{self.count}/{self.total} done - {self.elapsed()} elapsed"
        phase, context, how, started = self.current
        return (f"{phase} at {human_tokens(context)} tokens ({how}) for {clock(time.monotonic() - started)} - "
                f"{self.count}/{self.total} done - {self.elapsed()} elapsed - {self.left()}")

    def point(self, phase: str, context: int, how: str) -> None:
        started = self.current[3] if self.current and self.current[:2] == (phase, context) else time.monotonic()
        self.current = (phase, context, how, started)

    def done(self, phase: str, context: int, point: Point, resumed: bool) -> None:
        self.count += 1
        self.total = max(self.total, self.count)
        if (phase, context) in self.todo:
            self.todo.remove((phase, context))
        took = ""
        if not resumed and self.current is not None and self.current[:2] == (phase, context):
            seconds = time.monotonic() - self.current[3]
            if point.status is Status.ok:  # a failed point's wall is worker restarts, not the phase's scaling
                self.walls.setdefault(phase, []).append((context, seconds))
                self.warn_if_long(phase, context, seconds)
            took = f"  took {seconds:.1f} s, {self.left()}"
        self.current = None
        # the run table's cells (point_view.py), the error where there is no latency
        phase_, ctx, status, lat, mem = (BY_NAME[c].cell(point) for c in ("phase", "context", "status", "latency",
                                                                          "peak mem"))
        detail = f"{lat:>9s}" if point.latency_s is not None else f"{(point.error or '')[:70]}"
        spread = f" +-{point.median_rel_ci:.0%}" if point.median_rel_ci is not None else ""
        mark = " (recorded earlier)" if resumed else ""
        noisy = f"  [yellow]NOISY[/yellow]: {point.noise_reason}" if point.noisy else ""
        self.console.print(f"[{self.count}/{self.total} {self.elapsed()}] {phase_:15s} {ctx:>6s} {status:8s} {detail}"
                           f"{spread:>6s}  {mem if point.peak_mem_bytes else ''}{mark}{took}{noisy}", soft_wrap=True)

    def warn_if_long(self, phase: str, context: int, seconds: float) -> None:
        """After the first measured point: the plan's least time, its points growing at least linearly
        from this one (a Transformer's prefill grows faster); said once, when it passes LONG_PLAN_S."""
        if self.warned:
            return
        least = sum(seconds * n / context for p, n in self.todo if p == phase and n > context)
        least += sum(seconds * n / context for p, n in self.todo if p != phase and not p.startswith("profile"))
        if least > LONG_PLAN_S:
            self.warned = True
            self.console.print(f"[yellow]this plan takes at least ~{clock(least)} here[/yellow] ({len(self.todo)} "
                               "points left, growing at least linearly from the first)"
                               + (f"; the memory question is answered in seconds by `{self.quicker}`"
                                  if self.quicker else ""), soft_wrap=True)

    def stop(self) -> None:
        if self.status:
            self.status.stop()
            self.status = None




def print_table(points: list[Point], summary: list[PhaseSummary], console: Console | None = None) -> None:
    """The run's table (point_view.RUN_TABLE's columns), its noisy points, and how each phase's search ended."""
    console = console or Console(highlight=False)
    if not console.is_terminal:  # a log file: wide enough for every column unabbreviated
        console.width = max(console.width, 110)
    rows = [cells(p, RUN_TABLE) for p in in_order(points)]
    table = Table(title="charsuite results", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    for i, col in enumerate(RUN_TABLE):
        # no column narrower than its longest word: a narrow terminal wraps cells at spaces, never cuts a number
        width = max(len(word) for cell in [col.name, *(r[i] for r in rows)] for word in cell.split() or [""])
        table.add_column(col.name, justify="left" if col.left else "right", min_width=width, overflow="fold")
    for r in rows:
        table.add_row(*r[:-1], f"[yellow]{r[-1]}[/yellow]" if r[-1] else "")
    console.print(table)
    noisy = [p for p in points if p.noisy]
    if noisy:
        console.print(f"[yellow]{len(noisy)} of {len(points)} points are noisy[/yellow] (their interval stayed "
                      f"wider than workload.target_rel_ci, or other work wanted the cores); the summary leaves them "
                      f"out of exponents and crossovers; remeasure=noisy measures them again once the machine is "
                      f"quieter. First: {noisy[0].phase} {human_tokens(noisy[0].context)}: {noisy[0].noise_reason}",
                      soft_wrap=True)
    for s in summary:
        ok = human_tokens(s.max_context_ok) if s.max_context_ok else "none"
        oom = human_tokens(s.min_context_oom) if s.min_context_oom else "-"
        noisy = f"; {s.noisy_points} noisy" if s.noisy_points else ""
        console.print(f"{s.phase}: largest context that ran {ok}; smallest out of memory {oom}; "
                      f"{s.probes} probes{noisy}; stopped: {s.stop_reason}", soft_wrap=True)
