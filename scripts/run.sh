#!/usr/bin/env bash
# run.sh: the README's main command. Installs what is missing, builds, and runs the main job
# on its embedded default config: train the frozen SST-2 model (configs/sst2-base.yaml, about
# 4 minutes on 2 cores) and print its dev accuracy; if runs/sst2-base/model.h5 already exists,
# reuse it and only evaluate it. Extra arguments go to drrl-base (e.g. `train.epochs=2`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build > /dev/null
model=runs/sst2-base/model.h5
if [[ -f "$model" && $# -eq 0 ]]; then
  echo "reusing $model (delete it to train again)"
  exec build/cmd/drrl-base --eval "$model" --split dev
fi
exec build/cmd/drrl-base --config configs/sst2-base.yaml "$@"
