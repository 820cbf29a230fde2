#!/usr/bin/env bash
# test_outcome.sh: scripts/outcome.py (run from the source root).
# 1. A hand-made drrl-eval output with closed forms (the case of test_oracle.sh, with
#    predictions): inputs 1 and 2 (labels 1, 0), modes static:4 (latency 0.2), static:8 (0.6),
#    full (1):  KL_1: 1.0 / 0 / 0,  KL_2: 0.1 / 0 / 0;  predictions: static:4 gets input 1
#    wrong (0), everything else right. At the policy's latency 0.4 the static hull mixes
#    static:4 and static:8 half and half: KL 0.275, accuracy (0.5 + 1) / 2 = 0.75; the oracle
#    gives input 1 static:8 and input 2 static:4: KL 0.05, accuracy 1; the policy (KL 0.3)
#    captures (0.275 - 0.3) / (0.275 - 0.05) = -0.111 of the oracle's gain.
# 2. The exact sweep of the oracle (oracle.py's oracle_sweep, which outcome.py and oracle.py
#    use) against a brute-force Lagrangian scan written here (every breakpoint lam at which
#    some input's choice changes, evaluated) on random inputs and modes with tied costs: the
#    two frontiers agree at 50 costs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$tmp/run"
cat > "$tmp/run/eval_test.json" <<'J'
{"split": "test", "modes": [
 {"mode": "full", "latency_ratio": 1.0, "attn_flops_ratio": 1.0, "accuracy": 1.0, "ci_low": 1.0,
  "ci_high": 1.0, "agreement": 1.0, "kl_mean": 0.0, "decision_share": 0},
 {"mode": "static:4", "latency_ratio": 0.2, "attn_flops_ratio": 0.25, "accuracy": 0.5,
  "ci_low": 0.0, "ci_high": 1.0, "agreement": 0.5, "kl_mean": 0.55, "decision_share": 0},
 {"mode": "static:8", "latency_ratio": 0.6, "attn_flops_ratio": 0.5, "accuracy": 1.0,
  "ci_low": 1.0, "ci_high": 1.0, "agreement": 1.0, "kl_mean": 0.0, "decision_share": 0},
 {"mode": "policy", "latency_ratio": 0.4, "attn_flops_ratio": 0.375, "accuracy": 1.0,
  "ci_low": 1.0, "ci_high": 1.0, "agreement": 1.0, "kl_mean": 0.3, "decision_share": 0.05}]}
J
{ printf 'index\tlength\tlabel\tp_full\tkl:full\tkl:static:4\tkl:static:8\tkl:policy'
  printf '\tpred:full\tpred:static:4\tpred:static:8\tpred:policy\n'
  printf '0\t100\t1\t0.9\t0\t1.0\t0\t0.5\t1\t0\t1\t1\n'
  printf '1\t100\t0\t0.6\t0\t0.1\t0\t0.1\t0\t0\t0\t0\n'; } > "$tmp/run/per_input_test.tsv"
$py scripts/outcome.py "$tmp/run" > "$tmp/out.txt"
cat "$tmp/out.txt"
$py - "$tmp/out.txt" <<'P' || fail "closed forms"
import re, sys
txt = open(sys.argv[1]).read()
row = next(l for l in txt.splitlines() if l.startswith("| policy |"))
c = [x.strip() for x in row.strip().strip("|").split("|")]
near = lambda a, b: abs(float(a) - b) <= 1e-3 * max(1, abs(b))
assert near(c[3], 0.3) and near(c[5], 0.4) and near(c[6], 0.05), c
assert near(c[7], 0.275) and near(c[8], 0.275) and near(c[9], 0.05), c  # uniform, static, oracle
assert near(c[10], -0.11), c
m = re.search(r"uniform hull static:4 \+ static:8 \(accuracy ([0-9.]+), agreement ([0-9.]+)\)", txt)
assert m and near(m.group(1), 0.75) and near(m.group(2), 0.75), txt
m = re.search(r"oracle KL ([0-9.e-]+), accuracy ([0-9.]+), agreement ([0-9.]+)", txt)
assert m and near(m.group(1), 0.05) and near(m.group(2), 1) and near(m.group(3), 1), txt
P
echo "test_outcome: closed forms ok"
$py - <<'P' || fail "oracle sweep vs scan"
import sys
import numpy as np
sys.path.insert(0, "scripts")
from oracle import at, hull, oracle_sweep


def scan(kl, cost):
    """(mean cost, mean KL) of the per-input argmin of KL + lam cost at every lam where some
    input's preference between two modes flips (and just above it, and lam -> inf)"""
    n, M = kl.shape
    lams = {0.0}
    for a in range(M):
        for b in range(M):
            if cost[b] > cost[a]:
                v = (kl[:, a] - kl[:, b]) / (cost[b] - cost[a])
                lams.update(float(x) for x in v[v > 0])
    lams = sorted(lams)
    lams = lams + [x * (1 + 1e-9) + 1e-300 for x in lams] + [1e300]
    order = np.argsort(cost, kind="stable")  # ties: the cheaper mode
    pts = []
    for lam in lams:
        pick = order[np.argmin((kl + lam * cost)[:, order], axis=1)]
        pts.append((float(cost[pick].mean()), float(kl[np.arange(n), pick].mean())))
    return pts


rng = np.random.default_rng(7)
for trial in range(5):
    n, M = 30, 6
    C = np.sort(rng.uniform(0.05, 1, M)); C[2] = C[3]  # a tie of costs
    K = rng.lognormal(0, 2, (n, M)) * (1.2 - C)         # KL falls with cost on average
    K[:, -1] = 0 if trial % 2 else K[:, -1]
    P = rng.integers(0, 2, (n, M))
    front, pick_at = oracle_sweep(K, C)
    ref = hull(scan(K, C))
    for x in np.linspace(C.min(), C.max(), 50):
        a, b = at(front, x), at(ref, x)
        assert abs(a - b) <= 1e-9 * max(1, abs(b)), (trial, x, a, b)
        pick = pick_at(x)  # the sweep's vertex at most x: its cost <= x, its KL on the hull
        assert C[pick].mean() <= x + 1e-12, (trial, x)
        k = K[np.arange(n), pick].mean()
        assert k >= a - 1e-9 * max(1, abs(a)), (trial, x, k, a)
print("test_outcome: oracle sweep = brute-force scan at 250 costs")
P
echo "test_outcome: ok"
