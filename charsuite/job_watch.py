"""A batch's progress while a launcher waits on its jobs: hydra-submitit-launcher collects them one
after the other, so a Slurm batch once showed nothing until every job had ended."""

from __future__ import annotations

import sys
import time
from typing import Any


class JobWatch:
    """A line as each job of a batch ends, while the launcher waits on them one after the other (it
    would otherwise say nothing until the last one had ended): polled from a thread every `every_s`."""

    def __init__(self, jobs: list[Any], overrides: list[list[str]], every_s: float = 10.0, file=None):
        import threading

        self.jobs, self.overrides, self.every_s = jobs, overrides, every_s
        self.file = file or sys.stderr
        self.reported: set[int] = set()
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="charsuite-job-watch", daemon=True)

    def poll_once(self) -> list[str]:
        lines = []
        for i, (job, overrides) in enumerate(zip(self.jobs, self.overrides)):
            if i in self.reported:
                continue
            try:
                if not job.done():
                    continue
                state = str(job.state or "ended").split()[0]
            except Exception:  # noqa: BLE001 - the scheduler did not answer this time: ask again next poll
                continue
            self.reported.add(i)
            elapsed = int(time.monotonic() - self.t0)
            lines.append(f"charsuite: job {job.job_id} ({' '.join(overrides)}) ended {state} "
                         f"[{len(self.reported)}/{len(self.jobs)} ended, {elapsed // 60}:{elapsed % 60:02d} elapsed]")
        for line in lines:
            print(line, file=self.file, flush=True)
        return lines

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.poll_once()

    def start(self) -> JobWatch:
        print(f"charsuite: {len(self.jobs)} job(s) submitted; a line as each one ends", file=self.file, flush=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.poll_once()  # the last ones, ended while the launcher collected them
