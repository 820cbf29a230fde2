#!/usr/bin/env bash
# test_train_imdb.sh: drrl-train and drrl-eval on a byte-level IMDB model (issue 7, item 3),
# end to end on a tiny conv-position model trained here (configs/imdb-tiny.yaml, 256 bytes;
# run from the source root). The sample is too small to learn the task, so accuracies are not
# judged; what is checked:
#   1. drrl-train with per-segment ranks (env.segment=64: 4 action heads at 256 tokens) runs
#      3 iterations; in the rollout file (tok_mask, act_mask) reviews of >= 4 segments have all
#      4 heads active and some step has more than one active head;
#   2. drrl-eval (modes full, static:4, policy) at the training length (256) and at 2x (512,
#      data.max_len=512) on the test file: full mode's accuracy and predictions equal
#      `drrl-base --eval` at the same length exactly; agreement in [0, 1]; static's attention
#      FLOPs ratio < 1; the policy decides for twice as many segments at 512;
#   3. the latency note at a length past the table's largest bucket, latency.file=, and
#      --min-bytes (the count of test reviews of at least 1000 bytes, checked in Python);
#   3b. --rows K with --min-bytes (the first K such reviews); per-layer static ranks
#      (static:2/8 costs the mean of static:2 and static:8; static:8/8 is static:8 exactly;
#      static:full/2); position parts (static:8/8+8/8 is static:8 exactly, static:2/8+2/8 is
#      static:2/8; static:2/2+8/8 runs the first 2 of each row's 4 segments at 2, the others
#      at 8: mean rank 5 per layer, FLOPs between static:2's and static:8's, and static:8/8+2/2
#      differs from it); the per-input KL file against the table's mean KL;
#   4. errors: --min-bytes on an SST-2 model; malformed per-layer static modes.
set -euo pipefail
eval_=$(realpath "$1")
train=$(realpath "$2")
base=$(realpath "$3")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# the frozen model: a tiny IMDB model, 10 steps
"$base" --config configs/imdb-tiny.yaml run.dir="$tmp/base" train.max_steps=10 model.n_layers=2 \
  > "$tmp/base.txt"
model="$tmp/base/model.h5"

# 1. drrl-train, per-segment ranks
"$train" --config configs/imdb-drrl.yaml env.model="$model" env.segment=64 env.ranks=[2,4,8] \
  env.calib_rows=64 latency.buckets=[64,128,256] latency.reps=2 latency.warmup=1 \
  ppo.iterations=3 ppo.episodes=1 ppo.epochs=1 ppo.minibatch=8 run.rollouts_every=1 \
  run.checkpoint_every=3 run.dir="$tmp/drrl" > "$tmp/train.txt"
grep -q "^data: 160 rows of data/imdb-sample/train.tsv.gz (imdb, max_len 256" "$tmp/train.txt" \
  || fail "train data line: $(grep '^data:' "$tmp/train.txt")"
grep -q "segment 64, latency table" "$tmp/train.txt" || fail "environment line"
[[ -s "$tmp/drrl/checkpoints/ckpt-00000003.h5" ]] || fail "no final checkpoint"
$py - "$tmp/drrl/rollouts/iter-00000003.h5" <<'EOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
tok, act = f["tok_mask"][()], f["act_mask"][()]    # (steps, envs, tokens), (steps, envs, heads, A)
H = act.shape[2]
if H != 4: sys.exit(f"FAIL: expected 4 action heads (256 / 64), found {H}")
heads = tok[:, :, tok.shape[2] - H:]               # the head tokens are the last H
active = heads.sum(axis=2)
if active.max() < 2: sys.exit(f"FAIL: no step with more than one active head: {active}")
# an active head has some allowed action; an inactive one has none or is ignored
if not (act.any(axis=3)[heads == 1]).all(): sys.exit("FAIL: an active head has no allowed action")
print(f"rollout: {H} heads, active per step {sorted(set(active.ravel().tolist()))}")
EOF

# 2. drrl-eval at 256 and 512 vs drrl-base --eval
for L in 256 512; do
  "$base" --eval "$model" --split test data.max_len=$L --out "$tmp/base$L" > "$tmp/base$L.txt"
  "$eval_" --checkpoint "$tmp/drrl" --split test --modes full,static:4,policy --reps 1 \
    --resamples 100 data.max_len=$L --out "$tmp/ev$L" > "$tmp/ev$L.txt" 2> "$tmp/ev$L.err"
  grep -q "^data: data/imdb-sample/test.tsv.gz (imdb, max_len $L" "$tmp/ev$L.txt" || fail "eval data line at $L"
  cmp "$tmp/base$L/IMDB.tsv" "$tmp/ev$L/IMDB.full.tsv" || fail "full mode predicts unlike drrl-base at $L"
  acc=$(sed -n 's/.*accuracy \([0-9.]*\) (\([0-9]*\)\/\([0-9]*\))$/\2 \3/p' "$tmp/base$L.txt")
  [[ -n "$acc" ]] || fail "no drrl-base accuracy at $L"
  $py - "$tmp/ev$L/eval_test.json" $acc $L "$tmp/ev$L/policy_ranks_test.tsv" <<'EOF'
import json, sys
J = json.load(open(sys.argv[1]))
correct, n, L = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
m = {r["mode"]: r for r in J["modes"]}
f = m["full"]
if (f["correct"], f["n_labeled"]) != (correct, n) or f["accuracy"] != correct / n:
    sys.exit(f"FAIL: {L}: full {f['correct']}/{f['n_labeled']} vs drrl-base {correct}/{n}")
for k, r in m.items():
    if not 0 <= r["agreement"] <= 1: sys.exit(f"FAIL: {L}: {k} agreement {r['agreement']}")
    if r["violations"] not in (0, None): sys.exit(f"FAIL: {L}: {k} bound violations")
if not 0 < m["static:4"]["attn_flops_ratio"] < 1:
    sys.exit(f"FAIL: {L}: static:4 attention FLOPs ratio {m['static:4']['attn_flops_ratio']}")
if not 0 < m["policy"]["attn_flops_ratio"] <= 1:
    sys.exit(f"FAIL: {L}: policy attention FLOPs ratio {m['policy']['attn_flops_ratio']}")
print(f"eval at {L}: full {correct}/{n} as drrl-base; static:4 attention FLOPs "
      f"{m['static:4']['attn_flops_ratio']:.3f}, policy {m['policy']['attn_flops_ratio']:.3f}")
EOF
done
# at 512 the latency table (buckets up to 256) stops short: a note says so
grep -q "note: the latency table's largest bucket is N=256 but rows reach 512 tokens" "$tmp/ev512.err" \
  || fail "no latency note at 512: $(cat "$tmp/ev512.err")"
grep -q "latency table" "$tmp/ev256.err" && fail "a latency note at 256"

# 3. another latency table, and --min-bytes
"$train" --config configs/imdb-drrl.yaml env.model="$model" env.segment=64 env.ranks=[2,4,8] \
  env.calib_rows=64 latency.buckets=[256,512] latency.reps=2 latency.warmup=1 ppo.iterations=1 \
  run.dir="$tmp/lat" > /dev/null
[[ -s "$tmp/lat/latency.h5" ]] || fail "no latency table written by drrl-train"
"$eval_" --checkpoint "$tmp/drrl" --split test --modes full,policy --reps 1 --resamples 100 \
  data.max_len=512 latency.file="$tmp/lat/latency.h5" --min-bytes 1000 --out "$tmp/evm" \
  > "$tmp/evm.txt" 2> "$tmp/evm.err"
grep -q "^latency table: $tmp/lat/latency.h5 (measured" "$tmp/evm.txt" || fail "latency.file not used"
grep -q "latency table" "$tmp/evm.err" && fail "a latency note with a table up to 512"
want=$($py -c "
import gzip
rows = gzip.open('data/imdb-sample/test.tsv.gz').read().split(b'\n')[1:]
print(sum(1 for r in rows if r and len(r) - 2 >= 1000))")
grep -q "^--min-bytes 1000: $want test reviews of at least 1000 bytes" "$tmp/evm.txt" \
  || fail "--min-bytes: expected $want reviews: $(grep min-bytes "$tmp/evm.txt")"
$py -c "
import json, sys
J = json.load(open('$tmp/evm/eval_test.json'))
sys.exit(0 if J['n'] == $want else 'FAIL: --min-bytes: eval_test.json n %d, expected $want' % J['n'])"

# 3b. --rows with --min-bytes (the first K such reviews), per-layer static ranks and the
# per-input KL file: static:8/8 is static:8 exactly (same logits); static:2/8's attention
# FLOPs are the mean of static:2's and static:8's (each layer's cost depends only on its
# rank); static:full/2 is exact in layer 0; kl:full is 0 and every column's mean is the
# table's KL
"$eval_" --checkpoint "$tmp/drrl" --split test --reps 1 --resamples 100 --min-bytes 1000 \
  --rows 3 --modes full,static:2,static:8,static:2/8,static:8/8,static:full/2,static:8/8+8/8,static:2/8+2/8,static:2/2+8/8,static:8/8+2/2 \
  --out "$tmp/evl" \
  > "$tmp/evl.txt"
$py - "$tmp/evl" <<'EOF2'
import csv, gzip, json, sys
d = sys.argv[1]
J = json.load(open(f"{d}/eval_test.json"))
m = {r["mode"]: r for r in J["modes"]}
rows = gzip.open("data/imdb-sample/test.tsv.gz").read().split(b"\n")[1:]
first = [i for i, r in enumerate(rows) if r and len(r) - 2 >= 1000][:3]
per = list(csv.DictReader(open(f"{d}/per_input_test.tsv"), delimiter="\t"))
if [int(r["index"]) for r in per] != first and sorted(int(r["index"]) for r in per) != first:
    sys.exit(f"FAIL: --rows 3 --min-bytes: indices {[r['index'] for r in per]}, expected {first}")
if J["n"] != 3: sys.exit(f"FAIL: --rows 3: n {J['n']}")
a = lambda k: m[k]["attn_flops"]
if 2 * a("static:2/8") != a("static:2") + a("static:8"):
    sys.exit(f"FAIL: static:2/8 attention FLOPs {a('static:2/8')} vs the mean of "
             f"{a('static:2')} and {a('static:8')}")
if a("static:8/8") != a("static:8") or m["static:8/8"]["kl_mean"] != m["static:8"]["kl_mean"]:
    sys.exit("FAIL: static:8/8 differs from static:8")
if not a("static:2") < a("static:full/2") < a("full"):
    sys.exit(f"FAIL: static:full/2 FLOPs {a('static:full/2')} outside (static:2, full)")
if 2 * a("static:full/2") != a("static:2") + a("full"):
    sys.exit("FAIL: static:full/2 FLOPs are not the mean of static:2's and full's")
if m["static:full/2"]["rank_per_layer"][0] != J["head_size"]:
    sys.exit(f"FAIL: static:full/2 layer 0 rank {m['static:full/2']['rank_per_layer']}")
for k, r in m.items():
    col = [float(p[f"kl:{k}"]) for p in per]
    if k == "full" and any(col): sys.exit(f"FAIL: kl:full {col}")
    if any(v < 0 for v in col): sys.exit(f"FAIL: kl:{k} negative: {col}")
    if abs(sum(col) / len(col) - r["kl_mean"]) > 1e-6 * r["kl_mean"] + 1e-300:
        sys.exit(f"FAIL: kl:{k} mean {sum(col) / len(col)} vs the table's {r['kl_mean']}")
    if any(int(p["label"]) not in (0, 1) for p in per): sys.exit("FAIL: per-input labels")
    if any(not 0.5 <= float(p["p_full"]) <= 1 for p in per):
        sys.exit(f"FAIL: p_full outside [1/2, 1] for two classes: {[p['p_full'] for p in per]}")
if [p["kl:static:8/8"] for p in per] != [p["kl:static:8"] for p in per]:
    sys.exit("FAIL: per-input KL of static:8/8 and static:8 differ")
for x, y in (("static:8/8+8/8", "static:8"), ("static:2/8+2/8", "static:2/8")):
    if a(x) != a(y) or m[x]["kl_mean"] != m[y]["kl_mean"]: sys.exit(f"FAIL: {x} differs from {y}")
for x in ("static:2/2+8/8", "static:8/8+2/2"):
    if m[x]["rank_per_layer"] != [5, 5]: sys.exit(f"FAIL: {x} ranks {m[x]['rank_per_layer']}")
    if not a("static:2") < a(x) < a("static:8"): sys.exit(f"FAIL: {x} FLOPs {a(x)}")
if m["static:2/2+8/8"]["kl_mean"] == m["static:8/8+2/2"]["kl_mean"]:
    sys.exit("FAIL: the position parts are not applied by position")
print(f"per-layer static and per-input KL ok: {[(k, r['attn_flops']) for k, r in m.items()]}")
EOF2

# 4. errors
# a filter that leaves nothing names the file and the filter (issue 16, case 6)
expect_error "--min-bytes: expected a length some test reviews of data/imdb-sample/test.tsv.gz (data.test) reach (longest " \
  "$eval_" --checkpoint "$tmp/drrl" --split test --modes full --reps 1 --min-bytes 100000000 \
  data.max_len=512 --out "$tmp/evx"
expect_error "--min-bytes: expected a model with data.format: imdb, found sst2" \
  "$eval_" --checkpoint "$tmp/drrl" --modes full --reps 1 data.format=sst2 data.dev_rows=0 --min-bytes 10
expect_error "--modes: 'static:2/4/8': expected one rank per layer of the model (2), found 3" \
  "$eval_" --checkpoint "$tmp/drrl" --modes full,static:2/4/8 --reps 1
expect_error "--modes: 'static:3/8': layer 0: expected full or a rank of the policy's grid [2, 4, 8], found '3'" \
  "$eval_" --checkpoint "$tmp/drrl" --modes static:3/8 --reps 1
expect_error "--modes: 'static:8/': expected one rank per layer separated by '/'" \
  "$eval_" --checkpoint "$tmp/drrl" --modes static:8/ --reps 1
expect_error "--modes: 'nystrom:8/8': per-layer lists ('/') are for static" \
  "$eval_" --checkpoint "$tmp/drrl" --modes nystrom:8/8 --reps 1
expect_error "--modes: 'static:8/8+2/4/8': part 1: expected 2 layers (as the first part), found 3" \
  "$eval_" --checkpoint "$tmp/drrl" --modes static:8/8+2/4/8 --reps 1
expect_error "--modes: 'static:8/8+': expected per-layer lists joined by '+'" \
  "$eval_" --checkpoint "$tmp/drrl" --modes static:8/8+ --reps 1
expect_error "--modes: 'performer:8+8': position parts ('+') are for static" \
  "$eval_" --checkpoint "$tmp/drrl" --modes performer:8+8 --reps 1
echo "test_train_imdb: ok"
