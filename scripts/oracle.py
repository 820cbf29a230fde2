#!/usr/bin/python3
"""oracle.py: what choosing the rank per input could gain, from a drrl-eval run's outputs.

    /usr/bin/python3 scripts/oracle.py DIR [--cost latency|flops] [--modes static:8,...]

DIR holds drrl-eval's eval.json (or eval_test.json) and per_input.tsv (per_input_test.tsv):
every mode's cost (measured attention latency ratio, or counted attention FLOPs ratio) and
its KL(p_full || p_mode) per input. The candidates are the weight-level fixed modes of the
run (full, static:r, per-layer static:r0/r1/..., static-plain:r), or --modes.

Frontiers (lower KL at a given mean cost is better), all as lower convex hulls:
  static    the candidates' (cost, mean KL) points; the hull is what mixing two fixed modes
            over random inputs achieves, so a point on it is "a static choice".
  oracle    each input i takes the mode m minimising KL_i(m) + lam c(m), for every lam >= 0
            (the Lagrangian of "least mean KL at mean cost C"; the problem separates over
            inputs, so its lower convex hull over lam is exactly the best any per-input rule
            over these candidates can do at each mean cost, with randomised ties). Every lam
            at which some input's choice changes is visited, so the hull is exact.
The per-input cost of a mode is its mean cost: exact for inputs of one length (the long-input
subset and joined inputs); the script refuses inputs of different lengths.

Printed: a Markdown table, for each candidate and for the policy (when the run has one): its
cost and KL, the static hull's KL at that cost, the oracle's KL at that cost, and the ratio
static hull / oracle (how much lower a perfect per-input choice would be), plus the oracle's
choices at the policy's cost."""
import argparse
import csv
import json
import os
import sys

import numpy as np


def fail(msg):
    print(f"oracle.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def hull(points):
    """lower convex hull of (x, y) points, sorted by x"""
    pts = sorted(set(points))
    h = []
    for p in pts:
        while len(h) >= 2:
            (x1, y1), (x2, y2) = h[-2], h[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                h.pop()
            else:
                break
        if h and h[-1][0] == p[0]:
            continue  # same x, higher y (sorted): not on the lower hull
        h.append(p)
    return h


def at(h, x):
    """the least y the hull reaches at cost at most x (NaN below its x range): its value at
    x, or a vertex left of x if lower (a costlier point may be worse)"""
    if not h or x < h[0][0] - 1e-12:
        return float("nan")
    best = min(y for xv, y in h if xv <= x + 1e-12)
    for (x1, y1), (x2, y2) in zip(h, h[1:]):
        if x1 < x < x2:
            best = min(best, y1 + (y2 - y1) * (x - x1) / (x2 - x1))
    return best


def oracle_points(kl, cost):
    """(mean cost, mean KL) of the per-input argmin of KL + lam c at every breakpoint lam.
    kl: (n, M), cost: (M)"""
    n, M = kl.shape
    lams = {0.0}
    for a in range(M):
        for b in range(M):
            if cost[b] > cost[a]:  # input i prefers a over b once lam > (KL_a - KL_b) / (c_b - c_a)
                v = (kl[:, a] - kl[:, b]) / (cost[b] - cost[a])
                lams.update(float(x) for x in v[v > 0])
    lams = np.array(sorted(lams))
    # just above each breakpoint and at the cheapest end (lam -> inf)
    lams = np.concatenate([lams, lams * (1 + 1e-9) + 1e-300, [1e300]])
    pts = []
    order = np.argsort(cost, kind="stable")  # ties: the cheaper mode (first in cost order)
    for chunk in np.array_split(lams, max(1, len(lams) // 512)):
        obj = kl[None, :, :] + chunk[:, None, None] * cost[None, None, :]  # (lams, n, M)
        pick = order[np.argmin(obj[:, :, order], axis=2)]                   # (lams, n)
        pts += list(zip(cost[pick].mean(axis=1).tolist(),
                        kl[np.arange(n)[None, :], pick].mean(axis=1).tolist()))
    return pts, lams


def choice_at(kl, cost, target):
    """the per-input choice on the oracle hull whose mean cost is nearest target from below"""
    pts, lams = oracle_points(kl, cost)
    best, best_pick = None, None
    order = np.argsort(cost, kind="stable")
    for lam in sorted(set(lams.tolist())):
        pick = order[np.argmin((kl + lam * cost)[:, order], axis=1)]
        c = cost[pick].mean()
        if c <= target + 1e-12 and (best is None or c > best):
            best, best_pick = c, pick
    return best, best_pick


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--cost", choices=["latency", "flops"], default="latency")
    ap.add_argument("--modes", help="comma-separated candidate modes (default: the run's fixed "
                    "weight-level modes)")
    a = ap.parse_args()
    jpath = next((os.path.join(a.dir, f) for f in ("eval_test.json", "eval.json")
                  if os.path.exists(os.path.join(a.dir, f))), None)
    ppath = next((os.path.join(a.dir, f) for f in ("per_input_test.tsv", "per_input.tsv")
                  if os.path.exists(os.path.join(a.dir, f))), None)
    if not jpath or not ppath:
        fail(f"{a.dir}: expected eval(_test).json and per_input(_test).tsv from drrl-eval, found "
             f"{sorted(os.listdir(a.dir)) if os.path.isdir(a.dir) else 'no directory'}")
    J = json.load(open(jpath))
    modes = {m["mode"]: m for m in J["modes"]}
    rows = list(csv.DictReader(open(ppath), delimiter="\t"))
    if not rows:
        fail(f"{ppath}: no rows")
    lens = {r["length"] for r in rows}
    if len(lens) != 1:
        fail(f"{ppath}: expected inputs of one length (per-input costs are the modes' means), "
             f"found {len(lens)} lengths ({min(map(int, lens))} .. {max(map(int, lens))})")
    key = "attn_ratio" if a.cost == "latency" else "attn_flops_ratio"
    fixed = lambda k: k == "full" or k.startswith("static:") or k.startswith("static-plain:")
    cand = a.modes.split(",") if a.modes else [k for k in modes if fixed(k)]
    for k in cand:
        if k not in modes or f"kl:{k}" not in rows[0]:
            fail(f"--modes: '{k}': not in the run (modes: {', '.join(modes)})")
        if modes[k][key] is None:
            fail(f"{jpath}: {k}: no {key}")
    cost = np.array([modes[k][key] for k in cand], dtype=float)
    kl = np.array([[float(r[f"kl:{k}"]) for k in cand] for r in rows])  # (n, M)
    n = len(rows)
    st = hull([(c, float(kl[:, j].mean())) for j, c in enumerate(cost)])
    uni = hull([(c, float(kl[:, j].mean())) for j, c in enumerate(cost)
                if cand[j] == "full" or "/" not in cand[j]])
    pts, _ = oracle_points(kl, cost)
    orc = hull(pts)
    unit = "attention latency" if a.cost == "latency" else "attention FLOPs"
    print(f"# oracle: {n} inputs of {rows[0]['length']} tokens, {len(cand)} candidate modes, "
          f"cost = {unit} ratio vs full ({jpath})\n")
    print(f"| mode | cost | KL | uniform-rank hull KL | static hull KL | oracle KL | "
          f"static hull / oracle |")
    print("|---|---|---|---|---|---|---|")
    show = cand + (["policy"] if "policy" in modes and "kl:policy" in rows[0] else [])
    for k in show:
        c = modes[k][key]
        kk = float(np.mean([float(r[f"kl:{k}"]) for r in rows]))
        s, u, o = at(st, c), at(uni, c), at(orc, c)
        ratio = s / o if o > 0 else float("inf") if s > 0 else float("nan")
        print(f"| {k} | {c:.3f} | {kk:.3g} | {u:.3g} | {s:.3g} | {o:.3g} | {ratio:.2f} |")
    if "policy" in modes:
        c = modes["policy"][key]
        best, pick = choice_at(kl, cost, c)
        if pick is not None:
            counts = {cand[j]: int((pick == j).sum()) for j in sorted(set(pick.tolist()))}
            print(f"\noracle's choices at mean cost {best:.3f} (<= the policy's {c:.3f}): "
                  + ", ".join(f"{k} {v}" for k, v in counts.items())
                  + f"; mean KL {kl[np.arange(n), pick].mean():.3g}")


if __name__ == "__main__":
    main()
