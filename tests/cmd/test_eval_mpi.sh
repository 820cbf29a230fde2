#!/usr/bin/env bash
# test_eval_mpi.sh (fast suite, MPI builds; issue 17): drrl-eval sharded over 2 processes
# (mpirun -np 2) against 1 process on a tiny frozen model and a 2-iteration policy:
#   - the policy is trained by 2 processes (8 slots each) and evaluated in batches of 40;
#   - eval.json equal in every field but the measured times and "processes" (accuracy, KL,
#     agreement, McNemar, counted FLOPs, ranks, the environment's statistics: bit for bit, as
#     printed), per_input.tsv and policy_ranks.tsv byte-identical, eval.csv's untimed columns
#     equal; the table and "wrote" printed once;
#   - an error (an unknown mode) reported once, exit 2 as alone;
#   - a process killed (SIGKILL) mid-run ends the job with a non-zero exit within seconds;
#   - drrl-sweep over 2 processes (3 rows per length: an uneven split) writes the same
#     sweep.csv as 1 process in every untimed column (FLOPs, KL, error, rows, rank).
set -euo pipefail
evalx=$(realpath "$1")
train=$(realpath "$2")
base=$(realpath "$3")
mpirun=$4
sweep=$(realpath "$5")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# as meson.build's mpirun_args (LeakSanitizer off inside the job: Open MPI's own allocations)
mpi=("$mpirun" --allow-run-as-root --oversubscribe --mca btl self,vader
     -x ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 -np 2)

"$base" --config configs/tiny.yaml run.dir="$tmp/base" train.max_steps=60 > /dev/null
# the policy trained by 2 processes; evaluated (by 1 or 2) in batches larger than its slots
"${mpi[@]}" "$train" env.model="$tmp/base/model.h5" env.ranks=[2,4,8,16] env.batch=16 \
  env.calib_rows=512 ppo.iterations=2 ppo.minibatch=32 latency.buckets=[8,16,24,40] \
  latency.reps=2 latency.warmup=1 run.dir="$tmp/pol" > /dev/null
ev=(--checkpoint "$tmp/pol" --reps 1 --batch 40
    --modes full,static:4,static:8,random,nystrom:8,performer:8,policy)
"$evalx" "${ev[@]}" --out "$tmp/k1" > "$tmp/k1.txt"
"${mpi[@]}" "$evalx" "${ev[@]}" --out "$tmp/k2" > "$tmp/k2.txt" 2> "$tmp/k2.err"
grep -q "^processes: 2 (batch k runs on process k mod 2" "$tmp/k2.txt" || fail "no processes line"
[ "$(grep -c '^wrote ' "$tmp/k2.txt")" = 1 ] || fail "the job's output is not printed once"
[ "$(grep -c '^policy  ' "$tmp/k2.txt")" = "$(grep -c '^policy  ' "$tmp/k1.txt")" ] \
  || fail "the table is not printed once"
cmp "$tmp/k1/per_input.tsv" "$tmp/k2/per_input.tsv" || fail "per_input.tsv differs"
cmp "$tmp/k1/policy_ranks.tsv" "$tmp/k2/policy_ranks.tsv" || fail "policy_ranks.tsv differs"
"$py" - "$tmp/k1" "$tmp/k2" <<'PY' || fail "eval.json or eval.csv differ between 1 and 2 processes"
import csv, json, math, sys
a, b = (json.load(open(d + "/eval.json")) for d in sys.argv[1:3])
timed = lambda k: any(t in k for t in ("_ms", "latency", "ex_per_s", "attn_ratio", "decision_share"))
same = lambda x, y: x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
assert (a.pop("processes"), b.pop("processes")) == (1, 2)
ma, mb = a.pop("modes"), b.pop("modes")
assert a == b, [k for k in a if a[k] != b[k]]
assert [m["mode"] for m in ma] == [m["mode"] for m in mb]
n = 0
for x, y in zip(ma, mb):
    for k in x:
        if not timed(k):
            assert same(x[k], y[k]), (x["mode"], k, x[k], y[k])
            n += 1
assert all(m["attn_flops"] > 0 for m in ma), "no FLOPs counted"
ra, rb = (list(csv.DictReader(open(d + "/eval.csv"))) for d in sys.argv[1:3])
for x, y in zip(ra, rb):
    for k in x:
        if not timed(k):
            assert x[k] == y[k], (x["mode"], k, x[k], y[k])
print(f"{n} untimed values equal")
PY
# one error message for the job, the same exit status as alone
rc=0; "${mpi[@]}" "$evalx" --checkpoint "$tmp/pol" --modes full,bogus > /dev/null 2> "$tmp/bad.err" || rc=$?
[ "$rc" = 2 ] || fail "an unknown mode: exit $rc (expected 2)"
[ "$(grep -c "drrl-eval: error: " "$tmp/bad.err")" = 1 ] || fail "the error is not reported once: $(cat "$tmp/bad.err")"
# a process killed mid-run: the job ends, non-zero, within seconds
"${mpi[@]}" "$evalx" --checkpoint "$tmp/pol" --reps 200 --out "$tmp/k3" > /dev/null 2>&1 &
job=$!
trap 'kill -KILL $job 2> /dev/null || true; pkill -KILL -f "drrl-eval --checkpoint $tmp/pol" || true; rm -rf "$tmp"' EXIT
kill_one_of_two "$job" "^[^ ]*drrl-eval --checkpoint $tmp/pol --reps 200 --out $tmp/k3"

# drrl-sweep: 1 and 2 processes
"$base" --config configs/imdb-tiny.yaml run.dir="$tmp/im" train.max_steps=20 > /dev/null
sw=(--model "$tmp/im/model.h5" --lengths 64,128 --modes full,static:4,nystrom:8,performer:8
    --rows 3 --reps 1)
"$sweep" "${sw[@]}" --out "$tmp/s1" > /dev/null 2>&1
"${mpi[@]}" "$sweep" "${sw[@]}" --out "$tmp/s2" > "$tmp/s2.txt" 2>&1
[ "$(grep -c '^wrote ' "$tmp/s2.txt")" = 1 ] || fail "drrl-sweep: the job's output is not printed once"
"$py" - "$tmp/s1/sweep.csv" "$tmp/s2/sweep.csv" <<'PY' || fail "sweep.csv differs between 1 and 2 processes"
import csv, sys
a, b = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
assert len(a) == len(b) == 8, (len(a), len(b))
for x, y in zip(a, b):
    for k in ("length", "mode", "attn_flops", "flops_ratio", "kl", "rel_err", "rows", "mean_rank"):
        assert x[k] == y[k], (x["length"], x["mode"], k, x[k], y[k])
PY
echo "test_eval_mpi: ok"
