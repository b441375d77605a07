#!/usr/bin/env bash
# The first thing to run on a GPU box (issue 28): two parts.
#
#   bash scripts/gpu_check.sh prep      any machine with a package registry: fills .gpu_wheels/ (git-ignored,
#                                       under 60 MiB) with what a bare GPU image lacks (the image of this project's
#                                       GPU machines has torch 2.11, transformers 5.17, Python 3.12, no registry)
#   bash scripts/gpu_check.sh device    on the GPU box, from the repository root, at most ~9.5 minutes of wall
#                                       time: install from .gpu_wheels, doctor, the gpu tests, the kernels' source
#                                       build for this GPU's arch only (background, timed), dry-run vs measured
#                                       peak for an SSM, a hybrid and a Transformer, a real boundary search for
#                                       Mamba2-780M and Qwen2.5-0.5B with logits=all and last, one profiled step;
#                                       once the kernels are built, engine=mamba_ssm's gpu tests and boundary.
#
# Every step has a timeout and its time in a table (OUT/gpu_check.md; OUT defaults to ./gpu_check_out);
# each step's log beside it. A step that fails is recorded and the next one runs.
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=${GPU_WHEELS:-.gpu_wheels}
PY=${PYTHON:-python3}
# the packages the GPU image lacks, at the versions the tests ran on (scripts/constraints.txt); the image's own
# pandas, pyarrow, scipy, rich, pyyaml, nvidia-ml-py, pytest, huggingface-hub and tokenizers serve the rest
LACKING="hydra-core omegaconf hydra-submitit-launcher submitit"
# transformers for the image: 5.24, the newest tested whose needs the image meets (5.25 needs huggingface-hub 2.4,
# hence httpx2, a newer click and hf-xet, and the kernels package: more wheels, each one more chance to break)
GPU_TRANSFORMERS=${GPU_TRANSFORMERS:-transformers==5.24.0}
pinned() { grep -i -E "^$1==" scripts/constraints.txt | head -n 1; }

prep() {
  mkdir -p "$WHEELS"
  local plat="--python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
              --platform manylinux2014_x86_64"
  # pure-Python wheels the image has no copy of (its pandas, pyarrow, scipy, rich, yaml, nvidia-ml-py, pytest serve)
  local specs=() p
  for p in $LACKING; do specs+=("$(pinned "$p")"); done
  # shellcheck disable=SC2086
  "$PY" -m pip download -q --no-deps --only-binary=:all: $plat -d "$WHEELS" "$GPU_TRANSFORMERS" "${specs[@]}" || return 1
  # hydra's parser runtime ships as an sdist only: built here into a pure-Python wheel
  "$PY" -m pip wheel -q --no-deps -w "$WHEELS" "$(pinned antlr4-python3-runtime)" || return 1
  # the kernels' sources for the device's own build (their setup.py imports torch: no isolated build here)
  MAMBA_SKIP_CUDA_BUILD=TRUE CAUSAL_CONV1D_SKIP_CUDA_BUILD=TRUE "$PY" -m pip download -q --no-deps \
    --no-binary=:all: --no-build-isolation -d "$WHEELS" mamba-ssm==2.3.2.post1 causal-conv1d==1.7.0 || return 1
  local mib
  mib=$(du -sm "$WHEELS" | cut -f1)
  echo "gpu_check prep: $(ls "$WHEELS" | wc -l) files, ${mib} MiB in $WHEELS (carry it to the GPU box)"
  [ "$mib" -le 60 ] || { echo "gpu_check prep: $WHEELS is over 60 MiB" >&2; return 1; }
}

OUT=${OUT:-$PWD/gpu_check_out}
TABLE=""
DEADLINE=$(( $(date +%s) + ${GPU_CHECK_SECONDS:-560} ))  # the whole device part's wall time, ~9.5 minutes
step() {  # step NAME SECONDS COMMAND...: run it with a timeout (never past DEADLINE), log it, time it, a table row
  local name=$1 limit=$2; shift 2
  local t0 rc left=$(( DEADLINE - $(date +%s) - 5 ))
  [ "$limit" -le "$left" ] || limit=$left
  if [ "$limit" -lt 5 ]; then
    TABLE+="| $name | skipped: no time left | 0 | |"$'\n'; echo "gpu_check: $name: skipped (no time left)"; return 0
  fi
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  local took
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  local how=ok; [ $rc -eq 0 ] || how="exit $rc"; [ $rc -eq 124 ] && how="timeout (${limit} s)"
  TABLE+="| $name | $how | $took | $(tail -n 1 "$OUT/$name.log" | tr '|' '/' | cut -c1-110) |"$'\n'
  echo "gpu_check: $name: $how in $took s"
}

device() {
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" \
      2>/dev/null; then
    echo "gpu_check device: no CUDA GPU here (nvidia-smi and torch.cuda); run it on the GPU box, 'prep' anywhere" >&2
    return 2
  fi
  [ -d "$WHEELS" ] || { echo "gpu_check device: no $WHEELS folder; run 'bash scripts/gpu_check.sh prep' first" >&2; return 2; }
  mkdir -p "$OUT"
  export PYTHONUNBUFFERED=1 SITE=/tmp/charsuite-site
  step install 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    "$WHEELS"/*.whl
  export PYTHONPATH="$SITE:$PWD:$PWD/tests${PYTHONPATH:+:$PYTHONPATH}"
  local gpu arch card
  card=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -n 1)
  arch=$("$PY" -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")
  gpu=h100; case "$card" in *H200*) gpu=h200 ;; esac
  step card 30 "$PY" -c "import torch; f, t = torch.cuda.mem_get_info(); print('$card', 'sm', '$arch', 'torch total', \
round(t / 2**30, 2), 'GiB, free after the CUDA context', round(f / 2**30, 2), 'GiB, context', round((t - f) / 2**30, 2))"
  # the kernels' source build for this arch only, in the background, timed (it must not hold the checks up)
  (TORCH_CUDA_ARCH_LIST="$arch" step kernels_build 420 bash scripts/install_kernels.sh "$WHEELS"; \
   printf '%s' "$TABLE" >"$OUT/kernels_build.row") &
  local build=$!
  step doctor 60 "$PY" -m charsuite.doctor
  step gpu_tests 150 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/gpu
  for m in "mamba2 130m" "falcon_h1 0.5b" "qwen2_5 0.5b"; do
    set -- $m
    step "predict_$1" 60 "$PY" -m charsuite.predict "+model=$1" "model.size=$2" "device=$gpu" context.max=16384
    step "measure_$1" 90 "$PY" -m charsuite "+model=$1" "model.size=$2" "device=$gpu" context.min=1024 \
      context.max=16384 workload.phases=[prefill] workload.max_repeats=3 "hydra.run.dir=$OUT/runs/$1"
  done
  for logits in all last; do
    step "boundary_mamba2_780m_$logits" 100 "$PY" -m charsuite +model=mamba2 model.size=780m "device=$gpu" \
      "workload.logits=$logits" workload.phases=[prefill] workload.max_repeats=1 context.min=16384 context.max=1048576 workload.budget_s=85 \
      "hydra.run.dir=$OUT/runs/mamba2_780m_$logits"
    step "boundary_qwen2_5_0.5b_$logits" 80 "$PY" -m charsuite +model=qwen2_5 model.size=0.5b "device=$gpu" \
      "workload.logits=$logits" workload.phases=[prefill] workload.max_repeats=1 context.min=16384 context.max=1048576 workload.budget_s=65 \
      "hydra.run.dir=$OUT/runs/qwen2_5_0.5b_$logits"
  done
  step profile 60 "$PY" -m charsuite +model=mamba2 model.size=130m "device=$gpu" context.min=4096 context.max=4096 \
    profile.enabled=true "profile.contexts=[4096]" "hydra.run.dir=$OUT/runs/profile"
  wait "$build" 2>/dev/null
  [ -f "$OUT/kernels_build.row" ] && TABLE+=$(grep kernels_build "$OUT/kernels_build.row")$'\n'
  # engine=mamba_ssm (the study's own engine) once the kernels are built: its gpu tests, and the study's boundary
  # (Mamba2-780M, float16 logits for every position) beside the transformers engine's above
  if "$PY" -c "import mamba_ssm" 2>/dev/null; then
    step mamba_ssm_tests 90 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/gpu/test_mamba_ssm_gpu.py
    step boundary_mamba_ssm_780m_all 80 "$PY" -m charsuite +model=mamba2 model.size=780m "device=$gpu" \
      engine=mamba_ssm model.dtype=float16 workload.logits=all workload.phases=[prefill] workload.max_repeats=1 \
      context.min=16384 context.max=1048576 workload.budget_s=70 "hydra.run.dir=$OUT/runs/mamba2_780m_mamba_ssm_all"
  fi
  step summary 30 "$PY" -m charsuite.summary "$OUT/runs"
  { echo "# gpu_check on $card (sm $arch), $(date -u +%FT%TZ)"; echo
    echo "| step | ended | seconds | last line |"; echo "| --- | --- | --- | --- |"; printf '%s' "$TABLE"; } \
    >"$OUT/gpu_check.md"
  cat "$OUT/gpu_check.md"
}

case "${1:-}" in
  prep) prep ;;
  device) device ;;
  *) echo "usage: bash scripts/gpu_check.sh prep|device (prep on any machine, device on the GPU box)" >&2; exit 2 ;;
esac
