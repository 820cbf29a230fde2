#!/usr/bin/python3
"""signals_check.py: recompute every number of a drrl-signals run's tables from its per-input
file, independently of the C code (numpy only), and compare.

    /usr/bin/python3 scripts/signals_check.py DIR [--tol 1e-6]

DIR holds drrl-signals' signals.tsv, table.csv, targets.csv and modes.csv. Recomputed here:
  cost       c_i(m) = flops:m of input i / mean over inputs of flops:full
  modes      mean cost and mean KL of each mode (full: KL 0)
  static     lower convex hull of the modes' (mean cost, mean KL) (monotone chain), its value
             at a cost: interpolated, or a vertex to the left if lower
  oracle     per input argmin KL_i(m) + lam c_i(m) at every lam where a choice can change
             (and just above it), its points hulled
  targets    halfway between adjacent modes ("lo-hi"), and each interior rank's own cost with
             its neighbours ("@r")
  rho        Spearman with average ranks for ties, against the KL at each rank
  sign       the sign of rho against the cheapest rank's KL (+1 when undefined)
  rule       inputs by decreasing sign * signal (ties: lower row position first) move from lo
             to hi while the mean cost stays within the target, the next one fractionally
  share      (static - rule) / (static - oracle)
Not recomputed: flops_ratio and ms (the signals' own costs, counted and timed by the run).
Exits 1 naming the first numbers that differ by more than the tolerance."""
import argparse
import csv
import sys

import numpy as np


def avg_ranks(x):
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j + 2) / 2.0
        i = j + 1
    return ranks


def spearman(x, y):
    rx, ry = avg_ranks(x), avg_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    d = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / d) if d > 0 else float("nan")


def lower_hull(pts):
    pts = sorted(pts)
    out = []
    for p in pts:
        if out and out[-1][0] == p[0]:
            continue  # equal cost, higher KL (sorted): never on the lower hull
        while len(out) >= 2:
            (x1, y1), (x2, y2) = out[-2], out[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                out.pop()
            else:
                break
        out.append(p)
    return out


def hull_at(h, x):
    # x is read back from a file printed with 9 significant digits (%.9g): a query at the
    # hull's left end may land a few 1e-10 below it, so the tolerance is relative
    tol = 1e-9 * max(1.0, abs(x))
    if not h or x < h[0][0] - tol:
        return float("nan")
    cands = [y for (xv, y) in h if xv <= x + tol]
    for (x1, y1), (x2, y2) in zip(h, h[1:]):
        if x1 < x < x2:
            cands.append(y1 + (y2 - y1) * (x - x1) / (x2 - x1))
    return min(cands)


def oracle_hull(kl, cost):
    n, M = kl.shape
    lams = [0.0]
    for a in range(M):
        for b in range(M):
            ok = cost[:, b] > cost[:, a]
            v = (kl[ok, a] - kl[ok, b]) / (cost[ok, b] - cost[ok, a])
            lams += v[v > 0].tolist()
    lams = np.unique(np.array(lams))
    lams = np.concatenate([lams, lams * (1 + 1e-9) + 1e-300, [1e300]])
    pts = []
    for chunk in np.array_split(lams, max(1, len(lams) // 256)):
        obj = kl[None] + chunk[:, None, None] * cost[None]       # (lams, n, M)
        pick = np.argmin(obj, axis=2)                             # first minimum: lower mode
        rows = np.arange(n)[None, :]
        pts += list(zip(cost[rows, pick].mean(axis=1), kl[rows, pick].mean(axis=1)))
    return lower_hull([(float(a), float(b)) for a, b in pts])


def rule_kl(kl, cost, order, lo, hi, target):
    n = kl.shape[0]
    clo, chi = cost[:, lo].sum(), cost[:, hi].sum()
    if target * n < clo - 1e-9 * abs(clo) or target * n > chi + 1e-9 * abs(chi):
        return float("nan")
    dc = (cost[:, hi] - cost[:, lo])[order]
    dk = (kl[:, hi] - kl[:, lo])[order]
    budget = target * n - clo
    total = kl[:, lo].sum()
    cum = np.cumsum(dc)
    fit = np.nonzero(cum > budget)[0]
    j = fit[0] if len(fit) else n  # inputs before j move whole
    total += dk[:j].sum()
    if j < n:
        left = budget - (cum[j - 1] if j > 0 else 0.0)
        total += dk[j] * (left / dc[j] if left > 0 else 0.0)
    return total / n


def close(a, b, tol):
    a, b = float(a), float(b)
    if np.isnan(a) or np.isnan(b):
        return np.isnan(a) and np.isnan(b)
    return abs(a - b) <= tol * (1 + abs(b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--tol", type=float, default=1e-6)
    a = ap.parse_args()
    rows = list(csv.DictReader(open(f"{a.dir}/signals.tsv"), delimiter="\t"))
    table = list(csv.DictReader(open(f"{a.dir}/table.csv")))
    targets = list(csv.DictReader(open(f"{a.dir}/targets.csv")))
    modes = list(csv.DictReader(open(f"{a.dir}/modes.csv")))
    ranks = [k[3:] for k in rows[0] if k.startswith("kl:")]
    names = ranks + ["full"]
    n, M = len(rows), len(names)
    kl = np.array([[float(r[f"kl:{k}"]) for k in ranks] + [0.0] for r in rows])
    fl = np.array([[float(r[f"flops:{k}"]) for k in names] for r in rows])
    cost = fl / fl[:, -1].mean()
    bad = []

    def check(what, got, want):
        if not close(got, want, a.tol):
            bad.append(f"{what}: table {got}, recomputed {want}")

    mc, mk = cost.mean(axis=0), kl.mean(axis=0)
    for m, row in zip(range(M), modes):
        check(f"modes {row['mode']} cost", row["cost"], mc[m])
        check(f"modes {row['mode']} kl", row["kl"], mk[m])
    static = lower_hull([(float(mc[m]), float(mk[m])) for m in range(M)])
    orc = oracle_hull(kl, cost)
    tg = [(f"{names[m]}-{names[m + 1]}", m, m + 1, (mc[m] + mc[m + 1]) / 2) for m in range(M - 1)]
    tg += [(f"@{names[m]}", m - 1, m + 1, mc[m]) for m in range(1, M - 1)]
    if [t[0] for t in tg] != [t["target"] for t in targets]:
        bad.append(f"targets: {[t['target'] for t in targets]}, expected {[t[0] for t in tg]}")
    ref = {}
    for (name, lo, hi, c), row in zip(tg, targets):
        s, o = hull_at(static, c), hull_at(orc, c)
        ref[name] = (lo, hi, c, s, o)
        check(f"target {name} cost", row["cost"], c)
        check(f"target {name} static", row["kl_static"], s)
        check(f"target {name} oracle", row["kl_oracle"], o)
    for t in table:
        sig = t["signal"]
        if sig == "oracle":
            for name, (lo, hi, c, s, o) in ref.items():
                key = name if name.startswith("@") else ":" + name
                check(f"oracle kl{key}", t[f"kl{key}"], o)
            continue
        v = np.array([float(r[sig]) for r in rows])
        rho = [spearman(v, kl[:, k]) for k in range(len(ranks))]
        for k, r in enumerate(ranks):
            check(f"{sig} rho:{r}", t[f"rho:{r}"], rho[k])
        sign = -1 if rho[0] < 0 else 1
        if int(t["sign"]) != sign:
            bad.append(f"{sig} sign: table {t['sign']}, recomputed {sign}")
        order = np.lexsort((np.arange(n), -sign * v))
        for name, (lo, hi, c, s, o) in ref.items():
            key = name if name.startswith("@") else ":" + name
            k = rule_kl(kl, cost, order, lo, hi, c)
            check(f"{sig} kl{key}", t[f"kl{key}"], k)
            share = (s - k) / (s - o) if s - o > 0 else float("nan")
            check(f"{sig} share{key}", t[f"share{key}"], share)
    if bad:
        print(f"signals_check.py: {len(bad)} numbers differ:", file=sys.stderr)
        for b in bad[:20]:
            print("  " + b, file=sys.stderr)
        sys.exit(1)
    print(f"signals_check.py: {len(table)} signal rows, {len(targets)} targets, {M} modes over "
          f"{n} inputs: every number agrees within {a.tol:g}")


if __name__ == "__main__":
    main()
