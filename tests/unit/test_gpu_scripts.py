"""The GPU window, prepared (issue 28): the kernels' setup.py cut to one architecture, the newer-release check,
and scripts that refuse cleanly on a machine without a GPU."""

from __future__ import annotations

import importlib.util
import os
import subprocess

import pytest
import torch

from helpers import REPO, load_factor

SETUP = '''
cc_flag = []
if True:
    cc_flag.append("-gencode")
    cc_flag.append("arch=compute_75,code=sm_75")
    cc_flag.append("-gencode")
    cc_flag.append("arch=compute_90,code=sm_90")
    if bare_metal_version >= Version("12.8"):
        cc_flag.append("-gencode")
        cc_flag.append("arch=compute_100,code=sm_100")
extra = {"cxx": ["-O3", "-std=c++17"]}
'''


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_kernels_setup_is_cut_to_the_local_arch_and_still_parses():
    narrow = _script("narrow_kernel_arch")
    text, n = narrow.narrowed(SETUP, "9.0", "2.13.0")
    assert n == 3 and "sm_90" in text and "sm_75" not in text and "sm_100" not in text and "c++17" in text
    newer, _ = narrow.narrowed(SETUP, "8.9", "2.14.1")  # an arch the list lacks is added; c++20 for torch 2.14
    assert 'cc_flag = ["-gencode", "arch=compute_89,code=sm_89"]' in newer and "sm_90" not in newer
    assert "-std=c++20" in newer and "c++17" not in newer


def test_the_newer_release_check_says_which_pins_are_behind():
    check = _script("newer_releases")
    tested = check.pinned("# header\ntransformers==5.24.0\nplotly==7.1.0\nhydra_core==1.3.8 ; python_version>'3'\n")
    assert tested == {"transformers": "5.24.0", "plotly": "7.1.0", "hydra-core": "1.3.8"}
    lines = check.report({**tested, "torch": "2.13.0"}, {"transformers": "5.25.0", "plotly": "7.1.0",
                                                          "torch": "2.13.0+cpu", "hydra-core": None})
    by = {ln.split(":")[0]: ln for ln in lines}
    assert "newer release 5.25.0" in by["transformers"] and "the newest" in by["plotly"]
    assert "the newest" in by["torch"] and "did not answer" in by["hydra-core"]
    pins = check.pinned((REPO / "scripts" / "constraints.txt").read_text())
    assert "transformers" in pins and "torch" not in pins  # README installs torch; a GPU box keeps its own


@pytest.mark.parametrize("script,args", [("gpu_check.sh", ["device"]), ("install_kernels.sh", [])])
def test_the_gpu_scripts_refuse_in_one_line_without_a_gpu(script, args):
    r = subprocess.run(["bash", str(REPO / "scripts" / script), *args], capture_output=True, text=True,
                       timeout=120 * load_factor(), cwd=REPO)
    if torch.cuda.is_available():  # on a GPU box they run for real: only the usage error is checked here
        r = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), "neither"], capture_output=True,
                           text=True, timeout=60 * load_factor())
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1, r.stderr


@pytest.mark.slow
def test_prep_fills_a_wheel_folder_under_60_mib_with_the_pinned_versions(tmp_path):
    folder = tmp_path / "wheels"
    r = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), "prep"], capture_output=True, text=True,
                       timeout=600 * load_factor(), cwd=REPO, env={**os.environ, "GPU_WHEELS": str(folder)})
    assert r.returncode == 0, r.stderr[-2000:]
    files = sorted(p.name for p in folder.iterdir())
    pinned = _script("newer_releases").pinned((REPO / "scripts" / "constraints.txt").read_text())
    assert "transformers-5.24.0-py3-none-any.whl" in files  # the newest tested whose needs the GPU image meets
    assert f"hydra_core-{pinned['hydra-core']}-py3-none-any.whl" in files
    assert any(f.startswith("mamba_ssm-") for f in files) and any(f.startswith("antlr4") for f in files)
    assert sum(p.stat().st_size for p in folder.iterdir()) < 60 * 2**20
