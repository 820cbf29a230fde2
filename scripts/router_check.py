#!/usr/bin/python3
"""router_check.py: recompute a drrl-router run from its two per-input files, independently
of the C code (numpy only), and compare.

    /usr/bin/python3 scripts/router_check.py TRAIN.tsv DEV.tsv DIR [--tol 1e-6]

DIR holds drrl-router's router.txt, cv.csv, frontier.csv and compare.csv. Recomputed here:
  fit       features of router.txt from TRAIN.tsv (log:NAME = log(max(NAME, 1e-30))), their
            means and population stds, y = log(KL_r + 1e-12); w = np.linalg.solve(Z'Z/n +
            lambda I, Z'(y - mean y)/n) at the chosen lambda, b = mean y; the CV error of every
            lambda (fold f = rows i with i mod k = f, standardised on the other folds) and the
            choice (least CV error, the first on ties)
  costs     per input and mode: attention flops / mean flops:full; (flops + rest_flops) /
            mean (flops:full + rest_flops); ms / mean ms:full; the cheap pass: mode 0 (+
            feat_flops for model FLOPs; ms:cheap for latency); a cascade input pays cheap, plus
            the mode's cost when escalated
  points    the router's (its taus from frontier.csv) and the static modes' mean costs, KL,
            accuracy, agreement, share escalated; the rule's points (every threshold, every
            target mode; sign from the Spearman on TRAIN's rank-0 KL)
  compare   every hull value at the static ranks' costs and both oracles (signals_check.py's
            oracle_hull), ratios and shares
Exits 1 naming the first numbers that differ by more than the tolerance."""
import argparse
import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from signals_check import hull_at, lower_hull, oracle_hull, spearman  # noqa: E402

CUR = ["attention", "model", "latency"]
errors = []


def check(what, got, want, tol):
    got, want = float(got), float(want)
    if np.isnan(got) and np.isnan(want):
        return
    if np.isinf(got) and got == want:
        return
    if not abs(got - want) <= tol * max(1.0, abs(want)):
        errors.append(f"{what}: file {got!r}, recomputed {want!r}")


def load(path):
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    cols = {k: np.array([float(r[k]) if r[k] not in ("", "nan") else np.nan for r in rows])
            for k in rows[0]}
    ranks = [int(k[3:]) for k in rows[0] if k.startswith("kl:")]
    return cols, ranks


def read_router(path):
    lines = [ln.split() for ln in open(path) if ln.strip()]
    feats = [(ln[1], float(ln[2]), float(ln[3])) for ln in lines if ln[0] == "feature"]
    ranks = {int(ln[1]): (float(ln[3]), float(ln[5]), np.array([float(v) for v in ln[7:]]))
             for ln in lines if ln[0] == "rank"}
    return feats, ranks


def features(cols, names):
    out = []
    for nm in names:
        v = np.log(np.maximum(cols[nm[4:]], 1e-30)) if nm.startswith("log:") else cols[nm]
        out.append(v)
    return np.stack(out, axis=1)


def ridge(X, y, lam):
    mu, sd = X.mean(0), X.std(0)
    sd[sd == 0] = 1
    Z = (X - mu) / sd
    n = len(y)
    b = y.mean()
    w = np.linalg.solve(Z.T @ Z / n + lam * np.eye(X.shape[1]), Z.T @ (y - b) / n)
    return mu, sd, b, w


def check_fit(tr, trranks, d, tol):
    feats, rk = read_router(f"{d}/router.txt")
    X = features(tr, [f[0] for f in feats])
    cv = list(csv.DictReader(open(f"{d}/cv.csv")))
    for j, (nm, mu, sd) in enumerate(feats):
        check(f"mean {nm}", mu, X[:, j].mean(), tol)
        check(f"std {nm}", sd, X[:, j].std() if X[:, j].std() > 0 else 1, tol)
    for r in trranks:
        y = np.log(tr[f"kl:{r}"] + 1e-12)
        lam, b, w = rk[r]
        _, _, b2, w2 = ridge(X, y, lam)
        check(f"rank {r} intercept", b, b2, tol)
        for j in range(len(w)):
            check(f"rank {r} weight {feats[j][0]}", w[j], w2[j], 1e-5)
        rows = [c for c in cv if int(c["rank"]) == r]
        k = 5 if not os.environ.get("ROUTER_FOLDS") else int(os.environ["ROUTER_FOLDS"])
        errs = []
        for c in rows:
            lm = float(c["lambda"])
            e = 0.0
            for f in range(k):
                held = np.arange(len(y)) % k == f
                mu, sd, bb, ww = ridge(X[~held], y[~held], lm)
                e += ((y[held] - bb - ((X[held] - mu) / sd) @ ww) ** 2).sum() / len(y)
            errs.append(e)
            check(f"cv rank {r} lambda {lm}", c["cv_mse"], e, 1e-5)
        best = int(np.argmin(errs))
        if float(rows[best]["lambda"]) != lam:
            errors.append(f"rank {r}: lambda {lam}, recomputed CV choice {rows[best]['lambda']}")
    return feats, rk


def costs(dv, ranks):
    modes = [str(r) for r in ranks] + ["full"]
    A = np.stack([dv[f"flops:{m}"] for m in modes], 1)
    ms = np.stack([dv[f"ms:{m}"] for m in modes], 1)
    rest, feat = dv["rest_flops"], dv["feat_flops"]
    na, nm, nl = A[:, -1].mean(), (A[:, -1] + rest).mean(), ms[:, -1].mean()
    cost = [A / na, (A + rest[:, None]) / nm, ms / nl]
    cheap = [A[:, 0] / na, (A[:, 0] + rest + feat) / nm, dv["ms:cheap"] / nl]
    return cost, cheap


def point(choice, dv, ranks, cost, cheap, static=False):
    modes = [str(r) for r in ranks] + ["full"]
    n = len(choice)
    kl = np.stack([dv[f"kl:{r}"] for r in ranks] + [np.zeros(n)], 1)
    pred = np.stack([dv[f"pred:{m}"] for m in modes], 1)
    rows = np.arange(n)
    c = [(cost[k][rows, choice] if static else cheap[k] + np.where(choice > 0, cost[k][rows, choice], 0)).mean()
         for k in range(3)]
    p = pred[rows, choice]
    lab = dv["label"] >= 0
    acc = (p[lab] == dv["label"][lab]).mean() if lab.any() else np.nan
    return c, kl[rows, choice].mean(), acc, (p == pred[:, -1]).mean(), (choice > 0).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train"), ap.add_argument("dev"), ap.add_argument("dir")
    ap.add_argument("--tol", type=float, default=1e-6)
    a = ap.parse_args()
    tr, trranks = load(a.train)
    dv, ranks = load(a.dev)
    feats, rk = check_fit(tr, trranks, a.dir, a.tol)
    n, M = len(dv["row"]), len(ranks) + 1
    X = features(dv, [f[0] for f in feats])
    Z = (X - np.array([f[1] for f in feats])) / np.array([f[2] for f in feats])
    yhat = np.stack([rk[r][1] + Z @ rk[r][2] for r in ranks], 1)
    cost, cheap = costs(dv, ranks)
    fr = list(csv.DictReader(open(f"{a.dir}/frontier.csv")))
    pts = {}
    for f in fr:
        pts.setdefault((f["method"], f["currency"]), []).append(f)
    for f in pts[("router", "attention")]:
        lt = np.log(float(f["param"])) if float(f["param"]) > 0 else -np.inf
        ch = np.where(yhat[:, 0] <= lt, 0, M - 1)
        for i in range(n):
            if ch[i]:
                ok = [k for k in range(1, M - 1) if yhat[i, k] <= lt]
                ch[i] = ok[0] if ok else M - 1
        c, kl, acc, ag, esc = point(ch, dv, ranks, cost, cheap)
        for k in range(3):
            g = [h for h in pts[("router", CUR[k])] if h["param"] == f["param"]][0]
            check(f"router tau {f['param']} cost {CUR[k]}", g["cost"], c[k], a.tol)
        for nm, v in (("kl", kl), ("acc", acc), ("agree", ag), ("escalated", esc)):
            check(f"router tau {f['param']} {nm}", f[nm], v, a.tol)
    for m in range(M):
        c, kl, acc, ag, _ = point(np.full(n, m), dv, ranks, cost, cheap, static=True)
        for k in range(3):
            check(f"static {m} cost {CUR[k]}", pts[("static", CUR[k])][m]["cost"], c[k], a.tol)
        check(f"static {m} kl", pts[("static", "attention")][m]["kl"], kl, a.tol)
    md = open(f"{a.dir}/compare.md").read()
    sig_name = md.split("rule = ")[1].split(" threshold")[0]
    sign = -1 if spearman(tr[sig_name], tr[f"kl:{trranks[0]}"]) < 0 else 1
    order = np.lexsort((np.arange(n), -sign * dv[sig_name]))
    rule = {k: [] for k in range(3)}
    for m in range(1, M):
        for j in range(n + 1):
            ch = np.zeros(n, dtype=int)
            ch[order[:j]] = m
            c, kl, acc, ag, _ = point(ch, dv, ranks, cost, cheap)
            for k in range(3):
                rule[k].append((c[k], kl, acc, ag))
    got = {k: [(float(f["cost"]), float(f["kl"])) for f in pts[("rule", CUR[k])]] for k in range(3)}
    for k in range(3):
        for i, (p, q) in enumerate(zip(rule[k], got[k])):
            check(f"rule point {i} {CUR[k]} cost", q[0], p[0], a.tol)
            check(f"rule point {i} {CUR[k]} kl", q[1], p[1], a.tol)
    kl = np.stack([dv[f"kl:{r}"] for r in ranks] + [np.zeros(n)], 1)
    for row in csv.DictReader(open(f"{a.dir}/compare.csv")):
        k = CUR.index(row["currency"])
        C = float(row["cost"])
        hs = lower_hull([(float(f["cost"]), float(f["kl"])) for f in pts[("static", CUR[k])]])
        hr = lower_hull([(float(f["cost"]), float(f["kl"])) for f in pts[("router", CUR[k])]])
        hu = lower_hull([(p[0], p[1]) for p in rule[k]])
        ho = oracle_hull(kl, cost[k])
        cc = np.where(np.arange(M)[None] > 0, cheap[k][:, None] + cost[k], cheap[k][:, None])
        hc = oracle_hull(kl, cc)
        want = {"kl_static": hull_at(hs, C), "kl_router": hull_at(hr, C), "kl_rule": hull_at(hu, C),
                "kl_oracle": hull_at(ho, C), "kl_cascade_oracle": hull_at(hc, C)}
        for nm, v in want.items():
            check(f"compare {row['currency']}@{row['at_rank']} {nm}", row[nm], v, 1e-6)
    if errors:
        print("router_check: FAIL\n  " + "\n  ".join(errors[:20]), file=sys.stderr)
        sys.exit(1)
    print(f"router_check: ok ({len(ranks)} ranks, {len(feats)} features, {n} inputs)")


if __name__ == "__main__":
    main()
