#!/usr/bin/env bash
# test_base_sst2.sh (slow suite): the default frozen model, trained from scratch with
# configs/sst2-base.yaml, still trains to the reported level, and the reloaded model file
# gives the same accuracy. The reported dev accuracy on this machine kind is 81.54% (seed 1;
# 82.34% with seed 2); training is deterministic for a given CPU and BLAS kernel, but another
# CPU may round differently, so the regression threshold here is 80% (one standard error on
# dev is 1.3 points): it catches a broken model or recipe, not seed noise.
set -euo pipefail
base=$(realpath "$1")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$base" --config configs/sst2-base.yaml run.dir="$tmp/run" | tee "$tmp/out.txt" | grep -v '^ *#\|^  \|^[a-z]*:$'
acc=$(sed -n 's/^training done: .*best dev accuracy \([0-9.]*\)$/\1/p' "$tmp/out.txt")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.80) }' || fail "dev accuracy $acc < 0.80"
grep -q "model.h5 on dev (.*): accuracy $acc " "$tmp/out.txt" || fail "reloaded model's accuracy differs"
echo "test_base_sst2: ok (dev accuracy $acc)"
