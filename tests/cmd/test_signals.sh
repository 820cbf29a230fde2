#!/usr/bin/env bash
# test_signals.sh (fast suite): drrl-signals on a tiny trained model (configs/tiny.yaml: one
# layer, d=64, 2 heads of 32) over the first 120 dev sentences at ranks 2,4,8,16. Checks:
#   - scripts/signals_check.py recomputes every number of table.csv, targets.csv and modes.csv
#     from signals.tsv (Spearman with average ranks, hulls, oracle, rules, shares) to 1e-6;
#   - signals.tsv has one row per input and every signal of table.csv as a column; kl_cheap
#     equals the rank-2 KL; the oracle row's shares are 1; mean KL falls with rank;
#   - flops:full of every input equals exact attention's closed form (attention/exact.h) on
#     its own length: 4 (2 n d^2 + n d) + 4 H n^2 dh + H (27 n^2 + n dh) per layer;
#   - the command line: a rank at or over the head size, ranks not increasing, one rank, and
#     no --model are usage errors (exit 2) with the expected messages.
set -euo pipefail
base=$(realpath "$1")
signals=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$base" --config configs/tiny.yaml run.dir="$tmp/run" > "$tmp/train.txt"
m="$tmp/run/model.h5"
expect_error "drrl-signals: error: --model: expected a model file" "$signals" --ranks 2,4
expect_error "--ranks: expected ranks below the head size 32 (full rank is the exact mode), found 32" \
  "$signals" --model "$m" --ranks 2,32 --calib 64 --out "$tmp/x"
expect_error "--ranks: expected increasing ranks, found 2 after 4" \
  "$signals" --model "$m" --ranks 4,2 --calib 64 --out "$tmp/x"
expect_error "--ranks: expected 2 to 8 ranks, found 1" "$signals" --model "$m" --ranks 4 --calib 64 --out "$tmp/x"
expect_error "data.format: expected sst2 (drrl-factors and drrl-signals read WordPiece GLUE TSV sets), found imdb" \
  "$signals" --model "$m" --calib 64 --out "$tmp/x" data.format=imdb
[ "$(set +e; "$signals" --model "$m" --ranks 4,2 --calib 64 --out "$tmp/x" > /dev/null 2>&1; echo $?)" = 2 ] \
  || fail "--ranks 4,2: expected exit 2"
"$signals" --model "$m" --ranks 2,4,8,16 --rows 120 --calib 256 --factors "$tmp/f.h5" \
  --out "$tmp/out" > "$tmp/s.txt"
grep -q "^drrl-signals: 120 inputs of the dev split, 29 signals, in .* s; wrote $tmp/out/signals.tsv" \
  "$tmp/s.txt" || fail "summary: $(tail -1 "$tmp/s.txt")"
for f in signals.tsv table.csv targets.csv modes.csv table.md; do
  [ -s "$tmp/out/$f" ] || fail "missing $f"
done
$py scripts/signals_check.py "$tmp/out"
$py - "$tmp/out" <<'PY'
import csv, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/signals.tsv"), delimiter="\t"))
table = list(csv.DictReader(open(f"{d}/table.csv")))
def fail(m):
    print("FAIL:", m, file=sys.stderr); sys.exit(1)
if len(rows) != 120: fail(f"{len(rows)} rows, expected 120")
for t in table:
    if t["signal"] != "oracle" and t["signal"] not in rows[0]: fail(f"no column {t['signal']}")
if any(r["kl_cheap"] != r["kl:2"] for r in rows): fail("kl_cheap differs from kl:2")
orc = [t for t in table if t["signal"] == "oracle"][0]
if any(abs(float(v) - 1) > 1e-9 for k, v in orc.items() if k.startswith("share")): fail(f"oracle shares {orc}")
mean = lambda k: sum(float(r[k]) for r in rows) / len(rows)
if not mean("kl:2") > mean("kl:4") > mean("kl:16"): fail("mean KL does not fall with rank")
d_, H, dh = 64, 2, 32
for r in rows:
    n = int(r["length"])
    want = 4 * (2 * n * d_ * d_ + n * d_) + 4 * H * n * n * dh + H * (27 * n * n + n * dh)
    if int(r["flops:full"]) != want: fail(f"row {r['row']}: flops:full {r['flops:full']}, closed form {want}")
    if not int(r["flops:2"]) < int(r["flops:4"]) < int(r["flops:16"]) < want: fail("flops not increasing with rank")
print("test_signals: per-input checks ok")
PY
echo "test_signals: ok"
