#!/usr/bin/env bash
# test_factors.sh (slow suite): the perturbation bound on the hidden states of a TRAINED
# model. Trains configs/tiny.yaml, then drrl-factors evaluates plain and whitened factors at
# every rank of the grid on the dev set, comparing each layer's tight bound with the measured
# error of its attention output on the pass's own hidden states: no violation is allowed.
# Also: a second run reuses the cached factors, and rank = head size keeps 100% agreement.
set -euo pipefail
base=$(realpath "$1")
factors=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$base" --config configs/tiny.yaml run.dir="$tmp/run" > "$tmp/train.txt"
"$factors" --model "$tmp/run/model.h5" --calib 512 --ranks 2,8,16,32 --m 4,8 \
  --out "$tmp/f.h5" > "$tmp/f1.txt"
cat "$tmp/f1.txt"
grep -q "^bound violations in total: 0$" "$tmp/f1.txt" || fail "bound violations on trained hidden states"
grep -q "factors: computed and cached" "$tmp/f1.txt" || fail "first run did not compute factors"
"$factors" --model "$tmp/run/model.h5" --calib 512 --ranks 2,8,16,32 --m 4,8 \
  --out "$tmp/f.h5" > "$tmp/f2.txt"
grep -q "factors: loaded" "$tmp/f2.txt" || fail "second run did not reuse the cache: $(grep factors: "$tmp/f2.txt")"
grep -E "^\| whitened \| 32 \| [0-9.]+ \| 1\.0000 \|" "$tmp/f1.txt" > /dev/null \
  || fail "whitened rank 32 (= head size) does not agree with full rank on every sentence"
echo "test_factors: ok"
