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
            at which some input's choice changes is visited (oracle_sweep: each input walks
            its own lower convex hull), so the hull is exact.
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


def run_files(d):
    """drrl-eval's eval(_test).json and per_input(_test).tsv in d (None where missing)"""
    first = lambda names: next((os.path.join(d, f) for f in names
                                if os.path.exists(os.path.join(d, f))), None)
    return (first(("eval_test.json", "eval.json")),
            first(("per_input_test.tsv", "per_input.tsv")))


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


def oracle_sweep(K, C):
    """the per-input oracle's frontier (the Lagrangian above: input i takes the mode
    minimising K_i(m) + lam C(m)), swept exactly: each input's choices as lam falls from
    infinity to 0 walk its own lower convex hull of (C, K_i) from its cheapest mode to its
    least-KL mode, switching at the hull's slopes; all inputs' switches sorted by lam give
    every vertex of the mean. O(n M log) instead of a scan of every breakpoint.
    K: (n, M) KL per input and mode; C: (M). Returns the frontier's lower hull [(mean cost,
    mean KL)] and pick_at(x): the per-input mode indices (n) of the choice of largest mean
    cost <= x (None below the cheapest)."""
    n, M = K.shape
    walk, events = [], []
    for i in range(n):
        pts = {}
        for j in range(M):  # per cost, the mode of least KL (first on ties)
            if C[j] not in pts or K[i, j] < K[i, pts[C[j]]]:
                pts[C[j]] = j
        h = []  # lower convex hull by cost (monotone chain)
        for c in sorted(pts):
            j = pts[c]
            while len(h) >= 2 and ((C[h[-1]] - C[h[-2]]) * (K[i, j] - K[i, h[-2]])
                                   - (K[i, h[-1]] - K[i, h[-2]]) * (C[j] - C[h[-2]])) <= 0:
                h.pop()
            h.append(j)
        h = h[:int(np.argmin([K[i, j] for j in h])) + 1]  # past the least KL: never chosen
        walk.append(h)
        for t in range(len(h) - 1):
            lam = (K[i, h[t]] - K[i, h[t + 1]]) / (C[h[t + 1]] - C[h[t]])
            events.append((-lam, i, t + 1))
    events.sort()
    cur = np.array([w[0] for w in walk])
    rows = np.arange(n)
    front = [(float(C[cur].mean()), float(K[rows, cur].mean()))]  # front[k]: after k switches
    for _, i, t in events:  # means recomputed, not accumulated: exact zeros
        cur[i] = walk[i][t]
        front.append((float(C[cur].mean()), float(K[rows, cur].mean())))

    def pick_at(x):
        ok = [k for k, (c, _) in enumerate(front) if c <= x + 1e-12]
        if not ok:
            return None
        pick = np.array([w[0] for w in walk])
        for _, i, t in events[:ok[-1]]:
            pick[i] = walk[i][t]
        return pick

    return hull(front), pick_at


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--cost", choices=["latency", "flops"], default="latency")
    ap.add_argument("--modes", help="comma-separated candidate modes (default: the run's fixed "
                    "weight-level modes)")
    a = ap.parse_args()
    jpath, ppath = run_files(a.dir)
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
    orc, pick_at = oracle_sweep(kl, cost)
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
        pick = pick_at(c)
        if pick is not None:
            best = float(cost[pick].mean())
            counts = {cand[j]: int((pick == j).sum()) for j in sorted(set(pick.tolist()))}
            print(f"\noracle's choices at mean cost {best:.3f} (<= the policy's {c:.3f}): "
                  + ", ".join(f"{k} {v}" for k, v in counts.items())
                  + f"; mean KL {kl[np.arange(n), pick].mean():.3g}")


if __name__ == "__main__":
    main()
