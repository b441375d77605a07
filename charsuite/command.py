"""One `charsuite` command for everything (pyproject's [project.scripts]): `charsuite SUBCOMMAND ...`, each the
same as the `python -m` form beside it, which keeps working. Arguments after the subcommand go to it unchanged:
Hydra overrides for run and batch (predict takes the same `key=value` grammar), options for the rest."""

from __future__ import annotations

import importlib
import sys

# subcommand: (module whose main() runs it, what it does)
COMMANDS = {
    "run": ("charsuite.__main__", "a sweep of one model (python -m charsuite; -m for several)"),
    "batch": ("charsuite.batch", "an experiment's jobs, locally or on Slurm (python -m charsuite.batch)"),
    "predict": ("charsuite.predict", "memory at each length and the largest context, from a dry-run, any device"),
    "summary": ("charsuite.summary", "the tables of one or more run folders"),
    "claims": ("charsuite.claims", "the reference study's claims beside charsuite's numbers, measured or simulated"),
    "figures": ("charsuite.figures.__main__", "the paper's figures and report.html from run folders"),
    "export": ("charsuite.export", "results as CSV, Parquet, JSON lines or a markdown table"),
    "profile": ("kernels_profile.__main__", "attribute a torch.profiler trace to kernel categories"),
    "doctor": ("charsuite.doctor", "what this machine can measure"),
    "calibrate": ("charsuite.calibrate", "this machine's roofline: bandwidth, matmul rates, dispatch cost"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name.ljust(width)}  {what}" for name, (_, what) in COMMANDS.items())
    return (f"usage: charsuite SUBCOMMAND [ARGS ...]   (charsuite SUBCOMMAND --help for its own)\n\n{rows}\n\n"
            "e.g. charsuite run +model=mamba2 context.max=220000 | charsuite predict +model=mamba2 device=rtx4090")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from charsuite import __version__

        print(f"charsuite {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"charsuite: unknown subcommand {name!r}; choose one of: {', '.join(COMMANDS)} "
              "(a run's overrides go after `run`)", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    if name == "run":  # Hydra reads sys.argv itself
        sys.argv = [sys.argv[0], *rest]
        module.main()
        return 0
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
