#!/usr/bin/env bash
# test_train.sh: drrl-train end to end (run from the source root), on the toy environment and
# on the rank environment of a tiny frozen model trained here with drrl-base:
#   1. resume equality: N iterations straight vs N/2, stop, --resume, N/2 give the same
#      training state (one sha256 over weights, Adam moments and step, RNG streams, counters),
#      the same final checkpoint contents and the same metrics.csv rows (all columns but the
#      wall-clock ones); table latency mode for the rank environment;
#   2. files: metrics.csv header, rollout files with every field, run.keep checkpoints kept;
#   3. SIGKILL at random moments of a run that checkpoints every iteration: the newest
#      checkpoint always loads and the run resumes from it;
#   4. SIGTERM: a checkpoint is written and the exit code is 128 + 15;
#   5. errors: a truncated checkpoint, a checkpoint of another base model, a policy of
#      another shape, an unknown config key: non-zero exit and a message naming the item.
set -euo pipefail
train=$(realpath "$1")
base=$(realpath "$2")
cd "${DRRL_SOURCE_ROOT:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
state() { sed -n 's/^training state sha256 //p' "$1"; }
# metrics rows without the wall-clock columns (fps, seconds)
rows() { cut -d, -f1-3,6- "$1"; }
expect_error() { # expect_error PATTERN COMMAND...
  local pat="$1"; shift
  if "$@" > "$tmp/out.txt" 2> "$tmp/err.txt"; then fail "accepted: $*"; fi
  grep -qF -- "$pat" "$tmp/err.txt" || fail "expected '$pat' in: $(cat "$tmp/err.txt")"
}

# ---- toy environment ----
toy=(--config configs/toy.yaml ppo.iterations=8 run.checkpoint_every=2 run.rollouts_every=4 run.keep=2)
"$train" "${toy[@]}" run.dir="$tmp/ta" > "$tmp/ta.txt"
"$train" "${toy[@]}" run.dir="$tmp/tb" run.stop_at=4 > "$tmp/tb1.txt"
"$train" --resume "$tmp/tb" run.stop_at=0 > "$tmp/tb2.txt"
grep -q "resumed from .*iteration 4," "$tmp/tb2.txt" || fail "toy: resume did not start at iteration 4"
sa=$(state "$tmp/ta.txt"); sb=$(state "$tmp/tb2.txt")
[[ -n "$sa" && "$sa" == "$sb" ]] || fail "toy: resumed state $sb differs from straight $sa"
diff <(rows "$tmp/ta/metrics.csv") <(rows "$tmp/tb/metrics.csv") > /dev/null \
  || fail "toy: metrics differ between the straight and the resumed run"
[[ $(wc -l < "$tmp/ta/metrics.csv") -eq 9 ]] || fail "toy: metrics.csv: expected a header and 8 rows"
head -1 "$tmp/ta/metrics.csv" | tr , '\n' > "$tmp/cols.txt"
for col in iteration env_steps fps reward_mean fidelity_mean latency_ratio flops_ratio \
           bound_violations approx_kl clip_fraction explained_variance entropy; do
  grep -qx "$col" "$tmp/cols.txt" || fail "metrics.csv lacks column $col"
done
[[ $(ls "$tmp/ta/checkpoints" | wc -l) -eq 2 ]] || fail "run.keep=2: expected 2 checkpoints, found $(ls "$tmp/ta/checkpoints")"
ls "$tmp/ta/checkpoints/ckpt-00000008.h5" "$tmp/ta/checkpoints/ckpt-00000006.h5" > /dev/null \
  || fail "the newest checkpoints are not the ones kept"
ls "$tmp/ta/rollouts/iter-00000004.h5" "$tmp/ta/rollouts/iter-00000008.h5" > /dev/null \
  || fail "rollout files missing"

# SIGTERM: checkpoint and exit 143
"$train" --config configs/toy.yaml ppo.iterations=100000 run.dir="$tmp/tt" run.checkpoint_every=100000 > "$tmp/tt.txt" &
pid=$!
for _ in $(seq 100); do [[ -s "$tmp/tt/metrics.csv" && $(wc -l < "$tmp/tt/metrics.csv") -ge 3 ]] && break; sleep 0.1; done
kill -TERM $pid
rc=0; wait $pid || rc=$?
[[ $rc -eq 143 ]] || fail "SIGTERM: expected exit code 143, found $rc"
grep -q "^signal 15: stopped after iteration" "$tmp/tt.txt" || fail "SIGTERM: no stop message"
last=$(ls "$tmp/tt/checkpoints" | tail -1)
n=$((10#${last:5:8}))
"$train" --resume "$tmp/tt" run.stop_at=$((n + 1)) > "$tmp/tt2.txt" || fail "resume after SIGTERM failed"

# SIGKILL at random moments while checkpointing every iteration
for k in 1 2 3 4 5; do
  "$train" --config configs/toy.yaml ppo.iterations=100000 run.dir="$tmp/tk" run.checkpoint_every=1 \
    run.rollouts_every=1 > /dev/null &
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))"
  kill -KILL $pid; wait $pid 2>/dev/null || true
  if [[ -d "$tmp/tk/checkpoints" ]] && ls "$tmp/tk/checkpoints" | grep -q '^ckpt-'; then
    last=$(ls "$tmp/tk/checkpoints" | grep '^ckpt-' | tail -1)
    n=$((10#${last:5:8}))
    "$train" --resume "$tmp/tk" run.stop_at=$((n + 1)) run.checkpoint_every=1 > "$tmp/tk.txt" 2>&1 \
      || fail "SIGKILL round $k: the newest checkpoint $last does not resume: $(cat "$tmp/tk.txt")"
    grep -q "resumed from .*iteration $n," "$tmp/tk.txt" || fail "SIGKILL round $k: resumed elsewhere"
  fi
  rm -rf "$tmp/tk"
done

# errors
cp "$tmp/ta/checkpoints/ckpt-00000008.h5" "$tmp/trunc.h5"
truncate -s 3000 "$tmp/trunc.h5"
expect_error "$tmp/trunc.h5" "$train" --resume "$tmp/trunc.h5"
mkdir -p "$tmp/shape"
expect_error "/policy/layout: expected tensor" "$train" --resume "$tmp/ta/checkpoints/ckpt-00000008.h5" \
  policy.width=32 policy.ffn=64 run.dir="$tmp/shape"
printf 'ppo:\n  iterations: 3\n  epoch: 2\n' > "$tmp/bad.yaml"
expect_error "$tmp/bad.yaml:3:3: ppo.epoch: expected a known key" "$train" --config "$tmp/bad.yaml"
[[ -e runs/sst2-drrl-nonexistent ]] && fail "unexpected run directory"
echo "test_train: toy ok (state $sa)"
