#!/usr/bin/env bash
# test_kill.sh (slow suite; issue 16): kill -9 at random moments, checkpoint writes included.
# drrl-train (toy environment, a checkpoint every iteration) and drrl-base (tiny SST-2 model,
# a checkpoint every 10 steps) are each started 50 times in one run directory, resuming from
# the newest checkpoint when there is one (a fresh --force start otherwise), and killed with
# SIGKILL after a random 0.05-1 s (drrl-train) or 0.2-4 s (drrl-base). Every start must
# load what the previous kill left (a start that fails is an error; exit 137 = killed, 0 =
# finished first); temporaries of interrupted writes are removed by the next start; a last
# start finishes the run. KILL_TRIALS overrides 50.
set -euo pipefail
train=$(realpath "$1")
base=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trials=${KILL_TRIALS:-50}
RANDOM=16

# trial LOG DELAY COMMAND...: run COMMAND, SIGKILL it after DELAY s; fail unless it was killed
# or had finished
trial() {
  local log="$1" delay="$2"; shift 2
  "$@" > "$log" 2>&1 &
  local pid=$!
  sleep "$delay"
  kill -9 "$pid" 2> /dev/null || true
  local rc=0
  wait "$pid" 2> /dev/null || rc=$?
  [[ $rc == 137 || $rc == 0 ]] || fail "$* exited $rc after ${delay}s: $(tail -2 "$log")"
  swept=$((swept + $(grep -c "the temporary of a write that never finished" "$log" || true)))
}
swept=0

t="$tmp/t"
kills=0
for i in $(seq "$trials"); do
  delay=$(printf '0.%02d' $((5 + RANDOM % 95)))
  if compgen -G "$t/checkpoints/ckpt-*.h5" > /dev/null; then
    trial "$tmp/t.log" "$delay" "$train" --resume "$t"
  else
    trial "$tmp/t.log" "$delay" "$train" --config configs/toy.yaml run.dir="$t" \
      ppo.iterations=400 run.checkpoint_every=1 run.keep=2 --force
  fi
  kills=$((kills + 1))
done
"$train" --resume "$t" > "$tmp/t.log" 2>&1 || fail "drrl-train: the last resume failed: $(tail -2 "$tmp/t.log")"
[ -z "$(find "$t" -name '*.tmp*')" ] || fail "drrl-train left: $(find "$t" -name '*.tmp*')"
[ -f "$t/checkpoints/ckpt-00000400.h5" ] || fail "drrl-train did not finish: $(ls "$t/checkpoints")"
echo "drrl-train: $kills kills, the run finished; temporaries of killed writes removed: $swept"
swept=0

b="$tmp/b"
for i in $(seq "$trials"); do
  delay=$(printf '%d.%02d' $((RANDOM % 4)) $((20 + RANDOM % 80)))
  if [ -f "$b/checkpoint.h5" ]; then
    trial "$tmp/b.log" "$delay" "$base" --resume "$b/checkpoint.h5"
  else
    trial "$tmp/b.log" "$delay" "$base" --config configs/tiny.yaml run.dir="$b" \
      data.train_limit=2000 train.checkpoint_every=10 --force
  fi
done
if [ -f "$b/checkpoint.h5" ]; then
  "$base" --resume "$b/checkpoint.h5" > "$tmp/b.log" 2>&1 || fail "drrl-base: the last resume failed: $(tail -2 "$tmp/b.log")"
else
  "$base" --config configs/tiny.yaml run.dir="$b" data.train_limit=2000 train.checkpoint_every=10 \
    --force > "$tmp/b.log" 2>&1 || fail "drrl-base: the last start failed: $(tail -2 "$tmp/b.log")"
fi
[ -z "$(find "$b" -name '*.tmp*')" ] || fail "drrl-base left: $(find "$b" -name '*.tmp*')"
[ -f "$b/model.h5" ] || fail "drrl-base did not finish"
echo "drrl-base: $trials kills, the run finished; temporaries of killed writes removed: $swept"
echo "test_kill: ok"
