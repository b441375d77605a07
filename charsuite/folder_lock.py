"""One driver per run folder: an exclusive flock on the folder itself, held for as long as the
driver's process lives (the kernel releases it however the process ends)."""

from __future__ import annotations

import os
from pathlib import Path


class RunFolderBusy(RuntimeError):
    """Another driver holds the run folder."""


class _Held:
    """A held run folder: the flock on the folder itself, and the .lock file naming the holder."""

    def __init__(self, fd: int, note):
        self.fd, self.note = fd, note

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the flock
            self.fd = -1
        self.note.close()


def lock(run_dir: Path) -> _Held:
    """Hold the run folder for this process: an exclusive flock on the folder itself (so that
    removing a file cannot step around it: deleting .lock once let a second driver in), released
    by the kernel when the process ends however it ends. .lock names the holder's pid for the
    message. Raises RunFolderBusy naming it. Returns the hold (keep it referenced; close() frees it)."""
    import fcntl

    fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        try:
            holder = (run_dir / ".lock").read_text().strip() or "unknown"
        except OSError:
            holder = "unknown"
        raise RunFolderBusy(f"run folder {run_dir} is in use by another charsuite driver (pid {holder}); "
                            "wait for it or pass hydra.run.dir=ANOTHER_FOLDER") from None
    try:
        note = open(run_dir / ".lock", "w")
    except OSError:
        os.close(fd)
        raise
    note.write(str(os.getpid()))
    note.flush()
    return _Held(fd, note)
