"""`python -m charsuite +model=FAMILY ...`: validate the command line, then hand it to Hydra."""

from __future__ import annotations

import sys

import hydra

from charsuite.cli import check_argv, hydra_argv
from charsuite.config import CONF_DIR


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_main(cfg) -> None:
    from charsuite.app import main_job

    main_job(cfg)


def main() -> None:
    if "--version" in sys.argv[1:]:  # charsuite's own, not Hydra's
        from charsuite import __version__

        print(f"charsuite {__version__}")
        return
    check_argv(sys.argv[1:])
    sys.argv[1:] = hydra_argv(sys.argv[1:])
    from charsuite import scheduler

    scheduler.install()  # a job the scheduler ends without a result is a failed entry, not a traceback
    _hydra_main()
    from charsuite import batch

    if batch.LAST_FAILED and batch.LAST_FAILED[-1]:
        raise SystemExit(1)  # a batch with a failed job is not a success


if __name__ == "__main__":
    main()
