#!/usr/bin/env bash
# test_train_heads.sh: per-head ranks end to end (env.per_head: true, issue 18 item 2) on a
# tiny byte-level IMDB model trained here (configs/imdb-tiny.yaml: 2 heads, 2 layers, 256
# bytes; run from the source root):
#   1. drrl-train with env.segment=64 and env.per_head=true: 4 segments x 2 heads = 8 action
#      heads in the rollout file (tok_mask, act_mask), some step with heads of one segment
#      active; 4 iterations straight vs 2, stop, --resume, 2 give the same training state
#      sha256 and the same metrics rows (wall-clock columns aside), no bound violations;
#   2. drrl-eval (modes full, static:4, random, policy): full predicts as drrl-base --eval; the
#      policy's deployed pass chose the environment pass's ranks (rank_diff 0) and replays its
#      logits exactly (replay_max_abs_diff 0); static:4's attention FLOPs ratio < 1; no
#      violations;
#   2b. a checkpoint without the key (written before it existed) loads as per segment;
#   3. the causal decoder: configs/lm-drrl-heads.yaml on configs/lm-tiny.yaml's model trains
#      (8 action heads, no violations) and drrl-eval's policy mode replays it exactly;
#   4. the key's errors; 5. drrl-sweep replays a per-head policy (FLOPs and KL as drrl-eval's
#      policy row on the same joined inputs).
set -euo pipefail
eval_=$(realpath "$1")
train=$(realpath "$2")
base=$(realpath "$3")
sweep=$(realpath "$4")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
rows() { cut -d, -f1-3,6- "$1"; }

"$base" --config configs/imdb-tiny.yaml run.dir="$tmp/base" train.max_steps=10 model.n_layers=2 \
  > "$tmp/base.txt"
model="$tmp/base/model.h5"

# 1. drrl-train per head, straight and resumed
args=(--config configs/imdb-drrl.yaml env.model="$model" env.segment=64 env.per_head=true
      env.ranks=[2,4,8] env.calib_rows=64 latency.buckets=[64,128,256] latency.reps=2
      latency.warmup=1 ppo.iterations=4 ppo.episodes=1 ppo.epochs=1 ppo.minibatch=8
      run.rollouts_every=2 run.checkpoint_every=2)
"$train" "${args[@]}" run.dir="$tmp/ta" > "$tmp/ta.txt"
# (the second run reads the first's latency table: a measured one would differ)
"$train" "${args[@]}" latency.file="$tmp/ta/latency.h5" run.dir="$tmp/tb" run.stop_at=2 \
  > "$tmp/tb1.txt"
"$train" --resume "$tmp/tb" run.stop_at=0 > "$tmp/tb2.txt"
grep -q "resumed from .*iteration 2," "$tmp/tb2.txt" || fail "resume did not start at iteration 2"
grep -q "segment 64 per head (8 action heads), latency table" "$tmp/ta.txt" \
  || fail "environment line: $(grep '^environment:' "$tmp/ta.txt")"
sa=$(state "$tmp/ta.txt"); sb=$(state "$tmp/tb2.txt")
[[ -n "$sa" && "$sa" == "$sb" ]] || fail "per head: resumed state $sb differs from straight $sa"
diff <(rows "$tmp/ta/metrics.csv") <(rows "$tmp/tb/metrics.csv") > /dev/null \
  || fail "per head: metrics differ between the straight and the resumed run"
$py - "$tmp/ta/rollouts/iter-00000004.h5" "$tmp/ta/metrics.csv" <<'PY'
import csv, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
tok, act = f["tok_mask"][()], f["act_mask"][()]    # (steps, envs, tokens), (steps, envs, heads, A)
H = act.shape[2]
if H != 8: sys.exit(f"FAIL: expected 8 action heads (256 / 64 segments x 2 heads), found {H}")
heads = tok[:, :, tok.shape[2] - H:]
pairs = heads.reshape(heads.shape[0], heads.shape[1], 4, 2)
if not (pairs[..., 0] == pairs[..., 1]).all(): sys.exit("FAIL: a segment's heads differ in activity")
if heads.sum(axis=2).max() < 4: sys.exit("FAIL: no step with two segments' heads active")
if not (act.any(axis=3)[heads == 1]).all(): sys.exit("FAIL: an active head has no allowed action")
m = list(csv.DictReader(open(sys.argv[2])))
if any(float(r["bound_violations"]) != 0 for r in m): sys.exit("FAIL: bound violations")
print(f"rollout: {H} heads, active per step {sorted(set(heads.sum(axis=2).ravel().tolist()))}")
PY

# 2. drrl-eval policy mode on the per-head checkpoint
"$base" --eval "$model" --split test --out "$tmp/b" > "$tmp/b.txt"
"$eval_" --checkpoint "$tmp/ta" --split test --reps 1 --resamples 100 --out "$tmp/ev" \
  --modes full,static:4,static:4.4/4,static:2.8/2.8,static:8.2/8.2,random,policy > "$tmp/ev.txt"
cmp "$tmp/b/IMDB.tsv" "$tmp/ev/IMDB.full.tsv" || fail "full mode predicts unlike drrl-base"
$py - "$tmp/ev/eval_test.json" <<'PY'
import json, sys
J = json.load(open(sys.argv[1]))
m = {r["mode"]: r for r in J["modes"]}
p = m["policy"]
if p["rank_diff"] != 0: sys.exit(f"FAIL: deployed ranks differ from the environment's: {p['rank_diff']}")
if p["replay_max_abs_diff"] != 0: sys.exit(f"FAIL: policy replay differs by {p['replay_max_abs_diff']}")
if not 0 < m["static:4"]["attn_flops_ratio"] < 1: sys.exit("FAIL: static:4 FLOPs ratio")
if not 0 < p["attn_flops_ratio"] <= 1: sys.exit(f"FAIL: policy FLOPs ratio {p['attn_flops_ratio']}")
for k, r in m.items():
    if r["violations"] not in (0, None): sys.exit(f"FAIL: {k}: violations {r['violations']}")
print(f"eval per head: policy FLOPs ratio {p['attn_flops_ratio']:.3f}, mean rank "
      f"{sum(p['rank_per_layer']) / len(p['rank_per_layer']):.2f}")
# static ranks per head: heads that agree are the per-layer mode bit for bit; ranks 2 and 8
# swapped between the heads cost the same FLOPs (a head's cost is its own rank's) at mean
# rank 5, between static:2's and static:8's... and the heads are not alike (KL differs)
a, b = m["static:4"], m["static:4.4/4"]
for k in ("attn_flops_ratio", "kl_mean", "accuracy", "agreement", "rank_per_layer"):
    if a[k] != b[k]: sys.exit(f"FAIL: static:4.4/4 {k} {b[k]} != static:4's {a[k]}")
x, y = m["static:2.8/2.8"], m["static:8.2/8.2"]
if x["attn_flops_ratio"] != y["attn_flops_ratio"] or x["rank_per_layer"] != [5, 5] != y["rank_per_layer"]:
    sys.exit(f"FAIL: swapped heads: FLOPs {x['attn_flops_ratio']} vs {y['attn_flops_ratio']}, "
             f"ranks {x['rank_per_layer']} {y['rank_per_layer']}")
if not a["attn_flops_ratio"] < x["attn_flops_ratio"] or x["kl_mean"] == y["kl_mean"]:
    sys.exit(f"FAIL: per head: FLOPs {x['attn_flops_ratio']} vs static:4's {a['attn_flops_ratio']}, "
             f"KL {x['kl_mean']} vs swapped {y['kl_mean']}")
print(f"static per head: 2.8/2.8 KL {x['kl_mean']:.3g}, 8.2/8.2 {y['kl_mean']:.3g} at FLOPs "
      f"{x['attn_flops_ratio']:.4f}")
PY
expect_error "expected one rank per head of the model (2)" "$eval_" --checkpoint "$tmp/ta" \
  --split test --reps 1 --modes full,static:4.4.4/4
expect_error "expected 2 heads (as the layers before)" "$eval_" --checkpoint "$tmp/ta" \
  --split test --reps 1 --modes full,static:4.4/4.4.4
expect_error "ranks per head ('.') and position parts ('+') do not combine" "$eval_" \
  --checkpoint "$tmp/ta" --split test --reps 1 --modes full,static:4.4/4+4/4

# 2b. a checkpoint written before the key existed (its stored config has no per_head line)
# loads as per segment: drrl-eval runs its policy with 4 segment heads
"$train" "${args[@]}" env.per_head=false ppo.iterations=2 latency.file="$tmp/ta/latency.h5" \
  run.dir="$tmp/old" > /dev/null
$py - "$tmp/old/checkpoints/ckpt-00000002.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    t = f["config"][()]
    t = t.decode() if isinstance(t, bytes) else str(t)
    lines = t.splitlines(True)
    keep = [l for i, l in enumerate(lines)
            if "per_head" not in l and not (i + 1 < len(lines) and "per_head:" in lines[i + 1])]
    if len(keep) != len(lines) - 2: sys.exit(f"FAIL: expected a per_head key and its comment")
    del f["config"]
    f.create_dataset("config", data="".join(keep), dtype=h5py.string_dtype())
PY
"$eval_" --checkpoint "$tmp/old/checkpoints/ckpt-00000002.h5" --split test --modes full,policy \
  --reps 1 --resamples 100 --out "$tmp/evo" > "$tmp/evo.txt" || fail "an old checkpoint does not load"
$py -c "
import json, sys
m = {r['mode']: r for r in json.load(open('$tmp/evo/eval_test.json'))['modes']}
sys.exit(0 if m['policy']['rank_diff'] == 0 else 'FAIL: old checkpoint: rank_diff')"
expect_error "ranks per head need a checkpoint trained with a rank per (segment, head)" "$eval_" \
  --checkpoint "$tmp/old/checkpoints/ckpt-00000002.h5" --split test --reps 1 \
  --modes full,static:4.2/4

# 3. the causal decoder with configs/lm-drrl-heads.yaml (on configs/lm-tiny.yaml's model, 2
# heads, rows of 126 bytes: 4 segments of 32 x 2 heads): training runs without violations,
# drrl-eval's policy mode replays its ranks and logits exactly
"$base" --config configs/lm-tiny.yaml run.dir="$tmp/lm" train.max_steps=10 > /dev/null
"$train" --config configs/lm-drrl-heads.yaml env.model="$tmp/lm/model.h5" env.segment=32 \
  env.ranks=[2,4,8] env.calib_rows=32 env.batch=4 latency.buckets=[64,128] latency.reps=2 \
  latency.warmup=1 ppo.iterations=2 ppo.episodes=1 ppo.epochs=1 ppo.minibatch=8 \
  run.rollouts_every=2 run.checkpoint_every=2 run.dir="$tmp/lmh" > "$tmp/lmh.txt"
"$eval_" --checkpoint "$tmp/lmh" --reps 1 --modes full,static:2,policy --out "$tmp/lmev" \
  > "$tmp/lmev.txt"
$py - "$tmp/lmh/rollouts/iter-00000002.h5" "$tmp/lmev/eval.json" <<'PY'
import json, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    H = f["act_mask"].shape[2]
    names = f["info_names"][()]
    names = (names.decode() if isinstance(names, bytes) else str(names)).split()
    viol = f["info"][()][..., names.index("violations")]
if H != 8: sys.exit(f"FAIL: decoder: expected 8 action heads (4 segments x 2 heads), found {H}")
if viol.any(): sys.exit("FAIL: decoder: bound violations in training")
p = {r["mode"]: r for r in json.load(open(sys.argv[2]))["modes"]}["policy"]
if p["rank_diff"] != 0 or p["replay_max_abs_diff"] != 0 or p["violations"] != 0:
    sys.exit(f"FAIL: decoder policy: {p}")
if not 0 < p["attn_flops_ratio"] <= 1: sys.exit(f"FAIL: decoder policy FLOPs {p['attn_flops_ratio']}")
print(f"decoder per head: {H} heads, policy FLOPs ratio {p['attn_flops_ratio']:.3f}")
PY

# 4. errors
expect_error "env.per_head" "$train" "${args[@]}" env.per_head=2 run.dir="$tmp/tx"

# 5. drrl-sweep replays the per-head policy: its FLOPs and KL equal drrl-eval's policy row on
#    the same joined inputs
"$sweep" --checkpoint "$tmp/ta" --lengths 256 --modes full,policy --rows 2 --reps 1 \
  --out "$tmp/sw" > /dev/null
"$eval_" --checkpoint "$tmp/ta" --split test --join 256 --rows 2 --modes full,policy --reps 1 \
  --resamples 10 --out "$tmp/sj" > /dev/null
$py - "$tmp/sw/sweep.csv" "$tmp/sj/eval_test.csv" <<'PY'
import csv, math, sys
p = {r["mode"]: r for r in csv.DictReader(open(sys.argv[1]))}["policy"]
e = {r["mode"]: r for r in csv.DictReader(open(sys.argv[2]))}["policy"]
if int(p["attn_flops"]) * 2 != int(e["attn_flops"]):
    sys.exit(f"FAIL: sweep per-head FLOPs {p['attn_flops']} x 2 rows != drrl-eval's {e['attn_flops']}")
if not math.isclose(float(p["kl"]), float(e["kl_mean"]), rel_tol=5e-6, abs_tol=0):
    sys.exit(f"FAIL: sweep per-head KL {p['kl']} vs drrl-eval {e['kl_mean']}")
print(f"sweep per head: FLOPs {p['attn_flops']} and KL {p['kl']} as drrl-eval's")
PY
echo "test_train_heads: ok"
