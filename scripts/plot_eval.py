#!/usr/bin/python3
"""plot_eval.py: the pictures of a drrl-eval run (issue 6), as PNG files, with Debian's
python3-matplotlib (/usr/bin/python3; scripts/install-deps.sh installs it).

    scripts/plot_eval.py EVAL_DIR [--metrics RUN_DIR/metrics.csv] [--out DIR]

Reads EVAL_DIR/eval.json (drrl-eval's output; eval_test.json is used when eval.json is
absent) and, when present, EVAL_DIR/policy_ranks.tsv, and writes into --out (default
EVAL_DIR):
  pareto.png        accuracy (95% bootstrap CI as error bars) and mean KL(p_full || p_mode)
                    against the attention FLOPs ratio of every mode: static whitened and plain
                    ranks as lines, Nystrom and Performer at each m, random, policy, full;
  rank_heatmap.png  the policy's chosen rank per layer (mean per head over segments) for
                    every sentence, sentences sorted by length (policy_ranks.tsv);
  training.png      drrl-train's curves from metrics.csv (--metrics; default: the run
                    directory two levels above a checkpoint directory EVAL_DIR): reward and its
                    terms, attention FLOPs ratio, fidelity, approx_kl, entropy.
Prints the paths written. Pictures whose input is missing are skipped with a note."""
import argparse
import csv
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def family(name):
    return name.split(":")[0]


def pareto(ev, path):
    modes = ev["modes"]
    labelled = ev.get("n_labeled", 0) > 0
    fig, axes = plt.subplots(1, 2 if labelled else 1, figsize=(12 if labelled else 6.5, 4.8),
                             squeeze=False)
    axes = axes[0]
    styles = {"static": ("tab:blue", "o-"), "static-plain": ("tab:cyan", "s--"),
              "nystrom": ("tab:orange", "^-"), "performer": ("tab:red", "v-"),
              "random": ("tab:gray", "D"), "policy": ("tab:green", "*"), "full": ("black", "P")}
    panels = ([("accuracy", "accuracy (dev)")] if labelled else []) + \
        [("kl_mean", "mean KL(p_full || p_mode), nats")]
    for ax, (key, ylabel) in zip(axes, panels):
        for fam, (color, style) in styles.items():
            pts = sorted((m["attn_flops_ratio"], m, m["mode"]) for m in modes if family(m["mode"]) == fam)
            if not pts:
                continue
            x = [p[0] for p in pts]
            y = [p[1][key] for p in pts]
            if key == "kl_mean":  # log scale: full's 0 is drawn at the floor
                y = [max(v, 1e-9) for v in y]
            kw = dict(color=color, label=fam, markersize=10 if fam in ("policy", "full") else 6)
            if key == "accuracy":
                err = [[p[1]["accuracy"] - p[1]["ci_low"] for p in pts],
                       [p[1]["ci_high"] - p[1]["accuracy"] for p in pts]]
                ax.errorbar(x, y, yerr=err, fmt=style, capsize=3, **kw)
            else:
                ax.plot(x, y, style, **kw)
            for xi, yi, (_, m, name) in zip(x, y, pts):
                if ":" in name:
                    ax.annotate(name.split(":")[1], (xi, yi), textcoords="offset points",
                                xytext=(4, 4), fontsize=7, color=color)
        ax.set_xscale("log")
        if key == "kl_mean":
            ax.set_yscale("log")
            ax.text(0.02, 0.02, "full (KL 0) drawn at 1e-9", transform=ax.transAxes, fontsize=7)
        ax.set_xlabel("attention FLOPs / full (counted)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"drrl-eval: {ev['split']} split, {ev['n']} sentences ({os.path.basename(ev['model'])})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def heatmap(ranks_path, ev, path):
    rows = list(csv.DictReader(open(ranks_path), delimiter="\t"))
    layers = sorted((k for k in rows[0] if k.startswith("rank_l")), key=lambda k: int(k[6:]))
    rows.sort(key=lambda r: (int(r["length"]), int(r["index"])))
    grid = [[float(r[k]) for r in rows] for k in layers]  # (L, n)
    fig, (ax, axl) = plt.subplots(2, 1, figsize=(12, 3 + 0.45 * len(layers)), sharex=True,
                                  gridspec_kw={"height_ratios": [max(len(layers), 2), 1.5]},
                                  layout="constrained")
    im = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis",
                   vmin=0, vmax=ev["head_size"])
    ax.set_yticks(range(len(layers)))
    ax.set_yticklabels([f"layer {k[6:]}" for k in layers])
    ax.set_title("policy: chosen rank per head (full = %d), sentences sorted by length" % ev["head_size"])
    fig.colorbar(im, ax=ax, label="rank", pad=0.01)
    axl.plot(range(len(rows)), [int(r["length"]) for r in rows], color="black", lw=1)
    axl.set_ylabel("tokens")
    axl.set_xlabel("sentence (by length)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def training(metrics_path, path):
    rows = list(csv.DictReader(open(metrics_path)))
    it = [int(r["iteration"]) for r in rows]
    col = lambda k: [float(r[k]) if r.get(k) not in (None, "") else math.nan for r in rows]  # noqa: E731
    fig, axes = plt.subplots(2, 3, figsize=(14, 7))
    ax = axes[0][0]
    ax.plot(it, col("reward_mean"), label="reward / step", color="black")
    for k in ("r_fid", "r_lat", "r_bound", "r_kl"):
        ax.plot(it, col(k), label=k, lw=1)
    ax.set_title("reward and its terms (per step)")
    ax.legend(fontsize=7)
    panels = [("flops_ratio", "attention FLOPs ratio"), ("fidelity_mean", "fidelity (cosine)"),
              ("approx_kl", "approx_kl"), ("entropy", "entropy"), ("rank_mean", "mean rank")]
    for ax, (k, title) in zip([a for row in axes for a in row][1:], panels):
        ax.plot(it, col(k), color="tab:blue")
        ax.set_title(title)
    for row in axes:
        for ax in row:
            ax.set_xlabel("iteration")
            ax.grid(True, alpha=0.3)
    fig.suptitle(f"drrl-train: {metrics_path}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("eval_dir")
    ap.add_argument("--metrics", help="drrl-train's metrics.csv")
    ap.add_argument("--out", help="output directory (default: EVAL_DIR)")
    a = ap.parse_args()
    out = a.out or a.eval_dir
    os.makedirs(out, exist_ok=True)
    jp = os.path.join(a.eval_dir, "eval.json")
    if not os.path.exists(jp):
        jp = os.path.join(a.eval_dir, "eval_test.json")
    if not os.path.exists(jp):
        sys.exit(f"plot_eval: {a.eval_dir}: no eval.json or eval_test.json (run drrl-eval first)")
    ev = json.load(open(jp))
    written = []
    p = os.path.join(out, "pareto.png")
    pareto(ev, p)
    written.append(p)
    rp = os.path.join(a.eval_dir, "policy_ranks.tsv" if ev["split"] == "dev" else "policy_ranks_test.tsv")
    if os.path.exists(rp):
        p = os.path.join(out, "rank_heatmap.png")
        heatmap(rp, ev, p)
        written.append(p)
    else:
        print(f"plot_eval: note: {rp} missing (no policy mode): no heat map")
    mp = a.metrics
    if not mp:  # RUN_DIR/checkpoints/ckpt-*.h5 -> RUN_DIR/metrics.csv
        mp = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(ev["checkpoint"]))), "metrics.csv")
    if os.path.exists(mp):
        p = os.path.join(out, "training.png")
        training(mp, p)
        written.append(p)
    else:
        print(f"plot_eval: note: {mp} missing: no training curves (use --metrics)")
    for p in written:
        print(p)


if __name__ == "__main__":
    main()
