#!/usr/bin/python3
"""outcome.py: the outcome table of a drrl-eval run (issue 14, item 5): every method against
the static hull and the per-input oracle at the same cost.

    /usr/bin/python3 scripts/outcome.py DIR [--cost latency|flops] [--plot FRONTIER.png]
        [--signal TSV:COLUMN --rank-plot RANKS.png] [--title TEXT]

DIR holds drrl-eval's eval(_test).json and per_input(_test).tsv (with pred:MODE columns) of a
run on inputs of one length. Fixed modes (full, static:r, static:r0/r1/...) are the static
candidates; every other mode (policy, random, margin:..., probe:...) is a method row.

Cost (--cost): `latency` = the end-to-end latency ratio vs full (the whole forward as
deployed, the decision's own time included: eval.json latency_ratio), `flops` = the counted
attention FLOPs ratio (decision FLOPs excluded). At a method's cost:
  uniform hull   lower convex hull of (cost, mean KL) over full and the uniform static ranks;
                 a point between two vertices is the mix of those two modes over inputs, so its
                 accuracy and agreement are the same mix of theirs
  static hull    the same over every fixed mode (per-layer allocations too)
  oracle         each input its own fixed mode with hindsight (scripts/oracle.py's Lagrangian
                 hull), at the method's cost
  oracle share   (static hull KL - method KL) / (static hull KL - oracle KL): 1 = the oracle,
                 0 = the static hull, < 0 = worse than a static choice
Accuracy CIs are drrl-eval's (percentile bootstrap); hull and oracle rows' accuracy is that of
their mixes (the oracle's: its per-input choices' predictions against the labels)."""
import argparse
import csv
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import at, hull, oracle_sweep, run_files  # noqa: E402


def fail(msg):
    print(f"outcome.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def load(d, mixed):
    jp, pp = run_files(d)
    if not jp or not pp:
        fail(f"{d}: expected eval(_test).json and per_input(_test).tsv from drrl-eval")
    J = json.load(open(jp))
    rows = list(csv.DictReader(open(pp), delimiter="\t"))
    if not rows:
        fail(f"{pp}: no rows")
    if "pred:full" not in rows[0]:
        fail(f"{pp}: no pred:MODE columns (written by drrl-eval since per_input carries them)")
    if len({r["length"] for r in rows}) != 1 and not mixed:
        fail(f"{pp}: expected inputs of one length (per-input costs are the modes' means), "
             f"or --mixed-lengths")
    return J, rows, jp


def mix_at(verts, x, val):
    """val (a dict mode -> number) mixed like the hull's point at x: the two vertices around x
    (verts: [(cost, kl, mode)] sorted), weighted by position; the cheaper-left vertex when x is
    past the end"""
    left = [v for v in verts if v[0] <= x + 1e-12]
    if not left:
        return float("nan"), None
    a = left[-1]
    right = [v for v in verts if v[0] > x + 1e-12]
    if not right or a[0] >= x - 1e-12:
        return val[a[2]], a[2]
    b = right[0]
    t = (x - a[0]) / (b[0] - a[0])
    return (1 - t) * val[a[2]] + t * val[b[2]], f"{a[2]} + {b[2]}"


def hull_verts(pts):
    """hull vertices as (cost, kl, mode) from [(cost, kl, mode)]"""
    h = hull([(c, k) for c, k, _ in pts])
    return [next(p for p in pts if p[0] == c and p[1] == k) for c, k in h]


def pyplot():
    """matplotlib's pyplot on the file-only backend"""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--cost", choices=["latency", "flops"], default="latency")
    ap.add_argument("--plot", help="write the KL vs cost frontier with every method (PNG)")
    ap.add_argument("--mixed-lengths", action="store_true",
                    help="accept inputs of several lengths: the oracle then prices each input "
                    "at its mode's mean cost ratio (an approximation; the hulls and methods "
                    "stay exact)")
    ap.add_argument("--title", help="the pictures' title (default: DIR's name)")
    ap.add_argument("--signal", help="TSV:COLUMN, a per-input signal joined on the index column")
    ap.add_argument("--rank-plot", help="write the policy's mean rank against --signal (PNG)")
    a = ap.parse_args()
    J, rows, jp = load(a.dir, a.mixed_lengths)
    modes = {m["mode"]: m for m in J["modes"]}
    key = "latency_ratio" if a.cost == "latency" else "attn_flops_ratio"
    fixed = [k for k in modes if k == "full" or k.startswith("static:")]
    methods = [k for k in modes if k not in fixed and f"kl:{k}" in rows[0]]
    n = len(rows)
    label = np.array([int(r["label"]) for r in rows])
    kl = {k: np.array([float(r[f"kl:{k}"]) for r in rows]) for k in modes}
    pred = {k: np.array([int(r[f"pred:{k}"]) for r in rows]) for k in modes}
    acc = {k: float((pred[k] == label).mean()) for k in modes}
    agr = {k: float((pred[k] == pred["full"]).mean()) for k in modes}
    cost = {k: float(modes[k][key]) for k in modes}
    pts = [(cost[k], float(kl[k].mean()), k) for k in fixed]
    uni = hull_verts([p for p in pts if "/" not in p[2]])
    sta = hull_verts(pts)
    uni2, sta2 = [v[:2] for v in uni], [v[:2] for v in sta]
    C = np.array([cost[k] for k in fixed])
    K = np.stack([kl[k] for k in fixed], axis=1)  # (n, M)
    P = np.stack([pred[k] for k in fixed], axis=1)
    orc, pick_at = oracle_sweep(K, C)

    def oracle_at(x):
        """(KL, accuracy, agreement) of the oracle's choice at cost x"""
        pick = pick_at(x)
        if pick is None:
            return float("nan"), float("nan"), float("nan")
        p = P[np.arange(n), pick]
        return (float(K[np.arange(n), pick].mean()), float((p == label).mean()),
                float((p == pred["full"]).mean()))

    unit = "end-to-end latency" if a.cost == "latency" else "attention FLOPs"
    lens = sorted({int(r["length"]) for r in rows})
    span = f"{lens[0]}" if len(lens) == 1 else f"{lens[0]}-{lens[-1]}"
    print(f"# outcome: {n} inputs of {span} tokens, cost = {unit} ratio vs full ({jp})"
          + ("; the oracle prices each input at its mode's mean cost ratio" if len(lens) > 1
             else "") + "\n")
    print("| method | accuracy (95% CI) | agreement | mean KL | attn FLOPs | latency | "
          "decision share | uniform hull KL | static hull KL | oracle KL | oracle share |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    out = []
    for k in methods + [v[2] for v in sta]:
        m, x = modes[k], cost[k]
        s, u, o = at(sta2, x), at(uni2, x), at(orc, x)
        share = (s - m["kl_mean"]) / (s - o) if s - o > 1e-6 * s else float("nan")
        dec = m.get("decision_share")
        print(f"| {k} | {m['accuracy']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}] | "
              f"{m['agreement']:.4f} | {m['kl_mean']:.3g} | {m['attn_flops_ratio']:.3f} | "
              f"{m['latency_ratio']:.3f} | {'%.3f' % dec if dec else '-'} | {u:.3g} | {s:.3g} | "
              f"{o:.3g} | {share:.2f} |")
        out.append((k, x, m["kl_mean"]))
    for k in methods:
        x = cost[k]
        ua, um = mix_at(uni, x, acc)
        sa, sm = mix_at(sta, x, acc)
        oa = oracle_at(x)
        print(f"\nat {k}'s cost {x:.3f}: uniform hull {um} (accuracy {ua:.4f}, agreement "
              f"{mix_at(uni, x, agr)[0]:.4f}); static hull {sm} (accuracy {sa:.4f}, agreement "
              f"{mix_at(sta, x, agr)[0]:.4f}); oracle KL {oa[0]:.3g}, accuracy {oa[1]:.4f}, "
              f"agreement {oa[2]:.4f}")
    if a.plot:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        floor = min(v for v in [p[1] for p in pts] if v > 0) / 300  # KL 0 (full) sits here
        y = lambda v: max(v, floor)
        xs = np.linspace(min(C), max(C), 400)  # hulls are linear in KL: sample, do not join
        ax.plot(xs, [y(at(uni2, x)) for x in xs], "-", label="uniform static hull")
        ax.plot([v[0] for v in uni], [y(v[1]) for v in uni], "o", color="C0")
        ax.plot(xs, [y(at(sta2, x)) for x in xs], "--", label="static hull (per layer)")
        ax.plot(xs, [y(at(orc, x)) for x in xs], ":", label="per-input oracle")
        for k, x, v in out:
            if k in methods:
                ax.plot([x], [y(v)], "*", ms=11, label=k)
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
        ax.set_xlabel(f"{unit} ratio vs full")
        ax.set_ylabel("mean KL(full || mode), nats")
        ax.set_title(a.title or f"{os.path.basename(os.path.normpath(a.dir))}: {n} inputs")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(a.plot, dpi=110)
        print(f"\nwrote {a.plot}")
    if a.rank_plot:
        if not a.signal or ":" not in a.signal:
            fail("--rank-plot needs --signal TSV:COLUMN")
        path, col = a.signal.rsplit(":", 1)
        sig = {r["index"]: r for r in csv.DictReader(open(path), delimiter="\t")}
        rp = next((os.path.join(a.dir, f) for f in ("policy_ranks_test.tsv", "policy_ranks.tsv")
                   if os.path.exists(os.path.join(a.dir, f))), None)
        if not rp:
            fail(f"{a.dir}: no policy_ranks(_test).tsv")
        R = list(csv.DictReader(open(rp), delimiter="\t"))
        if R and col not in next(iter(sig.values())):
            fail(f"{path}: no column '{col}'")
        xs, ys = [], []
        for r in R:
            if r["index"] in sig:
                xs.append(float(sig[r["index"]][col]))
                ys.append(np.mean([float(v) for k, v in r.items() if k.startswith("rank_l")]))
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        jit = np.random.default_rng(1).uniform(-0.25, 0.25, len(ys))
        ax.scatter(xs, np.array(ys) + jit, s=4, alpha=0.4)
        ax.set_xlabel(col)
        ax.set_ylabel("policy's mean rank over layers (jittered)")
        ax.set_title(a.title or os.path.basename(os.path.normpath(a.dir)))
        fig.tight_layout()
        fig.savefig(a.rank_plot, dpi=110)
        print(f"wrote {a.rank_plot} ({len(xs)} inputs)")


if __name__ == "__main__":
    main()
