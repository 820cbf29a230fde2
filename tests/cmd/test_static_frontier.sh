#!/usr/bin/env bash
# test_static_frontier.sh: scripts/static_frontier.py against a stand-in drrl-eval whose
# answers have closed forms. Two layers, grid 8, 16, 32 (head size 64); a layer at rank r adds
# r / 128 to the attention FLOPs ratio and k_l(r) to the KL:
#     k_0: 32 -> 0, 16 -> 0.01, 8 -> 0.2        k_1: 32 -> 0, 16 -> 0.05, 8 -> 0.06
# Greedy (least KL per FLOPs saved): 32/32 -> 16/32 (slope 0.08 against 32/16's 0.4) ->
# 16/16 (0.4 against 8/32's 3.04) -> 16/8 (0.16 against 8/16's 3.04) -> 8/8: 8 allocations
# run. The lower hull skips the greedy point 16/16 (0.25, 0.06): the chord from 16/8
# (0.1875, 0.07) to 16/32 (0.375, 0.01) passes below it.
# By layer and position (--parts 2 --from static:16/16 --stop-flops 0.2): a (part, layer) at
# rank r adds r / 256 to the FLOPs ratio and k2 to the KL (16 -> 0; 8 -> 0.3, 0.1 in part 0's
# layers 0, 1 and 0.05, 0.2 in part 1's). From 16/16+16/16 (0.25) greedy lowers part 1 layer
# 0 (0.05), then part 0 layer 1 (0.15 against 0.25 and 0.35) and stops at 0.1875 <= 0.2: 8
# allocations run, the path is the hull.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cat > "$tmp/fake-eval" <<'P'
#!/usr/bin/python3
import json, os, sys
a = sys.argv[1:]
out, modes = a[a.index("--out") + 1], a[a.index("--modes") + 1].split(",")
assert "--checkpoint" in a and a[-2:] == ["--rows", "4"], a
k = [{32: 0.0, 16: 0.01, 8: 0.2}, {32: 0.0, 16: 0.05, 8: 0.06}]
recs = []
k2 = [[{16: 0.0, 8: 0.3}, {16: 0.0, 8: 0.1}], [{16: 0.0, 8: 0.05}, {16: 0.0, 8: 0.2}]]
for m in modes:
    if "+" in m:
        r = [[int(x) for x in p.split("/")] for p in m.split(":")[1].split("+")]
        f = sum(x / 256 for p in r for x in p)
        kl = sum(k2[p][l][x] for p in range(2) for l, x in enumerate(r[p]))
        recs.append({"mode": m, "rank_per_layer": r[0], "attn_flops_ratio": f,
                     "model_flops_ratio": f, "kl_mean": kl, "bits_per_byte": None,
                     "agreement": 1 - kl, "latency_ratio": f, "attn_ratio": f})
        continue
    r = [64, 64] if m == "full" else [int(x) for x in m.split(":")[1].split("/")]
    r = r * 2 if len(r) == 1 else r
    f = sum(x / 128 for x in r)
    kl = sum(k[l].get(x, 0.0) for l, x in enumerate(r))
    recs.append({"mode": m, "rank_per_layer": r, "attn_flops_ratio": f, "model_flops_ratio": f,
                 "kl_mean": kl, "bits_per_byte": 2 + kl, "agreement": 1 - kl,
                 "latency_ratio": f, "attn_ratio": f})
os.makedirs(out, exist_ok=True)
json.dump({"modes": recs}, open(os.path.join(out, "eval_test.json"), "w"))
P
chmod +x "$tmp/fake-eval"
$py scripts/static_frontier.py CKPT "$tmp/sf" --ranks 8,16,32 --drrl-eval "$tmp/fake-eval" \
  -- --rows 4 > "$tmp/out.txt"
cat "$tmp/out.txt"
# check OUT TSV EXPECT: the printed greedy path and hull and every allocation of frontier.tsv
# (attention FLOPs, KL, on the path) against EXPECT, a JSON [path, hull, {alloc: [F, KL, path]}]
cat > "$tmp/check.py" <<'P'
import json, sys
out = open(sys.argv[1]).read().split("\n")
want_path, want_hull, want = json.loads(sys.argv[3])
path = [l.split()[2] for l in out if l.startswith("round ")]
if path != want_path:
    sys.exit(f"FAIL: greedy path {path}")
k = out.index(next(l for l in out if "lower hull" in l))
hull = [l.split()[0] for l in out[k + 1:] if l.startswith("  ")]
if hull != want_hull:
    sys.exit(f"FAIL: hull {hull}")
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])][1:]
got = {r[0]: (float(r[1]), float(r[3]), int(r[8])) for r in rows}
if set(got) != set(want): sys.exit(f"FAIL: allocations {sorted(got)}")
for m, w in want.items():
    g = got[m]
    if abs(g[0] - w[0]) > 1e-6 or abs(g[1] - w[1]) > 1e-9 or g[2] != w[2]:
        sys.exit(f"FAIL: {m}: {g} vs {w}")
P
$py "$tmp/check.py" "$tmp/out.txt" "$tmp/sf/frontier.tsv" '[
  ["static:16/32", "static:16/16", "static:16/8", "static:8/8"],
  ["static:8/8", "static:16/8", "static:16/32", "static:32/32"],
  {"static:32/32": [0.5, 0.0, 1], "static:16/32": [0.375, 0.01, 1],
   "static:32/16": [0.375, 0.05, 0], "static:8/32": [0.3125, 0.2, 0],
   "static:16/16": [0.25, 0.06, 1], "static:8/16": [0.1875, 0.25, 0],
   "static:16/8": [0.1875, 0.07, 1], "static:8/8": [0.125, 0.26, 1]}]'

$py scripts/static_frontier.py CKPT "$tmp/sp" --ranks 8,16,32 --drrl-eval "$tmp/fake-eval" \
  --parts 2 --from static:16/16 --stop-flops 0.2 -- --rows 4 > "$tmp/outp.txt"
cat "$tmp/outp.txt"
$py "$tmp/check.py" "$tmp/outp.txt" "$tmp/sp/frontier.tsv" '[
  ["static:16/16+8/16", "static:16/8+8/16"],
  ["static:16/8+8/16", "static:16/16+8/16", "static:16/16+16/16"],
  {"static:16/16+16/16": [0.25, 0.0, 1], "static:8/16+16/16": [0.21875, 0.3, 0],
   "static:16/8+16/16": [0.21875, 0.1, 0], "static:16/16+8/16": [0.21875, 0.05, 1],
   "static:16/16+16/8": [0.21875, 0.2, 0], "static:8/16+8/16": [0.1875, 0.35, 0],
   "static:16/8+8/16": [0.1875, 0.15, 1], "static:16/16+8/8": [0.1875, 0.25, 0]}]'
echo "test_static_frontier: ok"
