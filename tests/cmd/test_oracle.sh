#!/usr/bin/env bash
# test_oracle.sh: scripts/oracle.py (run from the source root) on a hand-made drrl-eval output
# whose frontiers have closed forms. Two inputs, modes A (cost 0.2), B (0.6) and full (1):
#     KL_1: A 1.0, B 0, full 0        KL_2: A 0.1, B 0, full 0
# The static hull at cost 0.4 mixes A and B half and half: KL = (0.55 + 0) / 2 = 0.275. The
# oracle gives input 1 B and input 2 A: cost (0.6 + 0.2) / 2 = 0.4, KL (0 + 0.1) / 2 = 0.05,
# so the ratio is 5.5; the policy (cost 0.4, KL 0.3) sits above both. At cost A (0.2) both
# hulls are A's KL 0.55 (ratio 1). Also: inputs of two lengths and a missing file are refused.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$tmp/run"
cat > "$tmp/run/eval_test.json" <<'J'
{"split": "test", "modes": [
 {"mode": "full", "attn_ratio": 1.0, "attn_flops_ratio": 1.0},
 {"mode": "static:4", "attn_ratio": 0.2, "attn_flops_ratio": 0.25},
 {"mode": "static:8", "attn_ratio": 0.6, "attn_flops_ratio": 0.5},
 {"mode": "policy", "attn_ratio": 0.4, "attn_flops_ratio": 0.375}]}
J
printf 'index\tlength\tlabel\tp_full\tkl:full\tkl:static:4\tkl:static:8\tkl:policy\n0\t100\t1\t0.9\t0\t1.0\t0\t0.5\n1\t100\t0\t0.6\t0\t0.1\t0\t0.1\n' \
  > "$tmp/run/per_input_test.tsv"
$py scripts/oracle.py "$tmp/run" > "$tmp/out.txt"
cat "$tmp/out.txt"
$py - "$tmp/out.txt" <<'P'
import sys
rows = {}
for line in open(sys.argv[1]):
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(c) == 7 and c[0] not in ("mode", "---"):
        rows[c[0]] = [float(x) for x in c[1:]]
def near(a, b): return abs(a - b) <= 1e-9 + 1e-6 * abs(b)
# mode: cost, KL, uniform hull, static hull, oracle, ratio
want = {"static:4": [0.2, 0.55, 0.55, 0.55, 0.55, 1.0],
        "static:8": [0.6, 0.0, 0.0, 0.0, 0.0, float("nan")],
        "full": [1.0, 0.0, 0.0, 0.0, 0.0, float("nan")],
        "policy": [0.4, 0.3, 0.275, 0.275, 0.05, 5.5]}
for k, w in want.items():
    got = rows.get(k)
    if got is None: sys.exit(f"FAIL: no row {k}")
    for g, x in zip(got, w):
        if not (near(g, x) or (x != x and g != g)): sys.exit(f"FAIL: {k}: {got} vs {w}")
print("oracle frontiers ok")
P
grep -q "oracle's choices at mean cost 0.400 (<= the policy's 0.400): static:4 1, static:8 1; mean KL 0.05" \
  "$tmp/out.txt" || fail "oracle's choices line"
# FLOPs as the cost: the policy's 0.375 lies between A (0.25) and B (0.5): static hull
# 0.55 (1 - 0.5) = 0.275 at the midpoint, the oracle point (0.375, 0.05) again
$py scripts/oracle.py "$tmp/run" --cost flops > "$tmp/flops.txt"
grep -q "^| policy | 0.375 | 0.3 | 0.275 | 0.275 | 0.05 | 5.50 |" "$tmp/flops.txt" \
  || fail "--cost flops: $(cat "$tmp/flops.txt")"
# refusals
printf '2\t200\t1\t0.7\t0\t0.1\t0\t0.1\n' >> "$tmp/run/per_input_test.tsv"
if $py scripts/oracle.py "$tmp/run" > /dev/null 2> "$tmp/err.txt"; then fail "two lengths accepted"; fi
grep -q "expected inputs of one length" "$tmp/err.txt" || fail "two lengths: $(cat "$tmp/err.txt")"
if $py scripts/oracle.py "$tmp/none" > /dev/null 2> "$tmp/err.txt"; then fail "missing dir accepted"; fi
grep -q "expected eval(_test).json and per_input(_test).tsv" "$tmp/err.txt" || fail "missing: $(cat "$tmp/err.txt")"
echo "test_oracle: ok"
