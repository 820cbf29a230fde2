#!/usr/bin/python3
"""baselines_ref.py: float64 reference outputs of the static attention baselines (read by
tests/attention/test_baselines.c).

Usage: /usr/bin/python3 scripts/baselines_ref.py IN.h5 OUT.h5

IN.h5 (written by the C test with core/store.h, format 'drrl-baselines-in', version 1):
  root attributes B, N, C, H, m (ints); x (B, N, C) float32; mask (B, N) int32 (1 = real
  token); the layer weights under BERT's names (attention.self.query.weight (C, C), ...bias
  (C), key, value, attention.output.dense); performer_w (m, dh) float32, the Performer's
  random features as the C code drew them.
OUT.h5 (format 'drrl-baselines-ref', version 1): nystrom (B, N, C) and performer (B, N, C)
  float64, the layer outputs Y = A Wo^T + bo, with A computed straight from the formulas of
  attention/nystrom.h and attention/performer.h in float64 (torch, no stabilising shifts, no
  fused orders of evaluation), from the float32 inputs as stored:

  Nystromformer, per (b, h), with r = the real positions and n = len(r), m' = min(m, n):
    segment s = r[floor(s n / m') : floor((s+1) n / m')], Q~_s, K~_s = segment means
    F = softmax(Q K~^T / sqrt(dh)), A = softmax(Q~ K~^T / sqrt(dh)),
    Bk = softmax(Q~ K^T / sqrt(dh)) with padded keys at -inf
    Z0 = A^T / (max row sum |A| * max column sum |A|),
    Z <- 1/4 Z (13 I - A Z (15 I - A Z (7 I - A Z))) six times;  O = (F Z)(Bk V)
  Performer, per (b, h), features W (m, dh):
    phi(x) = exp(W x / dh^(1/4) - |x|^2 / (2 sqrt(dh))) / sqrt(m), padded keys phi = 0
    O = (phi(Q) (phi(K)^T V)) / (phi(Q) (phi(K)^T 1))
  A sequence without real tokens gives O = 0 in both.
"""
import math
import sys

import h5py
import numpy as np
import torch

IN_FORMAT = "drrl-baselines-in"
OUT_FORMAT = "drrl-baselines-ref"
PINV_ITERS = 6
NAMES = ["attention.self.query", "attention.self.key", "attention.self.value",
         "attention.output.dense"]


def read(f, name):
    return torch.from_numpy(np.asarray(f[name], dtype=np.float64))


def nystrom_head(q, k, v, real, m):
    """q, k, v (N, dh) float64; real: list of real positions; returns O (N, dh)."""
    N, dh = q.shape
    n = len(real)
    mm = min(m, n)
    if mm == 0:
        return torch.zeros(N, dh, dtype=torch.float64)
    r = torch.tensor(real, dtype=torch.long)
    qt = torch.stack([q[r[s * n // mm:(s + 1) * n // mm]].mean(0) for s in range(mm)])
    kt = torch.stack([k[r[s * n // mm:(s + 1) * n // mm]].mean(0) for s in range(mm)])
    sc = 1.0 / math.sqrt(dh)
    F = torch.softmax(q @ kt.T * sc, dim=-1)
    A = torch.softmax(qt @ kt.T * sc, dim=-1)
    logits = qt @ k.T * sc
    pad = torch.ones(N, dtype=torch.bool)
    pad[r] = False
    logits[:, pad] = -math.inf
    Bk = torch.softmax(logits, dim=-1)
    I = torch.eye(mm, dtype=torch.float64)
    Z = A.T / (A.abs().sum(1).max() * A.abs().sum(0).max())
    for _ in range(PINV_ITERS):
        AZ = A @ Z
        Z = 0.25 * Z @ (13 * I - AZ @ (15 * I - AZ @ (7 * I - AZ)))
    return (F @ Z) @ (Bk @ v)


def performer_head(q, k, v, real, w):
    """q, k, v (N, dh); w (m, dh) features; returns O (N, dh)."""
    N, dh = q.shape
    m = w.shape[0]
    if len(real) == 0:
        return torch.zeros(N, dh, dtype=torch.float64)

    def phi(x):
        xs = x / dh ** 0.25
        return torch.exp(xs @ w.T - (xs * xs).sum(1, keepdim=True) / 2) / math.sqrt(m)

    pq, pk = phi(q), phi(k)
    keep = torch.zeros(N, 1, dtype=torch.float64)
    keep[real] = 1.0
    pk = pk * keep
    num = pq @ (pk.T @ v)
    den = pq @ pk.sum(0)
    return num / den[:, None]


def layer(x, mask, P, H, core):
    """Y (B, N, C) of the layer whose attention core per head is core(q, k, v, real)."""
    B, N, C = x.shape
    dh = C // H
    lin = {nm: (P[nm + ".weight"], P[nm + ".bias"]) for nm in NAMES}
    q = x @ lin[NAMES[0]][0].T + lin[NAMES[0]][1]
    k = x @ lin[NAMES[1]][0].T + lin[NAMES[1]][1]
    v = x @ lin[NAMES[2]][0].T + lin[NAMES[2]][1]
    a = torch.zeros(B, N, C, dtype=torch.float64)
    for b in range(B):
        real = [j for j in range(N) if mask[b, j] != 0]
        for h in range(H):
            cs = slice(h * dh, (h + 1) * dh)
            a[b, :, cs] = core(q[b, :, cs], k[b, :, cs], v[b, :, cs], real)
    return a @ lin[NAMES[3]][0].T + lin[NAMES[3]][1]


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: baselines_ref.py IN.h5 OUT.h5\n")
        return 2
    with h5py.File(argv[1], "r") as f:
        fmt = f.attrs["format"]
        fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
        if fmt != IN_FORMAT or int(f.attrs["format_version"]) != 1:
            sys.stderr.write(f"{argv[1]}: expected format {IN_FORMAT} version 1, found {fmt} "
                             f"version {f.attrs['format_version']}\n")
            return 1
        H, m = int(f.attrs["H"]), int(f.attrs["m"])
        x = read(f, "x")
        mask = torch.from_numpy(np.asarray(f["mask"], dtype=np.int64))
        P = {}
        for nm in NAMES:
            for part in ("weight", "bias"):
                P[nm + "." + part] = read(f, nm.replace(".", "/") + "/" + part)
        w = read(f, "performer_w")
    ny = layer(x, mask, P, H, lambda q, k, v, r: nystrom_head(q, k, v, r, m))
    pf = layer(x, mask, P, H, lambda q, k, v, r: performer_head(q, k, v, r, w))
    with h5py.File(argv[2], "w") as f:
        f.attrs["format"] = OUT_FORMAT
        f.attrs["format_version"] = np.int64(1)
        f.attrs["torch_version"] = str(torch.__version__)
        f.create_dataset("nystrom", data=ny.numpy())
        f.create_dataset("performer", data=pf.numpy())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
