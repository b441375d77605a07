#!/usr/bin/env bash
# Run a named experiment (conf/experiment/NAME.yaml) on this machine, one job after another.
#   scripts/sweep_desktop.sh cpu_quick
#   scripts/sweep_desktop.sh ispass_rtx4090 hydra.sweep.dir=runs/my_4090
set -euo pipefail
exp=${1:?usage: $0 EXPERIMENT [override ...]}; shift
exec python -m charsuite.batch "$exp" hydra/launcher=basic "$@"
