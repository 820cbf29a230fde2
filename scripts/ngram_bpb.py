#!/usr/bin/python3
"""ngram_bpb.py: a byte n-gram reference for the language model's bits per byte (issue 18):
an interpolated Witten-Bell byte n-gram of orders 0..K, counted on the training reviews'
text and scored on the held-out test text, both built as drrl-base builds its stream (the
reviews' texts in file order joined by one newline; pipeline/base_lm.h).

    P_0(w)     = (c(w) + 1) / (N + 256)                                 (add-one unigram)
    P_k(w | h) = (c(h w) + u(h) P_{k-1}(w | h')) / (c(h) + u(h))        (c(h) > 0)
               = P_{k-1}(w | h')                                        (c(h) = 0)
with h the k bytes before w, h' its last k - 1, c counts in the training text and u(h) the
number of distinct bytes that follow h there (Witten and Bell 1991; the "PPM method C"
estimate, here interpolated). Every test byte is scored with the full k bytes before it in
the test stream (the first k bytes with what there is). Counting by numpy sorts of packed
64-bit codes (orders up to 7).

Usage: /usr/bin/python3 scripts/ngram_bpb.py TRAIN.tsv.gz TEST.tsv.gz [MAX_ORDER [LIMIT]]
Prints one line per order: "order k bits_per_byte B" over the whole test stream, or with
LIMIT over the stream of the test file's first LIMIT reviews (drrl-base --eval --limit).
"""
import gzip
import math
import sys

import numpy as np


def stream(path, limit=0):
    with gzip.open(path, "rb") as f:
        lines = f.read().split(b"\n")
    texts = [ln.split(b"\t", 1)[1] for ln in lines[1:] if ln]
    if limit > 0:
        texts = texts[:limit]
    return np.frombuffer(b"\n".join(texts), dtype=np.uint8).astype(np.uint64)


def codes(s, k):
    """(len(s) - k) codes of the k bytes before position i (i = k..) packed big-endian"""
    c = np.zeros(len(s) - k, dtype=np.uint64)
    for j in range(k):
        c = (c << np.uint64(8)) | s[j:len(s) - k + j]
    return c


def lookup(keys, counts, q):
    """counts of q in the sorted unique keys (0 where absent)"""
    i = np.searchsorted(keys, q)
    i = np.minimum(i, len(keys) - 1)
    return np.where(keys[i] == q, counts[i], 0)


def main(argv):
    if len(argv) not in (3, 4, 5):
        sys.stderr.write(__doc__)
        return 2
    K = int(argv[3]) if len(argv) >= 4 else 6
    if not 0 <= K <= 7:
        sys.stderr.write("MAX_ORDER: expected 0..7, found %d\n" % K)
        return 2
    tr, te = stream(argv[1]), stream(argv[2], int(argv[4]) if len(argv) == 5 else 0)
    n = len(te)
    uni = np.bincount(tr.astype(np.int64), minlength=256).astype(np.float64)
    p = (uni[te.astype(np.int64)] + 1.0) / (len(tr) + 256.0)  # P_0 of every test byte
    print("order 0 bits_per_byte %.6f train_bytes %d test_bytes %d" %
          (-np.log2(p).mean(), len(tr), n), flush=True)
    for k in range(1, K + 1):
        hc = codes(tr, k)                              # contexts of train bytes k..
        full = (hc << np.uint64(8)) | tr[k:]           # context and next byte
        fk, fc = np.unique(full, return_counts=True)
        hk, hn = np.unique(hc, return_counts=True)
        ctx_of = fk >> np.uint64(8)                    # distinct followers per context
        uk, un = np.unique(ctx_of, return_counts=True)
        # test: byte i >= k with its k-byte context; bytes i < k keep the lower order
        q = codes(te, k)
        qf = (q << np.uint64(8)) | te[k:]
        ch = lookup(hk, hn, q).astype(np.float64)
        chw = lookup(fk, fc, qf).astype(np.float64)
        u = lookup(uk, un, q).astype(np.float64)
        lower = p[k:]
        seen = ch > 0
        p[k:] = np.where(seen, (chw + u * lower) / np.where(seen, ch + u, 1.0), lower)
        print("order %d bits_per_byte %.6f" % (k, -np.log2(p).mean()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
