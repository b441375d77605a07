#!/usr/bin/env bash
# The fused SSM kernels (mamba-ssm 2.3.2.post1, causal-conv1d 1.7.0) built from source for THIS machine's GPU
# only: route 1 of the kernels' install (docs/install.md), for offline boxes and Jetsons (JetPack's own torch, aarch64).
#
#   bash scripts/install_kernels.sh [FOLDER]     FOLDER: where their sdists are (scripts/gpu_check.sh prep puts
#                                                them in .gpu_wheels); without one pip fetches them
#
# What a plain `pip install mamba-ssm causal-conv1d` gets wrong, and what this does instead:
# - their setup.py imports torch, so an isolated build pulls the newest torch (ABI mismatch): --no-build-isolation;
# - offline, setup.py's attempt to download a prebuilt wheel is an uncaught URLError: *_FORCE_BUILD=TRUE;
# - they compile for ~9 architectures (sm_75 .. sm_121; ~30 minutes for mamba-ssm): the gencode list of each
#   setup.py is cut to the local GPU's (TORCH_CUDA_ARCH_LIST, else torch.cuda.get_device_capability());
# - both hard-code -std=c++17, which torch >= 2.14's headers refuse: raised to c++20 there.
# MAX_JOBS (default: half the cores) bounds nvcc's parallel jobs. Prints the time each package took.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
FOLDER=${1:-}
"$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null || {
  echo "install_kernels: no CUDA GPU for torch here; the kernels are CUDA code (the dry-run needs none of them)" >&2
  exit 2; }
command -v nvcc >/dev/null 2>&1 || { echo "install_kernels: no nvcc (CUDA's compiler) on PATH" >&2; exit 2; }
ARCH=${TORCH_CUDA_ARCH_LIST:-$("$PY" -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")}
export TORCH_CUDA_ARCH_LIST=$ARCH MAMBA_FORCE_BUILD=TRUE CAUSAL_CONV1D_FORCE_BUILD=TRUE
export MAX_JOBS=${MAX_JOBS:-$(( ($(nproc) + 1) / 2 ))}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for spec in causal-conv1d==1.7.0 mamba-ssm==2.3.2.post1; do
  name=${spec%%==*}
  if [ -n "$FOLDER" ]; then
    sdist=$(ls "$FOLDER"/"${name//-/_}"-*.tar.gz 2>/dev/null | head -n 1)
  else
    "$PY" -m pip download -q --no-deps --no-binary=:all: --no-build-isolation -d "$WORK" "$spec"
    sdist=$(ls "$WORK"/"${name//-/_}"-*.tar.gz | head -n 1)
  fi
  [ -n "${sdist:-}" ] || { echo "install_kernels: no sdist of $name in ${FOLDER:-the registry}" >&2; exit 2; }
  tar -xzf "$sdist" -C "$WORK"
  src=$(ls -d "$WORK"/"${name//-/_}"-*/ | head -n 1)
  "$PY" scripts/narrow_kernel_arch.py "$src/setup.py" "$ARCH"
  t0=$(date +%s)
  "$PY" -m pip install -q --no-deps --no-build-isolation --no-index "$src"
  echo "install_kernels: $name built for sm_${ARCH/./} in $(( $(date +%s) - t0 )) s (MAX_JOBS=$MAX_JOBS)"
done
"$PY" -c "import causal_conv1d_cuda, selective_scan_cuda; print('install_kernels: both extensions import')"
