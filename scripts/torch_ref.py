#!/usr/bin/python3
"""torch_ref.py: PyTorch reference values for drrl's nn/ layers (read by tests/nn/test_torch_ref.c).

Usage: /usr/bin/python3 scripts/torch_ref.py OUT.h5

Writes an HDF5 file with root attributes format='drrl-torch-ref' and format_version=1 (int)
holding seeded random inputs, forward outputs and gradients for:

  /attention  the attention block: q, k, v (B, N, H*dh), key mask (B, N) int32 (1 = real token),
              upstream gradient dout; out (B, N, H*dh), p (B, H, N, N), dq, dk, dv.
              B=2, N=7, H=3, dh=5; sequence 1 has padded keys. Written out with torch ops:
              softmax(q k^T / sqrt(dh) with padded keys at -inf) v.
  /mhsa       the multi-head self-attention layer computed by torch's own
              torch.nn.functional.multi_head_attention_forward (in_proj_weight = [Wq; Wk; Wv],
              key_padding_mask = padding), with parameters stored under BERT's names
              (attention.self.query.weight, ...); x, mask, dout, out, and grad/<name> for x and
              every parameter. B=2, N=6, C=16, H=4.
  /layernorm  torch.nn.functional.layer_norm over the last dim with eps 1e-12 (BERT):
              x (M, C), weight, bias, dout, out, dx, dweight, dbias. M=6, C=10.
  /gelu       torch.nn.functional.gelu (exact erf form): x (n), dout, out, dx. n=64.

Every loss is L = sum(out * dout), so the gradients are the vector-Jacobian products with dout.
Inputs and parameters are drawn in float64, rounded to float32 and stored as float32: those are
the exact values the C code runs on. References (outputs and gradients) are computed in float64
from those rounded values and stored as float64, so the only error left in a comparison is ours.
"""
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

FORMAT = "drrl-torch-ref"
FORMAT_VERSION = 1
SEED = 20240611


def f32(t):
    """float64 tensor of values representable in float32 (what C gets)."""
    return t.to(torch.float32).to(torch.float64)


def randn(g, *shape, scale=1.0):
    return f32(torch.randn(*shape, generator=g, dtype=torch.float64) * scale)


def put(grp, name, t, dtype):
    arr = t.detach().cpu().numpy().astype(dtype)
    grp.create_dataset(name, data=arr)


def attention_block(f, g):
    B, N, H, dh = 2, 7, 3, 5
    C = H * dh
    q = randn(g, B, N, C).requires_grad_()
    k = randn(g, B, N, C).requires_grad_()
    v = randn(g, B, N, C).requires_grad_()
    dout = randn(g, B, N, C)
    mask = torch.ones(B, N, dtype=torch.int32)
    mask[1, [2, 5, 6]] = 0  # padded keys in sequence 1

    def heads(t):  # (B, N, C) -> (B, H, N, dh)
        return t.view(B, N, H, dh).transpose(1, 2)

    s = heads(q) @ heads(k).transpose(-1, -2) / math.sqrt(dh)  # (B, H, N, N)
    s = s.masked_fill((mask == 0)[:, None, None, :], float("-inf"))
    p = torch.softmax(s, dim=-1)
    out = (p @ heads(v)).transpose(1, 2).reshape(B, N, C)
    (out * dout).sum().backward()

    grp = f.create_group("attention")
    for name, val in (("B", B), ("N", N), ("H", H), ("dh", dh)):
        grp.attrs[name] = np.int64(val)
    put(grp, "q", q, np.float32)
    put(grp, "k", k, np.float32)
    put(grp, "v", v, np.float32)
    put(grp, "mask", mask, np.int32)
    put(grp, "dout", dout, np.float32)
    put(grp, "out", out, np.float64)
    put(grp, "p", p, np.float64)
    put(grp, "dq", q.grad, np.float64)
    put(grp, "dk", k.grad, np.float64)
    put(grp, "dv", v.grad, np.float64)


MHSA_NAMES = [
    "attention.self.query.weight", "attention.self.query.bias",
    "attention.self.key.weight", "attention.self.key.bias",
    "attention.self.value.weight", "attention.self.value.bias",
    "attention.output.dense.weight", "attention.output.dense.bias",
]


def mhsa_layer(f, g):
    B, N, C, H = 2, 6, 16, 4
    x = randn(g, B, N, C).requires_grad_()
    params = {}
    for name in MHSA_NAMES:
        shape = (C, C) if name.endswith("weight") else (C,)
        params[name] = randn(g, *shape, scale=0.3).requires_grad_()
    dout = randn(g, B, N, C)
    mask = torch.ones(B, N, dtype=torch.int32)
    mask[1, [1, 4, 5]] = 0  # padded tokens in sequence 1 (never a fully padded sequence:
    # torch returns NaN for a query with no valid key, drrl returns 0)

    P = params
    in_w = torch.cat([P[MHSA_NAMES[0]], P[MHSA_NAMES[2]], P[MHSA_NAMES[4]]], dim=0)  # (3C, C)
    in_b = torch.cat([P[MHSA_NAMES[1]], P[MHSA_NAMES[3]], P[MHSA_NAMES[5]]], dim=0)  # (3C)
    xt = x.transpose(0, 1)  # torch wants (N, B, C)
    out, _ = F.multi_head_attention_forward(
        xt, xt, xt, C, H, in_w, in_b, None, None, False, 0.0,
        P[MHSA_NAMES[6]], P[MHSA_NAMES[7]], training=False,
        key_padding_mask=(mask == 0), need_weights=False)
    out = out.transpose(0, 1)  # (B, N, C)
    (out * dout).sum().backward()

    grp = f.create_group("mhsa")
    for name, val in (("B", B), ("N", N), ("C", C), ("H", H)):
        grp.attrs[name] = np.int64(val)
    put(grp, "x", x, np.float32)
    put(grp, "mask", mask, np.int32)
    put(grp, "dout", dout, np.float32)
    put(grp, "out", out, np.float64)
    put(grp, "grad/x", x.grad, np.float64)
    for name in MHSA_NAMES:
        put(grp, name, P[name], np.float32)
        put(grp, "grad/" + name, P[name].grad, np.float64)


def layernorm(f, g):
    M, C, eps = 6, 10, 1e-12
    x = randn(g, M, C, scale=2.0)
    x[:, 0] += 3.0  # a non-zero mean
    x.requires_grad_()
    w = (1.0 + randn(g, C, scale=0.2)).requires_grad_()
    b = randn(g, C, scale=0.2).requires_grad_()
    dout = randn(g, M, C)
    out = F.layer_norm(x, (C,), w, b, eps)
    (out * dout).sum().backward()
    grp = f.create_group("layernorm")
    grp.attrs["M"] = np.int64(M)
    grp.attrs["C"] = np.int64(C)
    grp.attrs["eps"] = np.float64(eps)
    put(grp, "x", x, np.float32)
    put(grp, "weight", w, np.float32)
    put(grp, "bias", b, np.float32)
    put(grp, "dout", dout, np.float32)
    put(grp, "out", out, np.float64)
    put(grp, "dx", x.grad, np.float64)
    put(grp, "dweight", w.grad, np.float64)
    put(grp, "dbias", b.grad, np.float64)


def gelu(f, g):
    n = 64
    x = f32(torch.linspace(-6.0, 6.0, n, dtype=torch.float64) + randn(g, n, scale=0.05))
    x.requires_grad_()
    dout = randn(g, n)
    out = F.gelu(x)  # approximate='none': x * Phi(x) with erf
    (out * dout).sum().backward()
    grp = f.create_group("gelu")
    grp.attrs["n"] = np.int64(n)
    put(grp, "x", x, np.float32)
    put(grp, "dout", dout, np.float32)
    put(grp, "out", out, np.float64)
    put(grp, "dx", x.grad, np.float64)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: torch_ref.py OUT.h5\n")
        return 2
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    with h5py.File(argv[1], "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["torch_version"] = str(torch.__version__)
        attention_block(f, g)
        mhsa_layer(f, g)
        layernorm(f, g)
        gelu(f, g)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
