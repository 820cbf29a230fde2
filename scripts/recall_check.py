#!/usr/bin/python3
"""recall_check.py: an independent check of the associative-recall rows (data/recall.h), and the
accuracy of drrl-eval's attention modes by pair count.

  recall_check.py check DUMP.tsv           # or: check --exec RECALL_DUMP CONFIG SPLIT [K=V ...]
  recall_check.py by-pairs DUMP.tsv EVAL_DIR [--buckets 2-5,6-10,...] [--tol 0.01]

check: parses every row of a dump written by tests/data/recall_dump (header line
"# recall length=N keys=K ...", then index<TAB>pairs<TAB>label<TAB>ids) and recomputes from
the tokens alone, with the header's vocabulary layout ([PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, keys
from 4, then values, then fillers): the fixed length (N real tokens, [CLS] first, [SEP] last,
[PAD] after), the query at position 1 is a key, the body's pairs (a key on an even offset
followed by a value; fillers elsewhere), the keys distinct within the row, the pair count equal
to the dump's and within [min_pairs, max_pairs], and the label = the value bound to the query
key, equal to the dump's. It also checks that every pair count of the range occurs when the
dump has at least 50 rows per count, and the pair counts' distribution (header pair_dist):
uniform, or zipf, Pr(P = p) = (1/p) / sum_q (1/q) over the range: each count within 5 standard
errors of its expected number (when that number is at least 5). Exit 1 on any failure.

by-pairs: joins drrl-eval's prediction files of the test split (EVAL_DIR/*.MODE.tsv,
index<TAB>prediction; drrl-eval names them SST-2.MODE.tsv for a recall model today) and
per_input_test.tsv (per-input KL of each mode) with the dump's pair counts and labels, and prints
per pair-count bucket the number of inputs, each mode's accuracy and mean KL, and the smallest
uniform static rank whose accuracy in the bucket is within --tol of full's (the rank the bucket
needs). With EVAL_DIR/eval_test.csv (drrl-eval's summary) it also prints each mode's attention
FLOPs relative to full, the cheapest static rank whose overall accuracy is within --tol of
full's, and the bucket oracle: every bucket at the rank it needs, its accuracy and attention
FLOPs (the buckets' FLOPs ratios averaged by their number of inputs; every row has the same
length, so a row's attention FLOPs depend on its rank only). Plain python, no numpy needed.
"""
import glob
import os
import re
import subprocess
import sys


def parse_dump(lines):
    head = lines[0]
    if not head.startswith("# recall "):
        raise SystemExit("dump: line 1: expected '# recall key=value ...', found %r" % head[:60])
    meta = {}
    for kv in head[len("# recall "):].split():
        k, v = kv.split("=", 1)
        meta[k] = v if k in ("split", "pair_dist") else int(v)
    meta.setdefault("pair_dist", "uniform")
    rows = []
    for ln, line in enumerate(lines[1:], 2):
        cols = line.rstrip("\n").split("\t")
        if len(cols) != 4:
            raise SystemExit("dump:%d: expected 4 tab-separated columns, found %d" % (ln, len(cols)))
        rows.append((int(cols[0]), int(cols[1]), int(cols[2]), [int(t) for t in cols[3].split()]))
    return meta, rows


def check_row(m, pairs, label, ids):
    """the problems of one row (empty list when it follows every rule)"""
    N, W = m["length"], m["max_len"]
    k0 = 4
    v0 = k0 + m["keys"]
    f0 = v0 + m["values"]
    f1 = f0 + m["fillers"]
    bad = []
    if len(ids) != W:
        return ["%d ids, expected max_len %d" % (len(ids), W)]
    if ids[0] != 2 or ids[N - 1] != 3:
        bad.append("[CLS]/[SEP] not at 0/%d" % (N - 1))
    if any(t != 0 for t in ids[N:]):
        bad.append("non-[PAD] after position %d" % (N - 1))
    if 0 in ids[:N]:
        bad.append("[PAD] inside the row")
    q = ids[1]
    if not k0 <= q < v0:
        bad.append("query %d is not a key" % q)
    is_key = lambda t: k0 <= t < v0
    is_val = lambda t: v0 <= t < f0
    bound = {}
    j = 2
    while j < N - 1:
        t = ids[j]
        if is_key(t):
            if (j - 2) % 2 or j + 1 >= N - 1 or not is_val(ids[j + 1]):
                bad.append("key at %d not on a slot start followed by a value" % j)
                break
            if t in bound:
                bad.append("key %d repeated" % t)
            bound[t] = ids[j + 1] - v0
            j += 2
            continue
        if is_val(t):
            bad.append("value at %d without its key" % j)
        elif not f0 <= t < f1:
            bad.append("token %d at %d is neither key, value nor filler" % (t, j))
        j += 1
    if len(bound) != pairs:
        bad.append("%d pairs found, dump says %d" % (len(bound), pairs))
    if not m["min_pairs"] <= len(bound) <= m["max_pairs"]:
        bad.append("%d pairs outside [%d, %d]" % (len(bound), m["min_pairs"], m["max_pairs"]))
    if bound.get(q) != label:
        bad.append("label %d, the query's value is %s" % (label, bound.get(q)))
    return bad


def check_distribution(meta, counts, n):
    """1 when a pair count's frequency is off its distribution by more than 5 standard errors"""
    ps = range(meta["min_pairs"], meta["max_pairs"] + 1)
    if meta["pair_dist"] == "zipf":
        w = {p: 1.0 / p for p in ps}
    elif meta["pair_dist"] == "uniform":
        w = {p: 1.0 for p in ps}
    else:
        print("pair_dist %r: expected uniform or zipf" % meta["pair_dist"])
        return 1
    tot = sum(w.values())
    off = []
    for p in ps:
        pr = w[p] / tot
        mu, sd = n * pr, (n * pr * (1 - pr)) ** 0.5
        if mu >= 5 and abs(counts.get(p, 0) - mu) > 5 * sd:
            off.append("P=%d: %d rows, expected %.1f" % (p, counts.get(p, 0), mu))
    if off:
        print("pair counts off the %s distribution: %s" % (meta["pair_dist"], "; ".join(off)))
    return 1 if off else 0


def cmd_check(args):
    if args and args[0] == "--exec":
        text = subprocess.run(args[1:], check=True, stdout=subprocess.PIPE, text=True).stdout
    elif len(args) == 1:
        with open(args[0]) as f:
            text = f.read()
    else:
        raise SystemExit(__doc__)
    meta, rows = parse_dump(text.splitlines())
    fails = 0
    counts = {}
    for i, (idx, pairs, label, ids) in enumerate(rows):
        if idx != i:
            print("row %d: index %d" % (i, idx))
            fails += 1
        bad = check_row(meta, pairs, label, ids)
        if bad:
            fails += 1
            if fails <= 10:
                print("row %d: %s" % (i, "; ".join(bad)))
        counts[pairs] = counts.get(pairs, 0) + 1
    span = meta["max_pairs"] - meta["min_pairs"] + 1
    if len(rows) >= 50 * span:
        missing = [p for p in range(meta["min_pairs"], meta["max_pairs"] + 1) if p not in counts]
        if missing:
            print("pair counts never drawn: %s" % missing)
            fails += 1
    fails += check_distribution(meta, counts, len(rows))
    print("recall_check: %d rows of %s (length %d, %d keys, %d values, pairs %d..%d, %s): %s"
          % (len(rows), meta["split"], meta["length"], meta["keys"], meta["values"],
             meta["min_pairs"], meta["max_pairs"], meta["pair_dist"],
             "%d FAILED" % fails if fails else "all correct"))
    return 1 if fails else 0


def read_tsv(path):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        return head, [line.rstrip("\n").split("\t") for line in f if line.strip()]


def parse_buckets(spec, lo, hi):
    if not spec:
        step = max(1, (hi - lo + 1 + 4) // 5)
        return [(a, min(a + step - 1, hi)) for a in range(lo, hi + 1, step)]
    out = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out.append((int(a), int(b or a)))
    return out


def print_costs(csv_path, preds, label, pairs, static, buckets, tol):
    """FLOPs ratios, the cheapest static rank within tol overall, and the bucket oracle"""
    with open(csv_path) as f:
        head = f.readline().rstrip("\n").split(",")
        ratio = {}
        for line in f:
            c = line.rstrip("\n").split(",")
            ratio[c[0]] = float(c[head.index("attn_flops_ratio")])
    ratio["full"] = 1.0
    every = list(preds["full"])
    acc = lambda m, ids: sum(preds[m][i] == label[i] for i in ids) / len(ids)
    full = acc("full", every)
    print("\nattention FLOPs vs full: " + ", ".join("%s %.3f" % (m, ratio[m])
                                                  for _, m in static if m in ratio))
    cheap = next((m for _, m in static if acc(m, every) >= full - tol), "full")
    print("cheapest static within %.3g of full (%.4f): %s, accuracy %.4f, attention FLOPs %.3f"
          % (tol, full, cheap, acc(cheap, every), ratio[cheap]))
    n = flops = right = 0
    for a, b in buckets:
        ids = [i for i in every if a <= pairs.get(i, -1) <= b]
        if not ids:
            continue
        af = acc("full", ids)
        m = next((m for _, m in static if acc(m, ids) >= af - tol), "full")
        n += len(ids)
        flops += len(ids) * ratio[m]
        right += sum(preds[m][i] == label[i] for i in ids)
    print("bucket oracle (each bucket at its cheapest rank within %.3g of its full accuracy): "
          "accuracy %.4f, attention FLOPs %.3f of full (%.2fx less than %s)"
          % (tol, right / n, flops / n, ratio[cheap] / (flops / n), cheap))


def cmd_by_pairs(args):
    if len(args) < 2:
        raise SystemExit(__doc__)
    dump, d = args[0], args[1]
    opts = dict(zip(args[2::2], args[3::2]))
    tol = float(opts.get("--tol", "0.01"))
    with open(dump) as f:
        meta, rows = parse_dump(f.read().splitlines())
    pairs = {r[0]: r[1] for r in rows}
    label = {r[0]: r[2] for r in rows}
    preds = {}
    for path in sorted(glob.glob(os.path.join(d, "*.*.tsv"))):
        mm = re.match(r"^[^.]+\.(.+)\.tsv$", os.path.basename(path))
        if not mm or mm.group(1).startswith("per_input"):
            continue
        head, body = read_tsv(path)
        if head[:2] != ["index", "prediction"]:
            continue
        preds[mm.group(1).replace("-", ":").replace("_", "/")] = {int(a): int(b) for a, b in body}
    if "full" not in preds:
        raise SystemExit("%s: expected prediction files of the test split with a 'full' mode" % d)
    kl = {}
    per = os.path.join(d, "per_input_test.tsv")
    if os.path.exists(per):
        head, body = read_tsv(per)
        for c, name in enumerate(head):
            if name.startswith("kl:"):
                kl[name[3:]] = {int(r[0]): float(r[c]) for r in body}
    static = sorted((int(m.split(":")[1]), m) for m in preds if re.match(r"^static:\d+$", m))
    modes = ["full"] + [m for _, m in static] + sorted(m for m in preds if m != "full" and
                                                        not re.match(r"^static:\d+$", m))
    buckets = parse_buckets(opts.get("--buckets"), meta["min_pairs"], meta["max_pairs"])
    print("| pairs | n | " + " | ".join("acc %s" % m for m in modes) + " | rank needed |")
    print("|" + " --- |" * (len(modes) + 3))
    for a, b in buckets:
        ids = [i for i in preds["full"] if a <= pairs.get(i, -1) <= b]
        if not ids:
            continue
        acc = {m: sum(preds[m][i] == label[i] for i in ids) / len(ids) for m in modes}
        need = next((r for r, m in static if acc[m] >= acc["full"] - tol), "full")
        print("| %d-%d | %d | %s | %s |" % (a, b, len(ids),
              " | ".join("%.3f" % acc[m] for m in modes), need))
    if os.path.exists(os.path.join(d, "eval_test.csv")):
        print_costs(os.path.join(d, "eval_test.csv"), preds, label, pairs, static, buckets, tol)
    if kl:
        print("\nmean KL(full || mode) by pairs")
        km = [m for m in modes if m in kl and m != "full"]
        print("| pairs | " + " | ".join(km) + " |")
        print("|" + " --- |" * (len(km) + 1))
        for a, b in buckets:
            ids = [i for i in preds["full"] if a <= pairs.get(i, -1) <= b]
            if ids:
                print("| %d-%d | %s |" % (a, b, " | ".join(
                    "%.3g" % (sum(kl[m][i] for i in ids) / len(ids)) for m in km)))
    return 0


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("check", "by-pairs"):
        raise SystemExit(__doc__)
    return cmd_check(sys.argv[2:]) if sys.argv[1] == "check" else cmd_by_pairs(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
