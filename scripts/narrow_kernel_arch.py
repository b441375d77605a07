"""Cut a kernel package's setup.py (mamba-ssm 2.3.2.post1, causal-conv1d 1.7.0) to one GPU architecture, and to
C++20 where torch's headers need it (scripts/install_kernels.sh).

Both files append a fixed `-gencode` list (sm_75 .. sm_121, ~9 architectures, ~30 minutes for mamba-ssm) that
TORCH_CUDA_ARCH_LIST does not shorten; both hard-code `-std=c++17`, which torch >= 2.14 refuses.

    python scripts/narrow_kernel_arch.py SETUP_PY ARCH [TORCH_VERSION]     ARCH: 9.0, 8.9, 8.7 ...
"""

from __future__ import annotations

import re
import sys

# each gencode pair: `cc_flag.append("-gencode")` then `cc_flag.append("arch=compute_NN,code=sm_NN")`
PAIR = re.compile(r'(\n(\s*)cc_flag\.append\("-gencode"\)\n\s*cc_flag\.append\("(arch=compute_\w+,code=sm_\w+)"\))')


def narrowed(text: str, arch: str, torch_version: str) -> tuple[str, int]:
    """(the setup.py building for `arch` only, how many gencode pairs it had). A dropped pair leaves `pass`
    (an `if` of the CUDA version may hold nothing else); an arch the file does not list is added."""
    sm = arch.replace(".", "").split(";")[0].split()[0]
    keep = f"arch=compute_{sm},code=sm_{sm}"
    text, n = PAIR.subn(lambda m: m.group(1) if m.group(3) == keep else f"\n{m.group(2)}pass", text)
    if keep not in text:
        text = text.replace("cc_flag = []", f'cc_flag = ["-gencode", "{keep}"]', 1)
    major, minor = (int(x) for x in re.findall(r"\d+", torch_version)[:2])
    if (major, minor) >= (2, 14):
        text = text.replace("-std=c++17", "-std=c++20")
    compile(text, "setup.py", "exec")
    return text, n


def main() -> int:
    path, arch = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 3:
        version = sys.argv[3]
    else:
        import torch

        version = torch.__version__
    with open(path) as f:
        text, n = narrowed(f.read(), arch, version)
    with open(path, "w") as f:
        f.write(text)
    print(f"narrow_kernel_arch: {path}: gencode for sm_{arch.replace('.', '')} only ({n} pairs read)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
