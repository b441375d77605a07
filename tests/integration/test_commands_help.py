"""Every command answers --help (usage, exit 0) and --version (charsuite's version, exit 0) the same way,
fast: once predict's --help exited 2 after 15 s, batch's was one line, doctor's "unknown argument" and
charsuite's --version printed Hydra's (issue 32)."""

import pytest

from charsuite import __version__
from helpers import load_factor, run_cli

COMMANDS = ["charsuite", "charsuite.predict", "charsuite.batch", "charsuite.doctor", "charsuite.export",
            "charsuite.summary", "charsuite.figures", "kernels_profile", "charsuite.calibrate", "charsuite.claims"]


@pytest.mark.parametrize("module", COMMANDS)
def test_help_and_version(module):
    helped = run_cli("--help", module=module, timeout=300)
    assert helped.returncode == 0 and "usage" in helped.stdout.lower() and "Traceback" not in helped.stderr
    version = run_cli("--version", module=module, timeout=300)
    assert version.returncode == 0 and __version__ in version.stdout and "Hydra" not in version.stdout


def test_one_charsuite_command_dispatches_to_every_subcommand():
    # issue 27: three command grammars and eight module paths; one `charsuite` console command now
    from charsuite.command import COMMANDS

    listed = run_cli("--help", module="charsuite.command", timeout=120 * load_factor())
    assert listed.returncode == 0 and all(name in listed.stdout for name in COMMANDS)
    for name in ("predict", "doctor", "run"):
        helped = run_cli(name, "--help", module="charsuite.command", timeout=300 * load_factor())
        assert helped.returncode == 0 and "usage" in helped.stdout.lower(), (name, helped.stderr[-500:])
    wrong = run_cli("sweep", module="charsuite.command", timeout=60 * load_factor())
    lines = wrong.stderr.strip().splitlines()
    assert wrong.returncode == 2 and len(lines) == 1 and "unknown subcommand" in lines[0]
