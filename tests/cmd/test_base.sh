#!/usr/bin/env bash
# test_base.sh: drrl-base end to end on configs/tiny.yaml (run from the source root).
#   1. train: exit 0, files written, dev accuracy above chance;
#   2. reload: `--eval model.h5` gives exactly the predictions the in-memory model gave;
#   3. resume: half the steps, then --resume for the rest, ends in the same training state
#      (parameters, AdamW moments and step, RNG states: one sha256) as one straight run;
#   4. errors: a missing data file, a malformed TSV row, a mismatched resume config, an
#      unknown --split: non-zero exit, message naming file/line/key, nothing written.
set -euo pipefail
base=$(realpath "$1")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# 1. straight run (2 epochs of the tiny config)
"$base" --config configs/tiny.yaml run.dir="$tmp/a" > "$tmp/a.txt"
for f in model.h5 checkpoint.h5 metrics.csv dev_predictions.tsv; do
  [[ -s "$tmp/a/$f" ]] || fail "$f missing"
done
ls "$tmp/a" | grep -q '\.tmp' && fail "temporary file left behind"
acc=$(sed -n 's/^training done: .*best dev accuracy \([0-9.]*\)$/\1/p' "$tmp/a.txt")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.65) }' || fail "tiny dev accuracy $acc < 0.65"
head -1 "$tmp/a/metrics.csv" | grep -qx "step,epoch,loss,lr,grad_norm,dev_accuracy,elapsed_s,nonfinite" \
  || fail "metrics.csv header"

# 2. reload: same predictions as the in-memory model that was saved
"$base" --eval "$tmp/a/model.h5" --split dev --out "$tmp/pred" > "$tmp/eval.txt"
cmp "$tmp/pred/SST-2.tsv" "$tmp/a/dev_predictions.tsv" || fail "reloaded model predicts differently"
grep -q "accuracy $acc " "$tmp/eval.txt" || fail "reloaded accuracy differs from $acc"
grep -q '^drrl-base --eval: tokens  [0-9]*/[0-9]* (100%)  elapsed .*  ETA 0.0s$' "$tmp/eval.txt" \
  || fail "--eval: no final progress line"
"$base" --eval "$tmp/a/model.h5" --split test --out "$tmp/test" > /dev/null
[[ $(wc -l < "$tmp/test/SST-2.tsv") -eq 1822 ]] || fail "test predictions: expected 1821 rows + header"
head -1 "$tmp/test/SST-2.tsv" | grep -qx $'index\tprediction' || fail "test predictions header"

# 3. resume: stop at step 150 (mid epoch 1), resume, compare the final state
steps=$(sed -n 's/^model: .* \([0-9]*\) steps of .*/\1/p' "$tmp/a.txt")
"$base" --config configs/tiny.yaml run.dir="$tmp/b" train.max_steps=150 > "$tmp/b1.txt"
"$base" --resume "$tmp/b/checkpoint.h5" train.max_steps=0 > "$tmp/b2.txt"
grep -q "resumed from .*step 150" "$tmp/b2.txt" || fail "resume did not start at step 150"
sa=$(state "$tmp/a.txt"); sb=$(state "$tmp/b2.txt")
[[ -n "$sa" && "$sa" == "$sb" ]] || fail "resumed state $sb differs from straight $sa ($steps steps)"
la=$(grep "^epoch .*: dev accuracy" "$tmp/a.txt" | tail -1 | cut -d, -f1)
lb=$(grep "^epoch .*: dev accuracy" "$tmp/b2.txt" | tail -1 | cut -d, -f1)
[[ "$la" == "$lb" ]] || fail "final dev evaluation differs: '$la' vs '$lb'"

# 4. errors
expect_error "data.train: $tmp/none.tsv: cannot open" \
  "$base" --config configs/tiny.yaml data.train="$tmp/none.tsv" run.dir="$tmp/c"
printf 'sentence\tlabel\ngood movie \t1\nbad \t7\n' > "$tmp/bad.tsv"
expect_error "data.train: $tmp/bad.tsv:3: label: expected 0 or 1, found '7'" \
  "$base" --config configs/tiny.yaml data.train="$tmp/bad.tsv" run.dir="$tmp/c"
[[ -e "$tmp/c" ]] && fail "a failed run wrote $tmp/c"
expect_error "$tmp/b/checkpoint.h5: model.d_model: expected the checkpoint's value 64, found 32 (command line 'model.d_model=32'): on resume only these keys may change: train.max_steps," \
  "$base" --resume "$tmp/b/checkpoint.h5" model.d_model=32 model.n_heads=2
expect_error "--split: expected one of dev|test|train, found 'val'" \
  "$base" --eval "$tmp/a/model.h5" --split val
printf 'model:\n  d_model: 64\n  layers: 2\n' > "$tmp/bad.yaml"
expect_error "$tmp/bad.yaml:3:3: model.layers: expected a known key" \
  "$base" --config "$tmp/bad.yaml"
expect_error "format: expected 'drrl-model', found 'drrl-base-ckpt'" \
  "$base" --eval "$tmp/a/checkpoint.h5"

# 5. the command-line convention (core/cli.h)
"$base" --version > "$tmp/v.txt"
grep -q '^drrl-base [0-9.]* (git [0-9a-f]\{12\}' "$tmp/v.txt" || fail "--version: $(cat "$tmp/v.txt")"
grep -q '^BLAS: OpenBLAS .* threads$' "$tmp/v.txt" || fail "--version: no BLAS line"
"$base" --help | grep -q -- '--print-config' || fail "--help does not say where keys are"
"$base" --config configs/tiny.yaml --print-config > "$tmp/p1.txt"
"$base" --config=configs/tiny.yaml --print-config > "$tmp/p2.txt"
cmp "$tmp/p1.txt" "$tmp/p2.txt" || fail "--config=F differs from --config F"
"$base" --config configs/tiny.yaml --seed 5 --out "$tmp/o" --print-config > "$tmp/p3.txt"
grep -q '^seed: 5$' "$tmp/p3.txt" || fail "--seed 5 is not seed: 5"
grep -q "dir: \"$tmp/o\"" "$tmp/p3.txt" || fail "--out DIR is not run.dir"
expect_error "--config: expected once, found it again" \
  "$base" --config configs/tiny.yaml --config configs/sst2-base.yaml
expect_error "seed: expected it once, found it also set by a flag" \
  "$base" --seed 5 seed=6 --print-config
expect_error "model.nlayers: expected a config key, found an unknown key; did you mean model.n_layers?" \
  "$base" model.nlayers=2 --print-config
expect_error "--rsume: expected a flag of drrl-base, found an unknown flag; did you mean --resume?" \
  "$base" --rsume x
expect_error "--config: expected no config with --eval" \
  "$base" --eval "$tmp/a/model.h5" --config configs/tiny.yaml
"$base" --config configs/tiny.yaml --quiet run.dir="$tmp/q" train.max_steps=2 > "$tmp/q.txt"
grep -q '^config:' "$tmp/q.txt" && fail "--quiet still prints the config line"
grep -q '^config: configs/tiny.yaml' "$tmp/b1.txt" || fail "the config line is missing by default"
grep -q '^# resolved config' "$tmp/b1.txt" && fail "the resolved config is printed without --verbose"
echo "test_base: ok (tiny dev accuracy $acc, $steps steps, state $sa)"
