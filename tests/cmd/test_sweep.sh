#!/usr/bin/env bash
# test_sweep.sh: drrl-sweep end to end on a tiny byte-level IMDB model (configs/imdb-tiny.yaml,
# 20 steps; conv positions, 1 layer, d=32, 2 heads; run from the source root). Checks:
#   1. the CSV has every (length, mode) row at lengths 64 and 128;
#   2. full: flops_ratio 1 and kl 0; static:4: flops_ratio < 1;
#   3. full's attention FLOPs equal attention/exact.h's closed form at N = L + 2 tokens
#      (8 N d^2 + 5 N d + 4 N^2 d + 27 H N^2 per layer), so flops(128) / flops(64) > 2;
#   4. errors: an SST-2 model is refused; a learned-position model refuses a length past
#      its max_pos; a bad mode.
#   5. scripts/plot_sweep.py draws both pictures from the CSV;
#   6. the policy mode (--checkpoint, a 2-iteration drrl-train run with 4 segment heads): its
#      row's counted attention FLOPs and KL equal drrl-eval's policy row on the same joined
#      inputs (drrl-eval --join L --rows 2: the same decisions replayed by two tools), its mean
#      rank lies within the grid, its FLOPs ratio within (0, 1]; the errors of policy without a
#      checkpoint, a --model other than the checkpoint's, --calib with --checkpoint, and
#      --join on the dev split; drrl-eval --rows K alone keeps the split's first K inputs.
set -euo pipefail
sweep=$(realpath "$1"); base=$(realpath "$2"); train=$(realpath "$3"); eval_=$(realpath "$4")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$base" --config configs/imdb-tiny.yaml run.dir="$tmp/m" train.max_steps=20 > /dev/null
"$sweep" --model "$tmp/m/model.h5" --lengths 64,128 --modes full,static:4,nystrom:8,performer:8 \
  --rows 2 --reps 1 --out "$tmp/s" > "$tmp/out.txt"
cat "$tmp/out.txt"
grep -q "^| 128 | performer:8 | 2 |" "$tmp/out.txt" || fail "table row missing"
grep -q "^wrote $tmp/s/sweep.csv$" "$tmp/out.txt" || fail "no closing summary"

/usr/bin/python3 - "$tmp/s/sweep.csv" <<'PY'
import csv, sys
rows = {(int(r["length"]), r["mode"]): r for r in csv.DictReader(open(sys.argv[1]))}
modes = ["full", "static:4", "nystrom:8", "performer:8"]
missing = [(L, m) for L in (64, 128) for m in modes if (L, m) not in rows]
if missing or len(rows) != 8:
    sys.exit(f"FAIL: rows missing {missing} (found {sorted(rows)})")
for L in (64, 128):
    f, s = rows[(L, "full")], rows[(L, "static:4")]
    if float(f["flops_ratio"]) != 1 or float(f["kl"]) != 0:
        sys.exit(f"FAIL: full at {L}: flops_ratio {f['flops_ratio']} kl {f['kl']}")
    if not float(s["flops_ratio"]) < 1:
        sys.exit(f"FAIL: static:4 at {L}: flops_ratio {s['flops_ratio']}")
    for m in modes:
        r = rows[(L, m)]
        if not (float(r["latency_ms"]) > 0 and float(r["kl"]) >= 0 and int(r["rows"]) == 2):
            sys.exit(f"FAIL: {L} {m}: {r}")
d, H, layers = 32, 2, 1
closed = lambda N: layers * (8 * N * d * d + 5 * N * d + 4 * N * N * d + 27 * H * N * N)
for L in (64, 128):
    got = int(rows[(L, "full")]["attn_flops"])
    if got != closed(L + 2):
        sys.exit(f"FAIL: full flops at {L}: {got}, closed form {closed(L + 2)}")
ratio = int(rows[(128, "full")]["attn_flops"]) / int(rows[(64, "full")]["attn_flops"])
if not ratio > 2:
    sys.exit(f"FAIL: flops(128)/flops(64) = {ratio}")
print(f"csv ok: 8 rows, full flops = closed form, flops(128)/flops(64) = {ratio:.3f}")
PY

"$base" --config configs/tiny.yaml run.dir="$tmp/sst" train.max_steps=2 > /dev/null
expect_error "expected a byte-level IMDB model (data.format: imdb), found data.format: sst2" \
  "$sweep" --model "$tmp/sst/model.h5" --lengths 64 --modes full --rows 1 --reps 1
"$base" --config configs/imdb-tiny.yaml model.position=learned run.dir="$tmp/l" train.max_steps=2 > /dev/null
"$sweep" --model "$tmp/l/model.h5" --lengths 128 --modes full,nystrom:8 --rows 1 --reps 1 > /dev/null \
  || fail "learned model within its max_pos"
expect_error "--lengths: 512 bytes need 514 tokens ([CLS] and [SEP] added), more than the max_pos 256" \
  "$sweep" --model "$tmp/l/model.h5" --lengths 128,512 --modes full --rows 1 --reps 1
expect_error "--modes: 'static:x': expected a positive integer rank, found 'x'" \
  "$sweep" --model "$tmp/m/model.h5" --modes full,static:x

/usr/bin/python3 scripts/plot_sweep.py "$tmp/s/sweep.csv" --out "$tmp/pics" > /dev/null
[[ -s "$tmp/pics/sweep_latency.png" && -s "$tmp/pics/sweep_flops.png" && -s "$tmp/pics/sweep_fidelity.png" ]] || fail "pictures missing"
# 6. the policy mode
"$train" --config configs/imdb-drrl.yaml env.model="$tmp/m/model.h5" env.segment=64 \
  env.ranks=[2,4,8] env.calib_rows=64 latency.buckets=[64,128,256] latency.reps=1 \
  latency.warmup=0 ppo.iterations=2 ppo.episodes=1 ppo.epochs=1 ppo.minibatch=8 \
  run.checkpoint_every=2 run.dir="$tmp/p" > /dev/null
"$sweep" --checkpoint "$tmp/p" --lengths 128,256 --modes full,static:2,static:8,policy --rows 2 \
  --reps 1 --out "$tmp/pp" > "$tmp/pout.txt"
grep -q "^| 256 | policy | 2 |" "$tmp/pout.txt" || fail "policy row missing: $(cat "$tmp/pout.txt")"
if grep -q "^environment:" "$tmp/pout.txt"; then fail "environment lines inside the table"; fi
for L in 128 256; do
  "$eval_" --checkpoint "$tmp/p" --split test --join $L --rows 2 --modes full,policy --reps 1 \
    --resamples 10 --out "$tmp/e$L" > "$tmp/e$L.txt"
  grep -q "^data: 2 inputs of $L bytes joined from same-label reviews of" "$tmp/e$L.txt" \
    || fail "drrl-eval --join data line at $L"
done
/usr/bin/python3 - "$tmp/pp/sweep.csv" "$tmp/e128/eval_test.csv" "$tmp/e256/eval_test.csv" <<'PY'
import csv, math, sys
sw = {(int(r["length"]), r["mode"]): r for r in csv.DictReader(open(sys.argv[1]))}
for L, path in ((128, sys.argv[2]), (256, sys.argv[3])):
    ev = {r["mode"]: r for r in csv.DictReader(open(path))}
    p, e = sw[(L, "policy")], ev["policy"]
    if int(p["attn_flops"]) * 2 != int(e["attn_flops"]):
        sys.exit(f"FAIL: {L}: sweep policy FLOPs {p['attn_flops']} x 2 rows != drrl-eval's {e['attn_flops']}")
    if not math.isclose(float(p["kl"]), float(e["kl_mean"]), rel_tol=5e-6, abs_tol=0):
        sys.exit(f"FAIL: {L}: sweep policy KL {p['kl']} vs drrl-eval {e['kl_mean']}")
    if not 2 <= float(p["mean_rank"]) <= 16 or not 0 < float(p["flops_ratio"]) <= 1:
        sys.exit(f"FAIL: {L}: policy rank {p['mean_rank']} flops ratio {p['flops_ratio']}")
    if not float(p["policy_ms"]) > 0 or float(p["latency_ms"]) <= 0:
        sys.exit(f"FAIL: {L}: policy_ms {p['policy_ms']} latency {p['latency_ms']}")
    if float(e["attn_ratio"]) <= 0 or float(ev["full"]["attn_ratio"]) != 1:
        sys.exit(f"FAIL: {L}: drrl-eval attn_ratio {e['attn_ratio']} / full {ev['full']['attn_ratio']}")
    print(f"policy at {L}: FLOPs {p['attn_flops']} and KL {p['kl']} as drrl-eval's; rank {p['mean_rank']}")
PY
expect_error "--modes: 'static:4/8+8/4': position parts ('+') need --checkpoint" \
  "$sweep" --model "$tmp/m/model.h5" --lengths 128 --modes full,static:4/8+8/4
expect_error "--modes: 'static:4.4/8': expected one rank per layer (ranks per head belong to drrl-eval)" \
  "$sweep" --model "$tmp/m/model.h5" --lengths 128 --modes full,static:4.4/8
expect_error "--modes: 'static:4/8/8/8/8/8/8/8/8': expected one rank per layer of the model" \
  "$sweep" --model "$tmp/m/model.h5" --lengths 128 --modes full,static:4/8/8/8/8/8/8/8/8
# full is the reference wherever it is listed; --print-config reads the stored config only
"$sweep" --model "$tmp/m/model.h5" --lengths 64 --modes static:4,full --rows 1 --reps 1 \
  --out "$tmp/o2" > /dev/null
awk -F, 'NR == 2 && ($2 != "full" || $6 + 0 != 1) { exit 1 }' "$tmp/o2/sweep.csv" \
  || fail "full is not the first row and reference: $(cat "$tmp/o2/sweep.csv")"
"$sweep" --model "$tmp/m/model.h5" --print-config data.max_len=99 > "$tmp/pc.txt"
grep -q '^  max_len: 99$' "$tmp/pc.txt" || fail "--print-config: data.max_len=99 not applied"
expect_error "seed: expected --seed N" "$sweep" --model "$tmp/m/model.h5" seed=3
expect_error "--modes: policy: expected --checkpoint" \
  "$sweep" --model "$tmp/m/model.h5" --lengths 64 --modes full,policy
expect_error "--model $tmp/l/model.h5: expected the checkpoint's model" \
  "$sweep" --checkpoint "$tmp/p" --model "$tmp/l/model.h5" --lengths 64
expect_error "--calib: expected none with --checkpoint" "$sweep" --checkpoint "$tmp/p" --calib 8
# --rows alone: the split's first K inputs (3 of them are the first 3 of --rows 5)
for k in 3 5; do
  "$eval_" --checkpoint "$tmp/p" --rows $k --modes full --reps 1 --out "$tmp/r$k" > /dev/null
done
i3=$(cut -f1 "$tmp/r3/per_input.tsv" | tail -n +2 | tr '\n' ' ')
i5=$(cut -f1 "$tmp/r5/per_input.tsv" | tail -n +2 | head -3 | tr '\n' ' ')
[[ "$(tail -n +2 "$tmp/r5/per_input.tsv" | wc -l)" == 5 && "$i3" == "$i5" && -n "$i3" ]] \
  || fail "--rows: the first 3 of 5 ($i5) vs --rows 3 ($i3)"
expect_error "--join: expected the test split" "$eval_" --checkpoint "$tmp/p" --join 128
echo "test_sweep: ok"
