#!/usr/bin/python3
"""make_imdb_sample.py: write the small IMDB sample used by the tests,
data/imdb-sample/{train,test}.tsv.gz, from the full files in data/imdb (scripts/fetch_imdb.sh).

The sample of a split is the header plus its first ROWS (200) data rows, unchanged: the
full files are sorted by (review id, label), neg id 0, pos id 0, neg id 1, ..., so any
even-length prefix is exactly label-balanced (100 neg / 100 pos), and data row r came from
aclImdb/<split>/<neg|pos>/<r // 2>_*.txt. These 200-row prefixes happen to include reviews
with the stray C1 control characters (C2 80..C2 9F, U+0085 NEL among them) and a few of
4096 bytes or more, so the tests see both.

The gzip is deterministic: level 9, mtime 0, no file name. Python 3 standard library only.
Checks each sample (row count, balance, one TAB per line, 0/1 labels, size < 200 KB) and
prints its statistics and sha256.

Usage:  /usr/bin/python3 scripts/make_imdb_sample.py [--src DIR] [--out DIR] [--rows N]
"""
import argparse
import gzip
import hashlib
import os
import re
import sys

HEADER = b"label\ttext\n"
MAX_GZ_BYTES = 200 * 1024


def sample(src_path, rows):
    with gzip.open(src_path, "rb") as f:
        data = f.read()
    if not data.startswith(HEADER):
        sys.exit("%s: header is not 'label\\ttext'" % src_path)
    lines = data[len(HEADER):].split(b"\n")  # split on LF only: U+0085 is not a line end
    if len(lines) < rows + 1:
        sys.exit("%s: only %d rows" % (src_path, len(lines) - 1))
    return HEADER + b"".join(line + b"\n" for line in lines[:rows])


def check(tsv, rows, name):
    lines = tsv[len(HEADER):].split(b"\n")[:-1]
    counts = [0, 0]
    for r, line in enumerate(lines):
        label, sep, text = line.partition(b"\t")
        if not sep or b"\t" in text or label not in (b"0", b"1") or not text:
            sys.exit("%s: row %d malformed" % (name, r))
        counts[int(label)] += 1
    if len(lines) != rows or counts != [rows // 2, rows - rows // 2]:
        sys.exit("%s: %d rows, labels %r" % (name, len(lines), counts))
    texts = [line[2:] for line in lines]
    c1 = sum(1 for t in texts if re.search(rb"\xc2[\x80-\x9f]", t))
    long_ = sum(1 for t in texts if len(t) >= 4096)
    return counts, c1, long_, max(len(t) for t in texts)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(root, "data", "imdb"))
    ap.add_argument("--out", default=os.path.join(root, "data", "imdb-sample"))
    ap.add_argument("--rows", type=int, default=200, help="data rows per split (even)")
    args = ap.parse_args()
    if args.rows < 2 or args.rows % 2:
        sys.exit("--rows: expected an even number >= 2")
    os.makedirs(args.out, exist_ok=True)
    for split in ("train", "test"):
        tsv = sample(os.path.join(args.src, split + ".tsv.gz"), args.rows)
        counts, c1, long_, mx = check(tsv, args.rows, split)
        gz = gzip.compress(tsv, compresslevel=9, mtime=0)
        if len(gz) >= MAX_GZ_BYTES:
            sys.exit("%s: %d gzip bytes, expected < %d" % (split, len(gz), MAX_GZ_BYTES))
        path = os.path.join(args.out, split + ".tsv.gz")
        with open(path + ".tmp", "wb") as f:
            f.write(gz)
        os.replace(path + ".tmp", path)
        print("%s: %d rows (neg %d / pos %d), %d texts with C1 bytes, %d >= 4096 bytes, "
              "longest %d; tsv %d bytes, gz %d bytes" % (path, args.rows, counts[0], counts[1],
                                                         c1, long_, mx, len(tsv), len(gz)))
        print("  sha256 tsv %s" % hashlib.sha256(tsv).hexdigest())


if __name__ == "__main__":
    main()
