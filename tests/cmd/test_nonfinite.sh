#!/usr/bin/env bash
# test_nonfinite.sh (fast suite; issue 16, case 5): files holding NaN are refused at load,
# naming the file, the tensor and the first bad index, before anything is written: a model
# with one NaN weight (drrl-base --eval exited 0 with accuracy 0.4908 before), a drrl-train
# checkpoint with one NaN policy weight (--resume failed only inside the environment, after
# writing), a drrl-base checkpoint with a NaN Adam moment. The NaNs are written with h5py.
# In training, a non-finite loss or gradient skips the step and is counted (stderr and the
# metrics row), and train.max_nonfinite + 1 in a row stop the run with a clear error, the
# last checkpoint intact (drrl-base resumed from a checkpoint whose parameters are scaled by
# 1e30: finite, so they load, but the forward overflows; PPO's policy: test_ppo_nonfinite).
set -euo pipefail
base=$(realpath "$1")
train=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# poison FILE DATASET INDEX: element INDEX (flat) of DATASET set to NaN
poison() {
  "$py" - "$@" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r+")
d = f[sys.argv[2]]
a = d[...]
a.reshape(-1)[int(sys.argv[3])] = np.nan
d[...] = a
f.close()
PY
}

"$base" --config configs/tiny.yaml run.dir="$tmp/b" train.epochs=1 data.train_limit=600 \
  train.checkpoint_every=10 > /dev/null
cp "$tmp/b/model.h5" "$tmp/nan.h5"
poison "$tmp/nan.h5" /bert/encoder/layer/0/attention/self/query/weight 17
expect_error "$tmp/nan.h5: /bert/encoder/layer/0/attention/self/query/weight: expected finite values, found nan at flat index 17" \
  "$base" --eval "$tmp/nan.h5"

# drrl-base --resume of a checkpoint with a NaN Adam moment: refused, nothing rewritten
poison "$tmp/b/checkpoint.h5" /adam/v 3
sum_before=$(md5sum "$tmp/b/metrics.csv" "$tmp/b/checkpoint.h5")
expect_error "/adam/v: expected finite values, found nan at flat index 3" \
  "$base" --resume "$tmp/b/checkpoint.h5"
[ "$(md5sum "$tmp/b/metrics.csv" "$tmp/b/checkpoint.h5")" = "$sum_before" ] \
  || fail "drrl-base --resume changed the run's files before refusing the checkpoint"

# a run whose every step overflows: 3 skipped (each said, each a metrics row with nonfinite 1
# and no loss), the 4th in a row stops it; the checkpoint stays as it was
cp -a "$tmp/b" "$tmp/h" && rm -f "$tmp/h/checkpoint.h5"
"$base" --config configs/tiny.yaml run.dir="$tmp/h" train.epochs=1 data.train_limit=600 \
  train.max_steps=10 --force > /dev/null
"$py" - "$tmp/h/checkpoint.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    f["params"][...] = f["params"][...] * 1e30
PY
rows=$(wc -l < "$tmp/h/metrics.csv")
sum_before=$(md5sum < "$tmp/h/checkpoint.h5")
expect_error "step 14: 4 steps in a row skipped for non-finite numbers, the last for a loss of nan" \
  "$base" --resume "$tmp/h" train.max_steps=0 train.max_nonfinite=3 train.log_every=1
grep -qF "expected at most train.max_nonfinite = 3 in a row; stopping (the last checkpoint is intact)" \
  "$tmp/err.txt" || fail "the stop's message: $(cat "$tmp/err.txt")"
[ "$(grep -c "^drrl-base: step 1[123] skipped: a loss of nan and a gradient norm of .*; [123] in a row, of at most 3 (train.max_nonfinite)$" "$tmp/err.txt")" = 3 ] \
  || fail "the skipped steps were not said: $(cat "$tmp/err.txt")"
[ "$(tail -n +$((rows + 1)) "$tmp/h/metrics.csv" | cut -d, -f1,3,8 | tr '\n' ' ')" = "11,,1 12,,1 13,,1 " ] \
  || fail "metrics rows of the skipped steps: $(tail -n +$((rows + 1)) "$tmp/h/metrics.csv")"
[ "$(md5sum < "$tmp/h/checkpoint.h5")" = "$sum_before" ] || fail "the stopped run changed its checkpoint"

"$train" --config configs/toy.yaml run.dir="$tmp/t" ppo.iterations=2 > /dev/null
poison "$tmp/t/checkpoints/ckpt-00000002.h5" /policy/params 5
sum_before=$(md5sum "$tmp/t/metrics.csv" "$tmp/t/config.yaml")
expect_error "$tmp/t/checkpoints/ckpt-00000002.h5: /policy/params: expected finite values, found nan at flat index 5" \
  "$train" --resume "$tmp/t"
[ "$(md5sum "$tmp/t/metrics.csv" "$tmp/t/config.yaml")" = "$sum_before" ] \
  || fail "drrl-train --resume changed the run's files before refusing the checkpoint"
echo "test_nonfinite: ok"
