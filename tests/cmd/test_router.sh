#!/usr/bin/env bash
# test_router.sh (fast suite): drrl-router on a tiny trained model (configs/tiny.yaml: one
# layer, d=64, 2 heads of 32). drrl-signals on the first 160 training rows of at least 8
# tokens (--min-tokens) and on the first 100 dev sentences timed (--reps 1), ranks 2,4,8,16;
# then drrl-router fits and applies the router. Checks:
#   - --min-tokens: every training row has at least 8 tokens; an unreachable length is a
#     usage error; pred:* are classes, ms:* positive on dev and NaN untimed (train);
#   - feat_flops = L (head 2 C C + C + C + 2 C K + K + 4 K, K = 2) + L (2 n C + 4 n + 4) and
#     flops:full + rest_flops add up to the forward FLOPs of drrl-signals' closed form;
#   - scripts/router_check.py recomputes the ridge fit (np.linalg.solve), the CV errors and
#     choices, every router and static point, the rule's points and every compare.csv KL;
#   - --router applies the saved router: the same compare.csv;
#   - usage errors: no --dev, a missing feature column.
set -euo pipefail
base=$(realpath "$1")
signals=$(realpath "$2")
router=$(realpath "$3")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$base" --config configs/tiny.yaml run.dir="$tmp/run" > "$tmp/train.txt"
m="$tmp/run/model.h5"
common=(--model "$m" --ranks 2,4,8,16 --calib 256 --factors "$tmp/f.h5" --quiet)
expect_error "--min-tokens: expected a length some rows of the split reach" \
  "$signals" "${common[@]}" --split train --min-tokens 100000 --out "$tmp/x"
"$signals" "${common[@]}" --split train --min-tokens 8 --rows 160 --out "$tmp/tr" > /dev/null
"$signals" "${common[@]}" --rows 100 --reps 1 --out "$tmp/dv" > /dev/null
$py - "$tmp" <<'PY'
import csv, math, sys
t = sys.argv[1]
def fail(m):
    print("FAIL:", m, file=sys.stderr); sys.exit(1)
tr = list(csv.DictReader(open(f"{t}/tr/signals.tsv"), delimiter="\t"))
dv = list(csv.DictReader(open(f"{t}/dv/signals.tsv"), delimiter="\t"))
if len(tr) != 160 or min(int(r["length"]) for r in tr) < 8: fail("--min-tokens rows")
C, K, F, L = 64, 2, 128, 1
for r in tr + dv:
    n = int(r["length"])
    if int(r["feat_flops"]) != L * (2*C*C + C + C + 2*C*K + K + 4*K) + L * (2*n*C + 4*n + 4):
        fail(f"feat_flops {r['feat_flops']} at n {n}")
    rest = L * (2*n*C*F + n*F + 2*n*F*C + n*C) + 2*C*C + C + 2*C*K + K
    if int(r["rest_flops"]) != rest: fail(f"rest_flops {r['rest_flops']}, closed form {rest}")
    if any(r[f"pred:{m}"] not in ("0", "1") for m in ("2", "4", "8", "16", "full")): fail("pred")
if not all(float(r[f"ms:{m}"]) > 0 for r in dv for m in ("2", "16", "full", "cheap")): fail("ms dev")
if not all(math.isnan(float(r["ms:2"])) for r in tr): fail("ms train: expected nan")
print("test_router: per-input checks ok")
PY
"$router" --train "$tmp/tr/signals.tsv" --dev "$tmp/dv/signals.tsv" --out "$tmp/r" > "$tmp/r.txt"
grep -q "^drrl-router: 5 features, 4 ranks, 160 training rows, 100 evaluated" "$tmp/r.txt" \
  || fail "summary: $(tail -1 "$tmp/r.txt")"
$py scripts/router_check.py "$tmp/tr/signals.tsv" "$tmp/dv/signals.tsv" "$tmp/r"
"$router" --train "$tmp/tr/signals.tsv" --dev "$tmp/dv/signals.tsv" --router "$tmp/r/router.txt" \
  --out "$tmp/r2" > /dev/null
cmp "$tmp/r/compare.csv" "$tmp/r2/compare.csv" || fail "--router: compare.csv differs"
expect_error "--train and --dev: expected two signals.tsv files, found no --dev" \
  "$router" --train "$tmp/tr/signals.tsv"
expect_error "router: expected a feature column nope in signals.tsv" \
  "$router" --train "$tmp/tr/signals.tsv" --dev "$tmp/dv/signals.tsv" --features nope --out "$tmp/x"
echo "test_router: ok"
