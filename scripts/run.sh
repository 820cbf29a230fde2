#!/usr/bin/env bash
# run.sh: the README's main command. Installs what is missing, builds, and runs the main job
# on its embedded default config. For now the main job is drrl-demo (configs/demo.yaml), a
# short end-to-end demonstration of the numeric core; extra arguments are passed through
# (e.g. `scripts/run.sh train.steps=100`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build > /dev/null
exec build/cmd/drrl-demo --config configs/demo.yaml "$@"
