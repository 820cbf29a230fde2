#!/usr/bin/env bash
# test_demo.sh: drrl-demo end to end.
#   test_demo.sh DRRL_DEMO quick   a 60-step run: exit 0, files written, reload bit-exact,
#                                  and bad configs fail with file:line:column messages
#   test_demo.sh DRRL_DEMO learns  the default config reaches >= 0.95 held-out accuracy
set -euo pipefail
demo="$1"
mode="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

if [[ "$mode" == quick ]]; then
  "$demo" train.steps=60 train.eval_every=30 data.n_train=512 data.n_eval=128 \
    run.dir="$tmp/run" > "$tmp/out.txt"
  grep -q "logits bit-identical" "$tmp/out.txt" || fail "reload not bit-identical"
  [[ -s "$tmp/run/model.h5" ]] || fail "model.h5 missing"
  head -1 "$tmp/run/metrics.csv" | grep -qx "step,loss,lr,grad_norm,examples_per_s,eval_accuracy,elapsed_s" \
    || fail "metrics.csv header"
  [[ $(wc -l < "$tmp/run/metrics.csv") -ge 3 ]] || fail "metrics.csv rows"
  ls "$tmp/run" | grep -q '\.tmp\.' && fail "temporary file left behind"
  # errors: unknown key, wrong type, cross-field rule; non-zero exit, message on stderr
  printf 'model:\n  d_model: 64\n  heads: 4\n' > "$tmp/bad.yaml"
  if "$demo" --config "$tmp/bad.yaml" 2> "$tmp/err.txt"; then fail "unknown key accepted"; fi
  grep -qF "$tmp/bad.yaml:3:3: model.heads: expected a known key" "$tmp/err.txt" || fail "$(cat "$tmp/err.txt")"
  if "$demo" train.lr=fast 2> "$tmp/err.txt"; then fail "bad override accepted"; fi
  grep -qF "command line 'train.lr=fast': train.lr: expected a number, found 'fast'" "$tmp/err.txt" \
    || fail "$(cat "$tmp/err.txt")"
  if "$demo" model.n_heads=5 run.dir="$tmp/x" 2> "$tmp/err.txt"; then fail "n_heads=5 accepted"; fi
  grep -qF "model.n_heads: expected a divisor of model.d_model (64), found 5" "$tmp/err.txt" \
    || fail "$(cat "$tmp/err.txt")"
  [[ -e "$tmp/x" ]] && fail "a failed config wrote output"
  echo "test_demo quick: ok"
else
  "$demo" run.dir="$tmp/run" | tee "$tmp/out.txt"
  acc=$(sed -n 's/^held-out accuracy \([0-9.]*\).*/\1/p' "$tmp/out.txt")
  awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }' || fail "held-out accuracy $acc < 0.95"
  echo "test_demo learns: ok (accuracy $acc)"
fi
