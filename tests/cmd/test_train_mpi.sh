#!/usr/bin/env bash
# test_train_mpi.sh (fast suite, MPI builds; issue 17): drrl-train over 2 processes
# (mpirun -np 2, one thread each):
#   1. toy, the same total batch as 1 process: the same rewards and returns in every
#      metrics.csv row (the same actions: one stream per slot), the policy's parameters equal
#      to float rounding (the gradient's sum runs in another order), one report;
#   2. toy, 2 processes stopped at 3 and resumed: the same training state (sha256) and
#      metrics as straight; each process's rollout file, with its first slot;
#   3. a checkpoint of 2 processes resumed by 1: refused, naming the counts; an env batch
#      not divisible by 2: one error, exit 1;
#   4. the rank environment on a tiny model: the latency table measured once (by process 0),
#      the checkpoint holds process 1's part (/proc/1), a resume is bit-exact;
#   5. a process killed mid-run: the job ends non-zero within seconds, every checkpoint left
#      loads.
set -euo pipefail
train=$(realpath "$1")
base=$(realpath "$2")
mpirun=$3
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mpi=("$mpirun" --allow-run-as-root --oversubscribe --mca btl self,vader
     -x ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 -x OMP_NUM_THREADS=1 -np 2)

# 1. one process vs two
toy=(--config configs/toy.yaml ppo.iterations=6 run.rollouts_every=3)
OMP_NUM_THREADS=1 "$train" "${toy[@]}" run.dir="$tmp/k1" > "$tmp/k1.txt"
"${mpi[@]}" "$train" "${toy[@]}" run.dir="$tmp/k2" > "$tmp/k2.txt"
[ "$(grep -c '^training state sha256' "$tmp/k2.txt")" = 1 ] || fail "the job did not report once"
grep -q "^processes: 2, each with 16 episode slots" "$tmp/k2.txt" || fail "no processes line: $(head "$tmp/k2.txt")"
[ "$(cut -d, -f1-3,6,7 "$tmp/k1/metrics.csv")" = "$(cut -d, -f1-3,6,7 "$tmp/k2/metrics.csv")" ] \
  || fail "rewards differ between 1 and 2 processes"
"$py" - "$tmp/k1/checkpoints/ckpt-00000006.h5" "$tmp/k2/checkpoints/ckpt-00000006.h5" <<'PY' \
  || fail "1 and 2 processes: the policies differ beyond float rounding"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r")["policy/params"][()] for p in sys.argv[1:3])
d = np.abs(a.astype(np.float64) - b).max()
assert d <= 1e-5 * np.abs(a).max(), d
assert h5py.File(sys.argv[2], "r").attrs["processes"] == 2
print(f"max |2 processes - 1| = {d:.3g}")
PY

# 2. stop and resume with two processes
"${mpi[@]}" "$train" "${toy[@]}" run.dir="$tmp/r" run.stop_at=3 > /dev/null
"${mpi[@]}" "$train" --resume "$tmp/r" run.stop_at=0 > "$tmp/r.txt"
[ "$(state "$tmp/r.txt")" = "$(state "$tmp/k2.txt")" ] || fail "2 processes: the resumed state differs"
cmp -s <(cut -d, -f1-3,6- "$tmp/r/metrics.csv") <(cut -d, -f1-3,6- "$tmp/k2/metrics.csv") \
  || fail "2 processes: the resumed metrics differ"
"$py" - "$tmp/k2/rollouts" <<'PY' || fail "rollout files"
import sys, h5py
a, b = (h5py.File(f"{sys.argv[1]}/iter-00000006{s}.h5", "r") for s in ("", ".p1"))
assert (a.attrs["first_slot"], b.attrs["first_slot"], a.attrs["n_envs"]) == (0, 16, 16)
PY

# 3. refused
expect_error "processes: expected 1 (this job's), found 2: a run resumes with as many processes" \
  env OMP_NUM_THREADS=1 "$train" --resume "$tmp/r" ppo.iterations=7
rc=0; "${mpi[@]}" "$train" --config configs/toy.yaml toy.batch=15 run.dir="$tmp/odd" > /dev/null 2> "$tmp/odd.err" || rc=$?
[ "$rc" = 1 ] || fail "toy.batch=15 on 2 processes: exit $rc"
[ "$(grep -c 'drrl-train: error: toy.batch: expected a multiple of the 2 processes' "$tmp/odd.err")" = 1 ] \
  || fail "toy.batch=15: the error is not reported once: $(cat "$tmp/odd.err")"

# 4. the rank environment
"$base" --config configs/tiny.yaml run.dir="$tmp/m" train.max_steps=30 > /dev/null
rk=(env.model="$tmp/m/model.h5" "env.ranks=[2, 4, 8, 16]" env.batch=8 env.calib_rows=256
    env.train_rows=512 "latency.buckets=[8, 16, 32, 40]" latency.reps=3 latency.warmup=1
    ppo.iterations=4 ppo.episodes=2 ppo.minibatch=32 run.checkpoint_every=1)
"${mpi[@]}" "$train" "${rk[@]}" run.dir="$tmp/ra" > "$tmp/ra.txt"
[ "$(grep -c '^measuring the kernel variants and the latency table' "$tmp/ra.txt")" = 1 ] \
  || fail "rank: the latency table was not measured once"
"${mpi[@]}" "$train" "${rk[@]}" run.dir="$tmp/rb" run.stop_at=2 latency.file="$tmp/ra/latency.h5" > /dev/null
"${mpi[@]}" "$train" --resume "$tmp/rb" run.stop_at=0 > "$tmp/rb.txt"
"${mpi[@]}" "$train" "${rk[@]}" run.dir="$tmp/rc" latency.file="$tmp/ra/latency.h5" > "$tmp/rc.txt"
[ "$(state "$tmp/rb.txt")" = "$(state "$tmp/rc.txt")" ] || fail "rank, 2 processes: the resumed state differs"
"$py" - "$tmp/rc/checkpoints/ckpt-00000004.h5" <<'PY' || fail "rank: the checkpoint lacks process 1's part"
import io, sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.attrs["processes"] == 2 and "proc/1" in f
part = h5py.File(io.BytesIO(f["proc/1"][()].tobytes()), "r")
assert "env" in part and len(part["rng/act"]) == 4, list(part)
assert sorted(int(k) for k in part["rng/act"]) == [4, 5, 6, 7]
PY

# 5. a process killed mid-run
"${mpi[@]}" "$train" --config configs/toy.yaml ppo.iterations=100000 run.dir="$tmp/kill" \
  run.checkpoint_every=1 > /dev/null 2>&1 &
job=$!
trap 'kill -KILL $job 2> /dev/null || true; pkill -KILL -f "run.dir=$tmp/kill" || true; rm -rf "$tmp"' EXIT
for _ in $(seq 600); do # a checkpoint first (a slow sanitizer build takes seconds to start)
  compgen -G "$tmp/kill/checkpoints/ckpt-*.h5" > /dev/null && break; sleep 0.1
done
compgen -G "$tmp/kill/checkpoints/ckpt-*.h5" > /dev/null || fail "no checkpoint before the kill"
kill_one_of_two "$job" "^[^ ]*drrl-train --config configs/toy.yaml ppo.iterations=100000 run.dir=$tmp/kill"
for f in "$tmp"/kill/checkpoints/ckpt-*.h5; do
  "$py" -c "import h5py, sys; h5py.File(sys.argv[1], 'r')['policy/params'][()]" "$f" \
    || fail "$f does not load after the kill"
done
echo "test_train_mpi: ok"
