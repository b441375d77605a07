#!/usr/bin/env bash
# Run a named experiment as Slurm array jobs (one GPU per job) through hydra-submitit-launcher.
#   scripts/sweep_slurm.sh ispass_rtx4090 hydra.launcher.partition=gpu hydra.launcher.account=myproj
# Keep this script's shell alive until the batch ends (tmux/screen): it waits for the arrays
# and prints which jobs succeeded and which failed.
set -euo pipefail
exp=${1:?usage: $0 EXPERIMENT [override ...]}; shift
exec python -m charsuite.batch "$exp" hydra/launcher=slurm "$@"
