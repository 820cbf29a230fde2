#!/usr/bin/python3
"""plot_sweep.py: the pictures of a drrl-sweep run (issue 7, item 3: attention against sequence
length), as PNG files, with Debian's python3-matplotlib (/usr/bin/python3).

    scripts/plot_sweep.py SWEEP.csv [--out DIR]

Reads drrl-sweep's CSV (length,mode,latency_ms,latency_ratio,attn_flops,flops_ratio,kl,...)
and writes into --out (default: the CSV's directory):
  sweep_latency.png  measured attention latency (ms, median) against length, log-log, one line
                     per mode;
  sweep_flops.png    counted attention FLOPs ratio vs full against length (log x), one line per
                     mode;
  sweep_fidelity.png KL(p_full || p_mode) and the last layer's relative attention error against
                     length (log-log), one line per mode (full, exact by definition, omitted).
Prints the paths written."""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    by_mode = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            by_mode.setdefault(r["mode"], []).append(
                (int(r["length"]), float(r["latency_ms"]), float(r["flops_ratio"]),
                 float(r["kl"]), float(r["rel_err"])))
    for v in by_mode.values():
        v.sort()
    return by_mode


def plot(by_mode, col, ylabel, title, path, logy):
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for mode, pts in by_mode.items():
        ax.plot([p[0] for p in pts], [p[col] for p in pts], marker="o", label=mode,
                linewidth=2.5 if mode == "full" else 1.5)
    ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("sequence length (bytes)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    by_mode = load(a.csv)
    if not by_mode:
        sys.exit(f"plot_sweep.py: error: {a.csv}: no rows")
    out = a.out or os.path.dirname(os.path.abspath(a.csv))
    os.makedirs(out, exist_ok=True)
    plot(by_mode, 1, "attention latency (ms, median)", "Attention latency vs length",
         os.path.join(out, "sweep_latency.png"), True)
    plot(by_mode, 2, "attention FLOPs / full", "Counted attention FLOPs ratio vs length",
         os.path.join(out, "sweep_flops.png"), False)
    fidelity(by_mode, os.path.join(out, "sweep_fidelity.png"))


def fidelity(by_mode, path):
    """KL and relative error per mode against length; zeros (exact) cannot be drawn on a log
    axis and are left out"""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, col, label in ((axes[0], 3, "KL(p_full || p_mode) (nats, mean)"),
                           (axes[1], 4, "relative error, last layer's attention (mean)")):
        for mode, pts in by_mode.items():
            if mode == "full":
                continue
            xy = [(p[0], p[col]) for p in pts if p[col] > 0]
            if xy:
                ax.plot([p[0] for p in xy], [p[1] for p in xy], marker="o", label=mode,
                        linewidth=2.5 if mode == "policy" else 1.5)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (bytes)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Fidelity vs length")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(path)


if __name__ == "__main__":
    main()
