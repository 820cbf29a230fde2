#!/usr/bin/python3
"""static_frontier.py: the static frontier (per layer, or per layer and position) by greedy
descent, measured with drrl-eval.

The uniform static ranks are L points (one rank everywhere); a per-layer allocation
(r_0, ..., r_{L-1}) has |grid|^L points, too many to run them all at long lengths. This script
walks the frontier greedily: from the top rank everywhere, each round runs drrl-eval on every
allocation that lowers one layer by one grid step, and keeps the one that gives up the least
KL to full (drrl-eval's kl_mean: per token on a language model, per input on a classifier)
per unit of attention FLOPs saved:
    pick argmin_c (KL(c) - KL(cur)) / (F(cur) - F(c))
until every layer is at the bottom rank. Each point is a real drrl-eval pass (the same rows,
the same checkpoint), so the frontier is measured, not composed from per-layer numbers; greedy
is a heuristic, so the script also reports the lower convex hull of every allocation it ran.

--parts K (K >= 2) searches fixed rules by layer and position instead: an allocation is K
per-layer lists, drrl-eval's static:A+B+.. (a row of n segments runs segment s at part
floor(s K / n)), and a step lowers one (part, layer) coordinate by one grid step: K L
coordinates, so at most K L (|grid| - 1) rounds. --from A starts the descent at allocation A
(a drrl-eval static mode, e.g. static:32/16/32/16, repeated over the parts if it has one
list) instead of the top rank everywhere; --stop-flops F ends it once the attention FLOPs
ratio is at or below F. Both bound the number of passes (each a full drrl-eval pass).

usage: scripts/static_frontier.py CKPT OUT_DIR [--ranks 4,8,16,32] [--drrl-eval PATH]
                                  [--parts K] [--from ALLOC] [--stop-flops F]
                                  [-- extra drrl-eval arguments, e.g. --split test --rows 16
                                   data.max_len=4096 --reps 1]
writes OUT_DIR/frontier.tsv (alloc, attn_flops, model_flops, kl, bits_per_byte, agreement,
latency, attn_latency, greedy: 1 on the greedy path) and prints the greedy path and the hull.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import hull  # noqa: E402


def run_eval(exe, ckpt, out, modes, extra):
    """runs drrl-eval on `modes` and returns {mode: its eval json record}"""
    os.makedirs(out, exist_ok=True)
    cmd = [exe, "--checkpoint", ckpt, "--out", out, "--quiet", "--modes", ",".join(modes)] + extra
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    names = [f for f in os.listdir(out) if f.startswith("eval") and f.endswith(".json")]
    if len(names) != 1:
        raise SystemExit(f"static_frontier: expected one eval*.json in {out}, found {names}")
    with open(os.path.join(out, names[0])) as f:
        return {m["mode"]: m for m in json.load(f)["modes"]}


def loss(m):
    """what a lower rank gives up: the per-token or per-input KL to full"""
    return m["kl_mean"]


def parse_alloc(text, ranks, parts):
    """--from's static mode -> its rank indices per (part, layer), part-major"""
    if not text.startswith("static:"):
        raise SystemExit(f"static_frontier: --from: expected static:A or static:A+B.., found "
                         f"'{text}'")
    lists = [p.split("/") for p in text[len("static:"):].split("+")]
    if len(lists) == 1:
        lists *= parts
    if len(lists) != parts or len({len(x) for x in lists}) != 1:
        raise SystemExit(f"static_frontier: --from '{text}': expected one list or {parts} "
                         f"lists of equal length (--parts {parts})")
    try:
        return tuple(ranks.index(int(r)) for x in lists for r in x)
    except ValueError:
        raise SystemExit(f"static_frontier: --from '{text}': expected ranks of {ranks}")


def main(argv):
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    else:
        extra = []
    ranks, exe, pos, parts, start, stop = [4, 8, 16, 32], "build/cmd/drrl-eval", [], 1, None, None
    i = 0
    while i < len(argv):
        if argv[i] in ("--ranks", "--drrl-eval", "--parts", "--from", "--stop-flops"):
            if i + 1 == len(argv):
                raise SystemExit(f"static_frontier: {argv[i]}: expected a value")
            v = argv[i + 1]
            if argv[i] == "--ranks":
                ranks = sorted(int(r) for r in v.split(","))
            elif argv[i] == "--drrl-eval":
                exe = v
            elif argv[i] == "--parts":
                parts = int(v)
                if not 2 <= parts <= 8:
                    raise SystemExit(f"static_frontier: --parts: expected 2..8, found {v}")
            elif argv[i] == "--from":
                start = v
            else:
                stop = float(v)
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if len(pos) != 2:
        raise SystemExit(__doc__)
    ckpt, out = pos
    if start is not None:
        start = parse_alloc(start, ranks, parts)
        L = len(start) // parts

    def name(a):
        return "static:" + "+".join("/".join(str(ranks[j]) for j in a[p * L:(p + 1) * L])
                                    for p in range(parts))

    # the first run: full and the starting allocation (by default the top rank everywhere,
    # whose run also gives the number of layers)
    first = run_eval(exe, ckpt, os.path.join(out, "round-00"),
                     ["full", name(start) if start else f"static:{ranks[-1]}"], extra)
    seen = {}
    if start is None:
        L = len(first["full"]["rank_per_layer"])
        start = tuple([len(ranks) - 1] * (L * parts))
        seen[start] = first[f"static:{ranks[-1]}"]
    else:
        seen[start] = first[name(start)]
    cur, path, rnd = start, [start], 0
    while any(cur) and (stop is None or seen[cur]["attn_flops_ratio"] > stop):
        rnd += 1
        cands = [tuple(c - (j == k) for j, c in enumerate(cur))
                 for k in range(len(cur)) if cur[k] > 0]
        unseen = [c for c in cands if c not in seen]
        if unseen:
            got = run_eval(exe, ckpt, os.path.join(out, f"round-{rnd:02d}"),
                           [name(c) for c in unseen], extra)
            for c in unseen:
                seen[c] = got[name(c)]
        f0, k0 = seen[cur]["attn_flops_ratio"], loss(seen[cur])

        def slope(c):
            df = f0 - seen[c]["attn_flops_ratio"]
            return (loss(seen[c]) - k0) / df if df > 0 else float("inf")

        cur = min(cands, key=slope)
        path.append(cur)
        m = seen[cur]
        print(f"round {rnd}: {name(cur)}  attn FLOPs {m['attn_flops_ratio']:.3f}  "
              f"KL {loss(m):.3e}  latency {m['latency_ratio']:.3f}", flush=True)
    on_path = set(path)
    with open(os.path.join(out, "frontier.tsv"), "w") as f:
        f.write("alloc\tattn_flops\tmodel_flops\tkl\tbits_per_byte\tagreement\tlatency\t"
                "attn_latency\tgreedy\n")
        for a, m in sorted(seen.items(), key=lambda t: -t[1]["attn_flops_ratio"]):
            bpb = m.get("bits_per_byte")
            f.write(f"{name(a)}\t{m['attn_flops_ratio']:.6f}\t{m['model_flops_ratio']:.6f}\t"
                    f"{loss(m):.6e}\t{'' if bpb is None else f'{bpb:.6f}'}\t"
                    f"{m['agreement']:.6f}\t{m['latency_ratio']:.6f}\t{m['attn_ratio']:.6f}\t"
                    f"{int(a in on_path)}\n")
    pts = {(m["attn_flops_ratio"], loss(m)): name(a) for a, m in seen.items()}
    w = max(len(v) for v in pts.values())
    print(f"{len(seen)} allocations run; lower hull by attention FLOPs:")
    for x, y in hull(list(pts)):
        print(f"  {pts[(x, y)]:{w}s} attn FLOPs {x:.3f}  KL {y:.3e}")
    print(f"wrote {os.path.join(out, 'frontier.tsv')}")


if __name__ == "__main__":
    main(sys.argv[1:])
