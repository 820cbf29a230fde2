#!/usr/bin/env bash
# test_eval.sh: drrl-eval end to end (run from the source root) on a tiny frozen model trained
# here with drrl-base (configs/tiny.yaml) and a 2-iteration policy trained on it by drrl-train:
#   1. every default mode on dev (--predictions): the table's arithmetic against values this
#      test computes itself from the GLUE prediction files and data/sst2/dev.tsv (accuracy,
#      correct counts, agreement, McNemar's discordant pairs and exact p with Python's
#      integer binomials, the bootstrap interval's width against the binomial standard
#      error), FLOPs ratios from the raw counts, static FLOPs between r/dh and 1 and
#      increasing with r, and the non-attention FLOPs of every mode equal to the closed form
#      L (4 C F + F + C) per real token + 2 C^2 + C + 2 C K + K per sentence, with the real
#      token counts from the independent tokenizer scripts/wordpiece_ref.py; the CSV equal to
#      the JSON; no bound violations; the policy never above the guardrail; random at the
#      policy's ranks per layer;
#   2. full mode's predictions and accuracy equal drrl-base --eval's exactly (dev and test);
#      scripts/plot_eval.py draws its three pictures from the run (when matplotlib is there);
#   3. --split test: a GLUE file per mode (index, prediction; 1821 rows), accuracy null;
#   4. bad input: a checkpoint of another base model, a missing data file, an unknown mode,
#      a rank outside the grid, a missing checkpoint: non-zero exit, a clear message, and
#      nothing written.
set -euo pipefail
evalx=$(realpath "$1")
train=$(realpath "$2")
base=$(realpath "$3")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# the tiny frozen model (and a second one, for the mismatch case), and a short policy
"$base" --config configs/tiny.yaml run.dir="$tmp/base" > "$tmp/base.txt"
"$base" --config configs/tiny.yaml run.dir="$tmp/base2" train.max_steps=5 seed=2 > /dev/null
pol=(env.model="$tmp/base/model.h5" env.ranks=[2,4,8,16] env.batch=16 env.calib_rows=512
     ppo.iterations=2 ppo.minibatch=32 latency.buckets=[8,16,24,40] latency.reps=2
     latency.warmup=1 run.dir="$tmp/pol")
"$train" "${pol[@]}" > "$tmp/train.txt"
ckpt="$tmp/pol/checkpoints/ckpt-00000002.h5"
[[ -s "$ckpt" ]] || fail "no policy checkpoint"

# 1. every default mode on dev; the default output directory is the checkpoint's
"$evalx" --checkpoint "$tmp/pol" --reps 1 --predictions > "$tmp/eval.txt"
grep -q '^drrl-eval: timed forwards  [0-9]*/[0-9]* (100%)  elapsed .*s  ETA 0.0s$' "$tmp/eval.txt" \
  || fail "no final progress line with an ETA"
out="$tmp/pol/checkpoints"
for f in eval.csv eval.json dev.full.tsv dev.policy.tsv dev.random.tsv dev.static-8.tsv \
         dev.nystrom-16.tsv dev.performer-32.tsv; do
  [[ -s "$out/$f" ]] || fail "$f missing"
done
ls "$out" | grep -q '\.tmp' && fail "temporary file left behind"
grep -q '^| policy | ' "$tmp/eval.txt" || fail "no policy row in the table"

# 2. full = drrl-base --eval, dev and test
"$base" --eval "$tmp/base/model.h5" --split dev --out "$tmp/base_dev" > "$tmp/base_eval.txt"
cmp "$out/dev.full.tsv" "$tmp/base_dev/SST-2.tsv" || fail "full mode predicts differently from drrl-base --eval"
base_correct=$(sed -n 's/^.*accuracy [0-9.]* (\([0-9]*\)\/872)$/\1/p' "$tmp/base_eval.txt")
[[ -n "$base_correct" ]] || fail "no accuracy line in drrl-base --eval's output"

python3 - "$out" "$base_correct" "$tmp" <<'EOF'
import csv, json, math, subprocess, sys
out, base_correct, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
J = json.load(open(f"{out}/eval.json"))
modes = {m["mode"]: m for m in J["modes"]}
need = ["mode", "accuracy", "ci_low", "ci_high", "agreement", "kl_mean", "mcnemar_p",
        "attn_flops_ratio", "latency_ms"]
expected = ["full", "static:2", "static:4", "static:8", "static:16", "random", "nystrom:8",
            "nystrom:16", "nystrom:32", "performer:8", "performer:16", "performer:32", "policy"]
for name in expected:
    assert name in modes, f"mode {name} missing: {list(modes)}"
    for k in need:
        assert k in modes[name], f"{name}: key {k} missing"
assert any(n.startswith("static-plain:") for n in modes), "no static-plain mode"

def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)

rows = list(csv.reader(open("data/sst2/dev.tsv", encoding="utf-8"), delimiter="\t",
                       quoting=csv.QUOTE_NONE))
labels = [int(r[-1]) for r in rows[1:]]
sents = [r[0].strip() for r in rows[1:]]
n = len(labels)
def preds(name):
    lines = open(f"{out}/dev.{name.replace(':', '-')}.tsv").read().split("\n")
    assert lines[0] == "index\tprediction" and lines[-1] == "", f"{name}: prediction file layout"
    p = [tuple(map(int, l.split("\t"))) for l in lines[1:-1]]
    assert [i for i, _ in p] == list(range(n)), f"{name}: indices"
    return [y for _, y in p]

full = preds("full")
F = modes["full"]
if F["correct"] != base_correct or F["accuracy"] != base_correct / n:
    fail(f"full: correct {F['correct']}, accuracy {F['accuracy']} vs drrl-base's {base_correct}/{n}")

def mcnemar(b, c):  # exact two-sided, integer binomials
    m, k = min(b, c), b + c
    if k == 0: return 1.0
    return min(1.0, 2 * sum(math.comb(k, i) for i in range(m + 1)) / 2 ** k)

for name, M in modes.items():
    p = preds(name)
    correct = sum(int(a == y) for a, y in zip(p, labels))
    agree = sum(int(a == f) for a, f in zip(p, full))
    b = sum(int(f == y and a != y) for a, f, y in zip(p, full, labels))
    c = sum(int(f != y and a == y) for a, f, y in zip(p, full, labels))
    acc = correct / n
    if M["correct"] != correct or abs(M["accuracy"] - acc) > 1e-15:
        fail(f"{name}: accuracy {M['accuracy']} vs recomputed {acc}")
    if M["agree"] != agree or abs(M["agreement"] - agree / n) > 1e-15:
        fail(f"{name}: agreement {M['agreement']} vs recomputed {agree / n}")
    if (M["mcnemar_b"], M["mcnemar_c"]) != (b, c):
        fail(f"{name}: McNemar pairs {M['mcnemar_b']},{M['mcnemar_c']} vs {b},{c}")
    if abs(M["mcnemar_p"] - mcnemar(b, c)) > 1e-9 * mcnemar(b, c) + 1e-300:
        fail(f"{name}: McNemar p {M['mcnemar_p']} vs {mcnemar(b, c)}")
    sd = math.sqrt(acc * (1 - acc) / n)
    if not (M["ci_low"] <= acc <= M["ci_high"]) or abs((M["ci_high"] - M["ci_low"]) - 3.92 * sd) > 0.25 * 3.92 * sd:
        fail(f"{name}: CI [{M['ci_low']}, {M['ci_high']}] around {acc} (sd {sd})")
    if M["attn_flops_ratio"] != M["attn_flops"] / F["attn_flops"] or \
       M["model_flops_ratio"] != M["model_flops"] / F["model_flops"]:
        fail(f"{name}: FLOPs ratios differ from the counts")
    if M["kl_mean"] < 0 or (name == "full" and M["kl_mean"] != 0):
        fail(f"{name}: KL {M['kl_mean']}")
    if M["violations"] not in (None, 0):
        fail(f"{name}: {M['violations']} bound violations")

# FLOPs: static ranks between r/dh and 1, increasing; full exactly 1
dh = J["head_size"]
st = sorted((int(k.split(":")[1]), m["attn_flops_ratio"]) for k, m in modes.items() if k.startswith("static:"))
for (r, f) in st:
    if not (r / dh <= f < 1):
        fail(f"static:{r}: attention FLOPs ratio {f} outside [{r / dh}, 1)")
if [f for _, f in st] != sorted(f for _, f in st):
    fail(f"static FLOPs ratios not increasing with rank: {st}")
if F["attn_flops_ratio"] != 1 or F["model_flops_ratio"] != 1:
    fail("full's ratios are not 1")

# the non-attention FLOPs: closed form on the real tokens (independent tokenizer)
cfg = {}
for line in open("configs/tiny.yaml"):
    key, _, val = line.split("#")[0].partition(":")
    if key.strip() in ("d_model", "d_ff", "n_layers", "max_len"):
        cfg[key.strip()] = int(val)
C, Fd, L, max_len, K = cfg["d_model"], cfg["d_ff"], cfg["n_layers"], cfg["max_len"], 2
ids = subprocess.run(["python3", "scripts/wordpiece_ref.py", "data/vocab/bert-base-uncased-vocab.txt"],
                     input="\n".join(sents) + "\n", capture_output=True, text=True, check=True).stdout
lens = [min(2 + len(l.split()), max_len) for l in ids.split("\n")[:n]]
rest = sum(lens) * L * (4 * C * Fd + Fd + C) + n * (2 * C * C + C + 2 * C * K + K)
for name, M in modes.items():
    if M["model_flops"] - M["attn_flops"] != rest:
        fail(f"{name}: model - attention FLOPs {M['model_flops'] - M['attn_flops']} vs closed form {rest}")

# guardrail and random
P, R = modes["policy"], modes["random"]
if P["over_eps"] != 0:
    fail(f"policy: {P['over_eps']} of its layers above the guardrail's epsilon")
if any(abs(a - b) > 1e-9 for a, b in zip(P["rank_per_layer"], R["rank_per_layer"])):
    fail(f"random's ranks per layer {R['rank_per_layer']} differ from the policy's {P['rank_per_layer']}")
for name in ("nystrom:16", "performer:16"):
    if modes[name]["rank_per_layer"] is not None:
        fail(f"{name}: has ranks")

# the CSV says what the JSON says
for r in csv.DictReader(open(f"{out}/eval.csv")):
    M = modes[r["mode"]]
    for k in ("accuracy", "ci_low", "ci_high", "agreement", "kl_mean", "mcnemar_p",
              "attn_flops_ratio", "model_flops_ratio", "latency_ms"):
        if float(r[k]) != M[k]:
            fail(f"CSV {r['mode']} {k}: {r[k]} vs JSON {M[k]}")
print(f"test_eval: dev arithmetic ok ({len(modes)} modes, full accuracy {F['accuracy']:.4f})")
EOF

# the pictures (scripts/plot_eval.py, Debian's python3-matplotlib)
if /usr/bin/python3 -c "import matplotlib" 2> /dev/null; then
  /usr/bin/python3 scripts/plot_eval.py "$out" --out "$tmp/pics" > "$tmp/pics.txt"
  for p in pareto rank_heatmap training; do
    [[ -s "$tmp/pics/$p.png" ]] || fail "plot_eval.py: $p.png missing: $(cat "$tmp/pics.txt")"
  done
else
  echo "test_eval: note: python3-matplotlib missing, the pictures are not checked"
fi

# 3. test split: GLUE files, full = drrl-base's
"$evalx" --checkpoint "$ckpt" --split test --modes full,static:8,policy --reps 1 \
  --out "$tmp/test" > "$tmp/test.txt"
"$base" --eval "$tmp/base/model.h5" --split test --out "$tmp/base_test" > /dev/null
cmp "$tmp/test/SST-2.full.tsv" "$tmp/base_test/SST-2.tsv" || fail "test: full differs from drrl-base"
for m in full static-8 policy; do
  f="$tmp/test/SST-2.$m.tsv"
  [[ $(wc -l < "$f") -eq 1822 ]] || fail "$f: expected 1821 rows + header"
  head -1 "$f" | grep -qx $'index\tprediction' || fail "$f: header"
done
python3 -c "
import json, sys
J = json.load(open('$tmp/test/eval_test.json'))
assert J['split'] == 'test' and J['n_labeled'] == 0
for m in J['modes']:
    assert m['accuracy'] is None and m['ci_low'] is None and m['mcnemar_p'] is None, m['mode']
    assert 0 <= m['agreement'] <= 1
" || fail "test split JSON"

# 3b. the margin rule: threshold 0 never raises the rank (= static:LO input by input), a
# threshold above any margin always does (= static:HI); each input of this one-layer model
# runs wholly at LO or HI (its KL is one of theirs), more of them at HI as the threshold
# grows. At layer 0 the CLS row (token, type and learned position 0) is the same for every
# input, so its margin is one number: the thresholds switch all inputs at once
th=(0.1 0.3 0.35 0.4 0.45 0.5)
"$evalx" --checkpoint "$ckpt" --reps 1 --out "$tmp/margin" --modes "full,static:2,static:8,$(
  printf 'margin:2/8@0<%s,' 0 1e9 "${th[@]}" | sed 's/,$//')" > /dev/null
python3 - "$tmp/margin" "${th[@]}" <<'EOF' || fail "margin rule"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/per_input.tsv"), delimiter="\t"))
J = {m["mode"]: m for m in json.load(open(sys.argv[1] + "/eval.json"))["modes"]}
lo, hi = J["static:2"], J["static:8"]
assert J["margin:2/8@0<0"]["attn_flops"] == lo["attn_flops"]
assert J["margin:2/8@0<1e9"]["attn_flops"] == hi["attn_flops"]
prev, mixed = -1, 0
for t in sys.argv[2:]:
    m, n_hi = f"margin:2/8@0<{t}", 0
    for r in rows:
        assert r["kl:margin:2/8@0<0"] == r["kl:static:2"], r
        assert r["kl:margin:2/8@0<1e9"] == r["kl:static:8"], r
        assert r["kl:" + m] in (r["kl:static:2"], r["kl:static:8"]), (m, r)
        n_hi += r["kl:" + m] != r["kl:static:2"]
    assert n_hi >= prev, (m, n_hi, prev)
    assert lo["attn_flops"] <= J[m]["attn_flops"] <= hi["attn_flops"], m
    assert n_hi in (0, len(rows)), (m, n_hi)
    prev, mixed = n_hi, mixed + (n_hi > 0)
    print(f"test_eval: {m}: {n_hi} of {len(rows)} inputs at rank 8")
assert 0 < mixed < len(sys.argv) - 2, "the thresholds did not bracket the layer-0 margin"
EOF
expect_error "--modes: 'margin:8/2@1<1': expected LO < HI" \
  "$evalx" --checkpoint "$ckpt" --modes "margin:8/2@1<1" --out "$tmp/bad"
expect_error "--modes: 'margin:2/8@1': expected margin:LO/HI@L<T" \
  "$evalx" --checkpoint "$ckpt" --modes "margin:2/8@1" --out "$tmp/bad"

# 3c. the probe rule: T above any change keeps LO, T = 0 raises every input to HI (input by
# input equal to the static modes); its decision FLOPs are the two probes' attention, i.e.
# static:P's plus static:LO's attention FLOPs, plus the change: 4 C per real row and 2 per
# sequence in each probed layer (configs/tiny.yaml: C = 64, 1 layer)
"$evalx" --checkpoint "$ckpt" --reps 1 --out "$tmp/probe" \
  --modes "full,static:2,static:4,static:16,probe:2/4/16<1e9,probe:2/4/16<0,probe:2/4/16<0.2" > /dev/null
python3 - "$tmp/probe" <<'EOF' || fail "probe rule"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/per_input.tsv"), delimiter="\t"))
for r in rows:
    assert r["kl:probe:2/4/16<1e9"] == r["kl:static:4"], r
    assert r["kl:probe:2/4/16<0"] == r["kl:static:16"], r
    assert r["kl:probe:2/4/16<0.2"] in (r["kl:static:4"], r["kl:static:16"]), r
J = {m["mode"]: m for m in json.load(open(sys.argv[1] + "/eval.json"))["modes"]}
C, L = 64, 1
probe = J["static:2"]["attn_flops"] + J["static:4"]["attn_flops"]
probe += sum(4 * C * int(r["length"]) + 2 for r in rows) * L
for t in ("1e9", "0", "0.2"):
    M = J["probe:2/4/16<" + t]
    assert M["decision_flops"] == probe == M["feature_flops"], (t, M["decision_flops"], probe)
    assert J["static:4"]["attn_flops"] <= M["attn_flops"] <= J["static:16"]["attn_flops"], t
# per_input.tsv's pred:MODE columns: each mode's correct count and agreement with full
for k, M in J.items():
    ok = sum(int(r["pred:" + k]) == int(r["label"]) for r in rows)
    ag = sum(r["pred:" + k] == r["pred:full"] for r in rows)
    assert ok == M["correct"] and ag == M["agree"], (k, ok, M["correct"], ag, M["agree"])
print(f"test_eval: probe rule ok (decision FLOPs {probe})")
EOF
expect_error "--modes: 'probe:4/2/16<1': expected P < LO < HI" \
  "$evalx" --checkpoint "$ckpt" --modes "probe:4/2/16<1" --out "$tmp/bad"
expect_error "--modes: 'probe:2/4/16<1@x': expected probe:P/LO/HI<T or probe:P/LO/HI<T@U" \
  "$evalx" --checkpoint "$ckpt" --modes "probe:2/4/16<1@x" --out "$tmp/bad"

# 4. bad input: error, message, nothing written
bad="$tmp/bad"
expect_error "model_sha256: expected" "$evalx" --checkpoint "$ckpt" env.model="$tmp/base2/model.h5" --out "$bad"
expect_error "data.dev: $tmp/none.tsv: cannot open" "$evalx" --checkpoint "$ckpt" data.dev="$tmp/none.tsv" --out "$bad"
expect_error "--modes: 'bogus': expected one of" "$evalx" --checkpoint "$ckpt" --modes full,bogus --out "$bad"
expect_error "--modes: 'static:5': expected a rank of the policy's grid [2, 4, 8, 16]" \
  "$evalx" --checkpoint "$ckpt" --modes static:5 --out "$bad"
expect_error "--modes: 'static:32'" "$evalx" --checkpoint "$ckpt" --modes static:32 --out "$bad"
expect_error "$tmp/none.h5" "$evalx" --checkpoint "$tmp/none.h5" --out "$bad"
expect_error "--split: expected one of dev|test, found 'train'" "$evalx" --checkpoint "$ckpt" --split train --out "$bad"
expect_error "--reps: expected once, found it again" "$evalx" --checkpoint "$ckpt" --reps 1 --reps=2 --out "$bad"
expect_error "--reps: expected an integer in [1, 1000], found '0'" "$evalx" --checkpoint "$ckpt" --reps 0 --out "$bad"
expect_error "env.epsilom: expected a config key, found an unknown key; did you mean env.epsilon?" \
  "$evalx" --checkpoint "$ckpt" env.epsilom=3 --out "$bad"
expect_error "--checkpoint: expected a checkpoint or run directory, found none" "$evalx" --out "$bad"
expect_error "model.n_layers: expected a config key, found an unknown key" \
  "$evalx" --checkpoint "$ckpt" model.n_layers=2 --out "$bad"
expect_error "seed: expected --seed N" "$evalx" --checkpoint "$ckpt" seed=2 --out "$bad"
# the list's syntax is a command-line error (exit 2) before the checkpoint is read
if "$evalx" --checkpoint "$tmp/none.h5" --modes full,bogus 2> "$tmp/err.txt"; then fail "accepted --modes bogus"
else [[ $? -eq 2 ]] && grep -q "'bogus': expected one of" "$tmp/err.txt" || fail "--modes bogus: $(cat "$tmp/err.txt")"; fi
expect_error "--out: expected a value, found ''" "$evalx" --checkpoint "$ckpt" --out=
[[ -e "$bad" ]] && fail "a failed run wrote $bad"
# --print-config: the checkpoint's train config with the overrides
"$evalx" --checkpoint "$ckpt" env.epsilon=3 --print-config > "$tmp/pc.txt"
grep -q '^  epsilon: 3$' "$tmp/pc.txt" || fail "--print-config: env.epsilon=3 not applied"
head -1 "$tmp/pc.txt" | grep -q '^# drrl-eval config' || fail "--print-config: not YAML first"
"$evalx" --checkpoint "$ckpt" data.max_len=24 --print-config > "$tmp/pc2.txt"
grep -q '^#     max_len: 24$' "$tmp/pc2.txt" || fail "--print-config: the model's data.max_len=24 not shown"
"$train" --config "$tmp/pc2.txt" --print-config > /dev/null || fail "--print-config output is not a train config"
expect_error "data.max_len: expected an integer, found 'abc'" "$evalx" --checkpoint "$ckpt" data.max_len=abc --print-config
echo "test_eval: ok"
