"""One error path for every command (charsuite, predict, figures, summary, export, batch,
kernels_profile): bad input is one line and exit 2, a runtime failure one line and exit 1,
an interrupt 130/143, a closed pipe (`... | head`) a quiet exit; never a traceback.

    raise SystemExit(run_command("charsuite.summary", main, argv))
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

BAD_INPUT = 2
RUNTIME_FAILURE = 1


class ConfigError(ValueError):
    """Bad user input; every command prints its message as one line and exits 2."""


class UsageError(ConfigError):
    """Bad input to a side tool (a missing folder, an unknown format): exit 2."""


def one_line(exc: BaseException) -> str:
    """The exception as one line; our own errors speak for themselves, others carry their type."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    own = isinstance(exc, ConfigError) or type(exc).__name__ == "RunFolderError"
    return text if own else f"{type(exc).__name__}: {text}"


def description(doc: str | None) -> str:
    """A module docstring's first paragraph as one line: a command's --help description, whole."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def help_or_version(prog: str, argv: list[str], doc: str | None) -> int | None:
    """--help / -h (the command's docstring: usage first) and --version, the same on every command: 0 once
    printed, None when neither was asked."""
    if any(a in ("--help", "-h") for a in argv):
        print(f"usage: {(doc or prog).strip()}")
        return 0
    if "--version" in argv:
        from charsuite import __version__

        print(f"{prog} (charsuite) {__version__}")
        return 0
    return None


def run_command(prog: str, main: Callable[..., int | None], *args) -> int:
    """Run a command's main; turn whatever escapes it into an exit code and one line."""
    try:
        code = main(*args)
        sys.stdout.flush()
        return int(code or 0)
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, and keep Python from complaining at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ConfigError as exc:
        print(f"{prog}: {one_line(exc)}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - a runtime failure, said in one line
        print(f"{prog}: {one_line(exc)}"[:1000], file=sys.stderr)
        return RUNTIME_FAILURE
