#!/usr/bin/python3
"""lm_check.py: an independent check of drrl-base --eval on a byte-level language model
(model.arch: decoder): the held-out rows rebuilt here from the gzip'd TSV, the model's weights
read from its drrl model file (GPT-2's names and layouts) and run by the plain-PyTorch GPT-2
of scripts/gpt2_ref.py in float64, the bits per byte and top-1 next-byte accuracy computed
here. Used by tests/cmd/test_base_lm.sh.

Usage: /usr/bin/python3 scripts/lm_check.py MODEL.h5 TEST.tsv.gz MAX_LEN [LIMIT]
(LIMIT: only the file's first LIMIT reviews, as drrl-base --eval --limit). Prints "bits_per_byte B top1 T rows R targets N".

Rows (as data/imdb.h's imdb_stream and pipeline/base_lm.h say): the reviews' texts in file
order joined by one newline into a stream, cut into consecutive rows of MAX_LEN - 2 bytes (the
final partial row dropped); a row is [CLS]=2, 4 + byte ..., [SEP]=3. Targets: position n
predicts the token at n + 1 when that is a byte. Bits per byte: the summed -ln p over the
targets / (targets ln 2); top-1: the share of targets that are the argmax (ties: lowest id).
"""
import gzip
import math
import sys

import h5py
import torch

import gpt2_ref


def rows_of(path, max_len, limit=0):
    with gzip.open(path, "rb") as f:
        lines = f.read().split(b"\n")
    texts = [ln.split(b"\t", 1)[1] for ln in lines[1:] if ln]
    if limit > 0:
        texts = texts[:limit]
    stream = b"\n".join(texts)
    t = max_len - 2
    return [[2] + [4 + b for b in stream[i:i + t]] + [3] for i in range(0, len(stream) - t + 1, t)]


def weights(path):
    w = {}
    with h5py.File(path, "r") as f:
        a = dict(f.attrs)

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name != "config":
                w[name.replace("/", ".")] = torch.tensor(obj[()], dtype=torch.float64)
        f.visititems(visit)
    return w, a


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write("usage: lm_check.py MODEL.h5 TEST.tsv.gz MAX_LEN [LIMIT]\n")
        return 2
    torch.set_num_threads(1)
    w, a = weights(argv[1])
    assert a["arch"] == "decoder"
    conv = a["position"] == "conv"
    rows = rows_of(argv[2], int(argv[3]), int(argv[4]) if len(argv) == 5 else 0)
    nats, n, hits = 0.0, 0, 0
    for i in range(0, len(rows), 64):
        ids = torch.tensor(rows[i:i + 64])
        mask = torch.ones(ids.shape, dtype=torch.float64)
        logits = gpt2_ref.forward(w, ids, mask, conv, heads=int(a["n_heads"]),
                                  eps=float(a["ln_eps"]), tanh=a["act"] == "gelu_tanh")
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        tg = ids[:, 1:]
        keep = tg >= 4
        nats -= logp.gather(-1, tg.unsqueeze(-1)).squeeze(-1)[keep].sum().item()
        n += int(keep.sum())
        hits += int((logits[:, :-1].argmax(-1) == tg)[keep].sum())
    print("bits_per_byte %.8f top1 %.8f rows %d targets %d" % (nats / (n * math.log(2)),
                                                              hits / n, len(rows), n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
