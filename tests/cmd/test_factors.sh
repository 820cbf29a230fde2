#!/usr/bin/env bash
# test_factors.sh (slow suite): the perturbation bound on the hidden states of a TRAINED
# model. Trains configs/tiny.yaml, then drrl-factors evaluates plain and whitened factors at
# every rank of the grid on the dev set, comparing each layer's tight bound with the measured
# error of its attention output on the pass's own hidden states: no violation is allowed.
# Also: a second run reuses the cached factors (--factors FILE.h5), and rank = head size keeps
# 100% agreement; the command line: --out is not a flag of drrl-factors (it writes only the
# cache), repeated flags and unknown keys are errors, --print-config prints the model's stored
# config with the overrides, --quiet keeps the progress lines and the summary only.
set -euo pipefail
base=$(realpath "$1")
factors=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$base" --config configs/tiny.yaml run.dir="$tmp/run" > "$tmp/train.txt"
"$factors" --version | grep -qE "^drrl-factors [0-9.]+ \(git " || fail "--version"
expect_error "drrl-factors: error: --out: expected a flag of drrl-factors, found an unknown flag" \
  "$factors" --model "$tmp/run/model.h5" --out "$tmp/o"
expect_error "drrl-factors: error: --ranks: expected once, found it again ('4' after '2')" \
  "$factors" --model "$tmp/run/model.h5" --ranks 2 --ranks=4
expect_error "data.max_lne: expected a config key, found an unknown key; did you mean data.max_len?" \
  "$factors" --model "$tmp/run/model.h5" data.max_lne=8
expect_error "drrl-factors: error: --model: expected a model file" "$factors" --ranks 2
expect_error "seed: expected --seed N" "$factors" --model "$tmp/run/model.h5" seed=3
# a rank over the head size (64 / 2 heads = 32) is a usage error (exit 2), found right after
# loading, before the config line and the calibration
expect_error "drrl-factors: error: --ranks: expected ranks in [1, 32] (the head size of $tmp/run/model.h5), found 33" \
  "$factors" --model "$tmp/run/model.h5" --ranks 2,33
[ "$(set +e; "$factors" --model "$tmp/run/model.h5" --ranks 33 > /dev/null 2>&1; echo $?)" = 2 ] \
  || fail "--ranks 33: expected exit 2"
grep -q "^config:" "$tmp/out.txt" && fail "--ranks 33: the config line came before the check"
"$factors" --model="$tmp/run/model.h5" --print-config eval.batch=16 > "$tmp/pc.txt"
grep -q "^  d_model: 64$" "$tmp/pc.txt" && grep -q "^  batch: 16$" "$tmp/pc.txt" \
  || fail "--print-config: not the stored config with the override: $(head -3 "$tmp/pc.txt")"
"$factors" --model "$tmp/run/model.h5" --calib 512 --ranks 2,8,16,32 --m 4,8 \
  --factors "$tmp/f.h5" > "$tmp/f1.txt"
cat "$tmp/f1.txt"
grep -q "^bound violations in total: 0$" "$tmp/f1.txt" || fail "bound violations on trained hidden states"
grep -q "factors: computed and cached" "$tmp/f1.txt" || fail "first run did not compute factors"
grep -q "^drrl-factors: 13 passes over the dev split (872 sentences) in .* s; factors written to $tmp/f.h5$" \
  "$tmp/f1.txt" || fail "summary: $(tail -1 "$tmp/f1.txt")"
"$factors" --model "$tmp/run/model.h5" --calib 512 --ranks 2,8,16,32 --m 4,8 \
  --factors="$tmp/f.h5" --quiet --seed 3 > "$tmp/f2.txt"
grep -q "factors loaded from $tmp/f.h5$" "$tmp/f2.txt" || fail "second run did not reuse the cache: $(tail -1 "$tmp/f2.txt")"
grep -v "ETA\|^bound violations in total: 0$\|^drrl-factors: 13 passes" "$tmp/f2.txt" \
  && fail "--quiet printed more than progress and the summary"
[ "$(grep -c "passes .* ETA" "$tmp/f2.txt")" = 13 ] || fail "--quiet: expected 13 progress lines"
grep -E "^\| whitened \| 32 \| [0-9.]+ \| 1\.0000 \|" "$tmp/f1.txt" > /dev/null \
  || fail "whitened rank 32 (= head size) does not agree with full rank on every sentence"
echo "test_factors: ok"
