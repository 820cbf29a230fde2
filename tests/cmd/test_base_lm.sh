#!/usr/bin/env bash
# test_base_lm.sh BASE TRAIN GENERATE: the byte-level language model (model.arch: decoder,
# configs/lm-tiny.yaml) through the programs:
#   - drrl-base trains it (30 steps) and --eval at 2x the training length reports the bits per
#     byte and top-1 next-byte accuracy that scripts/lm_check.py computes independently (the
#     rows rebuilt in Python, the weights run by a plain-PyTorch GPT-2 in float64);
#   - a resumed run ends in the straight run's training state (sha256);
#   - drrl-generate continues a prompt (full and rank-4 caches) and --bench writes decode.csv
#     with bytes per token in the ratio r / dh;
#   - drrl-train learns on it: its latency table is measured under the causal mask (attribute
#     causal = 1), the rollouts' last-layer KL is positive and finite, and a mode the decoder
#     cannot run (env.head_features) is refused;
#   - drrl-eval's perplexity table: full's bits per byte equal drrl-base --eval's on the dev
#     split, lower-rank modes have KL > 0 and fewer FLOPs, intervals contain their estimate,
#     Nystrom is refused with the reason; per_input.tsv's per-row bits per byte and KL average
#     (rows of equal length) to the table's, and scripts/oracle.py reads it;
#   - --eval --limit N matches lm_check.py on the first N reviews.
set -euo pipefail
base=$(realpath "$1")
train=$(realpath "$2")
gen=$(realpath "$3")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$base" --config configs/lm-tiny.yaml run.dir="$tmp/lm" train.max_steps=30 > "$tmp/base.txt"
grep -q "^data: .* train rows (.* rows of 126 bytes of 160 reviews" "$tmp/base.txt" \
  || fail "data line: $(grep '^data:' "$tmp/base.txt")"
# the whole test file, then its first 7 reviews (--limit), each against lm_check.py
for lim in 0 7; do
"$base" --eval "$tmp/lm/model.h5" --split test --limit $lim data.max_len=256 > "$tmp/eval.txt"
ours=$(sed -n 's/.*: \([0-9.]*\) bits per byte .*top-1 next byte \([0-9.]*\)$/\1 \2/p' "$tmp/eval.txt")
[[ -n "$ours" ]] || fail "no bits per byte in: $(cat "$tmp/eval.txt")"
ref=$($py scripts/lm_check.py "$tmp/lm/model.h5" data/imdb-sample/test.tsv.gz 256 $lim)
$py - "$ours" "$ref" <<'PY' || fail "drrl-base --eval --limit $lim ($ours) vs lm_check.py ($ref)"
import sys
b, t = map(float, sys.argv[1].split())
r = sys.argv[2].split()
rb, rt = float(r[1]), float(r[3])
print("bits per byte: ours %.4f, PyTorch %.6f; top-1: ours %.4f, PyTorch %.6f" % (b, rb, t, rt))
assert abs(b - rb) <= 6e-5 and abs(t - rt) <= 6e-5  # ours printed to 4 decimals
PY
rows=$(sed -n 's/.* over \([0-9]*\) documents in \([0-9]*\) rows.*/\2/p' "$tmp/eval.txt")
[[ "$rows" == "$(echo "$ref" | awk '{print $6}')" ]] || fail "--limit $lim: rows $rows vs $ref"
done

# resume: 15 steps, then on to 30, equals the straight run
"$base" --config configs/lm-tiny.yaml run.dir="$tmp/lm2" train.max_steps=15 > /dev/null
"$base" --resume "$tmp/lm2" train.max_steps=30 > "$tmp/resume.txt"
[[ "$(state "$tmp/resume.txt")" == "$(state "$tmp/base.txt")" ]] || fail "resume state differs"

# drrl-generate
"$gen" --model "$tmp/lm/model.h5" --prompt "This film" --tokens 40 > "$tmp/g0.txt"
"$gen" --model "$tmp/lm/model.h5" --prompt "This film" --tokens 40 --rank 4 > "$tmp/g4.txt"
grep -q "^This film" "$tmp/g0.txt" && grep -q "^This film" "$tmp/g4.txt" || fail "generate"
"$gen" --model "$tmp/lm/model.h5" --bench --ranks 4,8 --contexts 64,128 --window 8 \
  --out "$tmp/dec" > "$tmp/bench.txt"
$py - "$tmp/dec/decode.csv" <<'PY' || fail "decode.csv"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 6, rows
for r in rows:
    want = 1.0 if r["cache"] == "full" else int(r["rank"]) / 16.0  # dh = 32 / 2
    assert abs(float(r["bytes_vs_full"]) - want) < 1e-9, r
    assert float(r["sec_per_token"]) > 0, r
PY
expect_error "expected exactly one of --prompt and --bench" "$gen" --model "$tmp/lm/model.h5"

# drrl-train on the decoder
"$train" --config configs/imdb-drrl.yaml env.model="$tmp/lm/model.h5" env.segment=32 \
  env.ranks=[2,4,8] env.calib_rows=32 latency.buckets=[64,128] latency.reps=2 \
  latency.warmup=1 ppo.iterations=2 ppo.episodes=1 ppo.epochs=1 ppo.minibatch=8 \
  run.rollouts_every=1 run.checkpoint_every=2 run.dir="$tmp/drrl" > "$tmp/train.txt"
$py - "$tmp/drrl/latency.h5" "$tmp/drrl/rollouts/iter-00000002.h5" <<'PY' || fail "drrl-train"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    assert f["latency"].attrs["causal"] == 1, dict(f["latency"].attrs)
with h5py.File(sys.argv[2], "r") as f:
    names = f["info_names"][()]
    names = (names.decode() if isinstance(names, bytes) else str(names)).split()
    info = f["info"][()]  # (steps, slots, info)
kl = info[..., names.index("kl")]
assert np.all(np.isfinite(kl)) and kl[-1].min() >= 0 and kl[-1].max() > 0 and not kl[:-1].any(), kl
print("drrl-train on the decoder: causal latency table, last-layer KL", kl[-1].mean())
PY
# drrl-eval on the decoder: the perplexity table; full's bits per byte equal drrl-base --eval's
# on the same split (the ranked forward and eval/eval_lm.c against lm_forward and base_lm.c)
eval_=$(dirname "$train")/drrl-eval
"$eval_" --checkpoint "$tmp/drrl" --reps 1 --modes full,static:2,performer:8,policy \
  --out "$tmp/ev" > "$tmp/ev.txt"
grep -q "^drrl-eval (language model)" "$tmp/ev.txt" || fail "no perplexity table: $(cat "$tmp/ev.txt")"
"$base" --eval "$tmp/lm/model.h5" > "$tmp/dev.txt"
dev=$(sed -n 's/.*: \([0-9.]*\) bits per byte .*/\1/p' "$tmp/dev.txt")
$py - "$tmp/ev/eval.json" "$dev" <<'PY' || fail "drrl-eval's perplexity table"
import json, sys
m = {r["mode"]: r for r in json.load(open(sys.argv[1]))["modes"]}
full, dev = m["full"], float(sys.argv[2])
assert abs(full["bits_per_byte"] - dev) <= 6e-5, (full["bits_per_byte"], dev)
assert full["kl_mean"] == 0 and full["agreement"] == 1, full
for k in ("static:2", "performer:8"):
    r = m[k]
    assert r["kl_mean"] > 0 and r["attn_flops_ratio"] < 1, r
    assert r["bpb_ci_low"] <= r["bits_per_byte"] <= r["bpb_ci_high"], r
assert m["policy"]["accuracy"] is None and m["policy"]["top1"] > 0
print("drrl-eval: full %.5f bits/byte = drrl-base --eval %.4f" % (full["bits_per_byte"], dev))
# per_input.tsv: every row has the same number of targets, so the rows' means are the table's
import csv, os
rows = list(csv.DictReader(open(os.path.join(os.path.dirname(sys.argv[1]), "per_input.tsv")),
                           delimiter="\t"))
assert rows and len({r["length"] for r in rows}) == 1, len(rows)
for k in m:
    b = sum(float(r["bits:" + k]) for r in rows) / len(rows)
    kl = sum(float(r["kl:" + k]) for r in rows) / len(rows)
    assert abs(b - m[k]["bits_per_byte"]) <= 1e-5, (k, b, m[k]["bits_per_byte"])
    assert abs(kl - m[k]["kl_mean"]) <= 1e-6 * m[k]["kl_mean"] + 1e-12, (k, kl, m[k]["kl_mean"])
assert all(abs(float(r["bits_full"]) - float(r["bits:full"])) <= 1e-6 for r in rows)
print("per_input.tsv: %d rows, means equal the table's" % len(rows))
PY
$py scripts/oracle.py "$tmp/ev" --cost flops > "$tmp/oracle.txt" \
  || fail "oracle.py on a decoder's per_input.tsv: $(cat "$tmp/oracle.txt")"
expect_error "nystrom:8: expected a mode a causal decoder can run" "$eval_" --checkpoint \
  "$tmp/drrl" --reps 1 --modes full,nystrom:8
# drrl-sweep on the decoder: per-token KL, 0 for full, > 0 at rank 2; bits per byte and KL
# as drrl-eval's on the same joined inputs (--join 256); Nystrom refused
sweep=$(dirname "$train")/drrl-sweep
# (with fixed rules per layer and by position: rows of 258 tokens are 9 segments of 32, parts
# 0-4 and 5-8, so static:8/2+2/8 has mean rank (5 x 8 + 4 x 2 + 5 x 2 + 4 x 8) / 18 = 5)
M=full,static:2,static:2/8,static:8/2+2/8
"$sweep" --checkpoint "$tmp/drrl" --lengths 256 --rows 2 --reps 1 --modes $M \
  --out "$tmp/sw" > /dev/null
"$eval_" --checkpoint "$tmp/drrl" --split test --join 256 --rows 2 --modes $M \
  --reps 1 --resamples 10 --out "$tmp/sj" > /dev/null
$py - "$tmp/sw/sweep.csv" "$tmp/sj/eval_test.json" <<'PY' || fail "drrl-sweep on the decoder"
import csv, json, math, sys
m = {r["mode"]: r for r in csv.DictReader(open(sys.argv[1]))}
e = {r["mode"]: r for r in json.load(open(sys.argv[2]))["modes"]}
assert float(m["full"]["kl"]) == 0 and float(m["static:2"]["kl"]) > 0, m
for k in ("full", "static:2", "static:2/8", "static:8/2+2/8"):
    b, eb = float(m[k]["bits_per_byte"]), e[k]["bits_per_byte"]
    assert math.isclose(b, eb, rel_tol=1e-6), (k, b, eb)
    assert math.isclose(float(m[k]["kl"]), e[k]["kl_mean"], rel_tol=5e-6, abs_tol=1e-12), k
    assert int(m[k]["attn_flops"]) * 2 == e[k]["attn_flops"], (k, m[k]["attn_flops"], e[k]["attn_flops"])
for k in ("static:2/8", "static:8/2+2/8"):
    assert float(m[k]["mean_rank"]) == 5.0, (k, m[k]["mean_rank"])
assert float(m["static:8/2+2/8"]["kl"]) != float(m["static:2/8"]["kl"]), m
print("drrl-sweep: bits per byte %s (full), %s (static:2), %s (static:8/2+2/8) as drrl-eval's"
      % (m["full"]["bits_per_byte"], m["static:2"]["bits_per_byte"],
         m["static:8/2+2/8"]["bits_per_byte"]))
PY
expect_error "nystrom:8: expected a mode a causal decoder can run" "$sweep" --checkpoint \
  "$tmp/drrl" --lengths 256 --modes full,nystrom:8
expect_error "head features" "$train" --config configs/imdb-drrl.yaml \
  env.model="$tmp/lm/model.h5" env.head_features=true env.calib_rows=32 env.ranks=[2,4,8] \
  latency.buckets=[64,128] ppo.iterations=1 run.dir="$tmp/drrl2"
echo "test_base_lm: ok"
