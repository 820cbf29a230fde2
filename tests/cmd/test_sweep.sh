#!/usr/bin/env bash
# test_sweep.sh: drrl-sweep end to end on a tiny byte-level IMDB model (configs/imdb-tiny.yaml,
# 20 steps; conv positions, 1 layer, d=32, 2 heads; run from the source root). Checks:
#   1. the CSV has every (length, mode) row at lengths 64 and 128;
#   2. full: flops_ratio 1 and kl 0; static:4: flops_ratio < 1;
#   3. full's attention FLOPs equal attention/exact.h's closed form at N = L + 2 tokens
#      (8 N d^2 + 5 N d + 4 N^2 d + 27 H N^2 per layer), so flops(128) / flops(64) > 2;
#   4. errors: an SST-2 model is refused; a learned-position model refuses a length past
#      its max_pos; a bad mode.
#   5. scripts/plot_sweep.py draws both pictures from the CSV.
set -euo pipefail
sweep=$(realpath "$1"); base=$(realpath "$2")
cd "${DRRL_SOURCE_ROOT:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$base" --config configs/imdb-tiny.yaml run.dir="$tmp/m" train.max_steps=20 > /dev/null
"$sweep" --model "$tmp/m/model.h5" --lengths 64,128 --modes full,static:4,nystrom:8,performer:8 \
  --rows 2 --reps 1 --csv "$tmp/s.csv" > "$tmp/out.txt"
cat "$tmp/out.txt"
grep -q "^| 128 | performer:8 | 2 |" "$tmp/out.txt" || fail "table row missing"

/usr/bin/python3 - "$tmp/s.csv" <<'PY'
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

expect_error() { # expect_error PATTERN COMMAND...
  local pat="$1"; shift
  if "$@" > "$tmp/o.txt" 2> "$tmp/err.txt"; then fail "accepted: $*"; fi
  grep -qF -- "$pat" "$tmp/err.txt" || fail "expected '$pat' in: $(cat "$tmp/err.txt")"
}
"$base" --config configs/tiny.yaml run.dir="$tmp/sst" train.max_steps=2 > /dev/null
expect_error "expected a byte-level IMDB model (data.format: imdb), found data.format: sst2" \
  "$sweep" --model "$tmp/sst/model.h5" --lengths 64 --modes full --rows 1 --reps 1
"$base" --config configs/imdb-tiny.yaml model.position=learned run.dir="$tmp/l" train.max_steps=2 > /dev/null
"$sweep" --model "$tmp/l/model.h5" --lengths 128 --modes full,nystrom:8 --rows 1 --reps 1 > /dev/null \
  || fail "learned model within its max_pos"
expect_error "--lengths: 512 bytes need 514 tokens ([CLS] and [SEP] added), more than the max_pos 256" \
  "$sweep" --model "$tmp/l/model.h5" --lengths 128,512 --modes full --rows 1 --reps 1
expect_error "--modes: 'static:x': expected one of full" \
  "$sweep" --model "$tmp/m/model.h5" --modes full,static:x

/usr/bin/python3 scripts/plot_sweep.py "$tmp/s.csv" --out "$tmp/pics" > /dev/null
[[ -s "$tmp/pics/sweep_latency.png" && -s "$tmp/pics/sweep_flops.png" ]] || fail "pictures missing"
echo "test_sweep: ok"
