#!/usr/bin/env bash
# test_nonfinite.sh (fast suite; issue 16, case 5): files holding NaN are refused at load,
# naming the file, the tensor and the first bad index, before anything is written: a model
# with one NaN weight (drrl-base --eval exited 0 with accuracy 0.4908 before), a drrl-train
# checkpoint with one NaN policy weight (--resume failed only inside the environment, after
# writing), a drrl-base checkpoint with a NaN Adam moment. The NaNs are written with h5py.
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

"$train" --config configs/toy.yaml run.dir="$tmp/t" ppo.iterations=2 > /dev/null
poison "$tmp/t/checkpoints/ckpt-00000002.h5" /policy/params 5
sum_before=$(md5sum "$tmp/t/metrics.csv" "$tmp/t/config.yaml")
expect_error "$tmp/t/checkpoints/ckpt-00000002.h5: /policy/params: expected finite values, found nan at flat index 5" \
  "$train" --resume "$tmp/t"
[ "$(md5sum "$tmp/t/metrics.csv" "$tmp/t/config.yaml")" = "$sum_before" ] \
  || fail "drrl-train --resume changed the run's files before refusing the checkpoint"
echo "test_nonfinite: ok"
