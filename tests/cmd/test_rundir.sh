#!/usr/bin/env bash
# test_rundir.sh (fast suite; issue 16, cases 2 and 3): a run directory belongs to one run.
# drrl-train and drrl-base refuse to start a new run over another run's files (naming them and
# the way out), --force moves those files into RUN_DIR/replaced-DATE/ and says so, --resume
# continues in place, a second process in a directory in use gets the holder's PID, and the
# run id in each checkpoint keeps pruning and "the newest" to one run's files.
set -euo pipefail
train=$(realpath "$1")
base=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

toy=(--config configs/toy.yaml run.dir="$tmp/t")
"$train" "${toy[@]}" ppo.iterations=2 > /dev/null
sum=$(md5sum < "$tmp/t/metrics.csv")
expect_error "run.dir $tmp/t: expected a directory without another run's files, found metrics.csv, config.yaml, checkpoints (continue it with --resume $tmp/t; or start over with --force" \
  "$train" "${toy[@]}" ppo.iterations=1
[ "$(md5sum < "$tmp/t/metrics.csv")" = "$sum" ] || fail "the refused run changed metrics.csv"
"$train" --resume "$tmp/t" ppo.iterations=3 > /dev/null   # continuing is fine
"$train" "${toy[@]}" ppo.iterations=1 --force > "$tmp/force.txt"
grep -q "^--force: moved the earlier run's metrics.csv, config.yaml, checkpoints into $tmp/t/replaced-[0-9-]*/$" \
  "$tmp/force.txt" || fail "--force did not say what it moved: $(cat "$tmp/force.txt")"
old=$(ls -d "$tmp"/t/replaced-*)
[ -f "$old/checkpoints/ckpt-00000003.h5" ] && [ -f "$tmp/t/checkpoints/ckpt-00000001.h5" ] \
  && [ ! -e "$tmp/t/checkpoints/ckpt-00000003.h5" ] || fail "--force: the runs' files are mixed"

# two processes in one directory: the second is refused with the first one's PID
"$train" --config configs/toy.yaml run.dir="$tmp/busy" ppo.iterations=100000 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/busy/.lock" ] && break; sleep 0.1; done
expect_error "run.dir $tmp/busy: expected a run directory no other process uses, found it locked by PID $pid (drrl-train)" \
  "$train" --config configs/toy.yaml run.dir="$tmp/busy" ppo.iterations=1
kill "$pid"; wait "$pid" || true

# run ids: a resume keeps the run's id; pruning removes only the run's own checkpoints, and
# "the newest checkpoint" of a directory holding two runs' files is an error, not a guess
"$train" --config configs/toy.yaml run.dir="$tmp/p" ppo.iterations=3 run.keep=2 run.checkpoint_every=1 > /dev/null
"$train" --config configs/toy.yaml run.dir="$tmp/q" ppo.iterations=1 > /dev/null
cp "$tmp/q/checkpoints/ckpt-00000001.h5" "$tmp/p/checkpoints/"
"$train" --resume "$tmp/p/checkpoints/ckpt-00000003.h5" ppo.iterations=6 > /dev/null
[ "$(ls "$tmp/p/checkpoints" | tr '\n' ' ')" = "ckpt-00000001.h5 ckpt-00000005.h5 ckpt-00000006.h5 " ] \
  || fail "pruning with another run's file present: $(ls "$tmp/p/checkpoints" | tr '\n' ' ')"
ids=$("$py" - "$tmp/p/checkpoints" "$tmp/q/checkpoints/ckpt-00000001.h5" <<'PY'
import sys, h5py
d, q = sys.argv[1], sys.argv[2]
rid = lambda p: h5py.File(p, "r").attrs["run_id"]
a, b, c = rid(d + "/ckpt-00000005.h5"), rid(d + "/ckpt-00000006.h5"), rid(q)
a, b, c = [x.decode() if isinstance(x, bytes) else x for x in (a, b, c)]
assert len(a) == 32 and int(a, 16) >= 0, a
print("same" if a == b else "resume changed the id", "other" if a != c else "two runs share an id")
PY
)
[ "$ids" = "same other" ] || fail "run ids: $ids"
expect_error "$tmp/p/checkpoints: expected the checkpoints of one run, found two: ckpt-00000001.h5 (run " \
  "$train" --resume "$tmp/p"

"$base" --config configs/tiny.yaml run.dir="$tmp/b" train.epochs=1 data.train_limit=300 > /dev/null
expect_error "run.dir $tmp/b: expected a directory without another run's files, found metrics.csv, checkpoint.h5, model.h5, dev_predictions.tsv (continue it with --resume $tmp/b; or start over with --force" \
  "$base" --config configs/tiny.yaml run.dir="$tmp/b" train.epochs=1 data.train_limit=300
echo "test_rundir: ok"
