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

import torch
import torch.nn.functional as F

from refutil import f32, put_group, randn, write_main

FORMAT = "drrl-torch-ref"
FORMAT_VERSION = 1
SEED = 20240611


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

    put_group(f.create_group("attention"),
              ints=(("B", B), ("N", N), ("H", H), ("dh", dh)),
              f32s=(("q", q), ("k", k), ("v", v), ("dout", dout)),
              i32s=(("mask", mask),),
              f64s=(("out", out), ("p", p), ("dq", q.grad), ("dk", k.grad), ("dv", v.grad)))


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

    put_group(f.create_group("mhsa"),
              ints=(("B", B), ("N", N), ("C", C), ("H", H)),
              f32s=[("x", x), ("dout", dout)] + [(name, P[name]) for name in MHSA_NAMES],
              i32s=(("mask", mask),),
              f64s=[("out", out), ("grad/x", x.grad)]
              + [("grad/" + name, P[name].grad) for name in MHSA_NAMES])


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
    grp.attrs["eps"] = float(eps)
    put_group(grp, ints=(("M", M), ("C", C)),
              f32s=(("x", x), ("weight", w), ("bias", b), ("dout", dout)),
              f64s=(("out", out), ("dx", x.grad), ("dweight", w.grad), ("dbias", b.grad)))


def gelu(f, g):
    n = 64
    x = f32(torch.linspace(-6.0, 6.0, n, dtype=torch.float64) + randn(g, n, scale=0.05))
    x.requires_grad_()
    dout = randn(g, n)
    out = F.gelu(x)  # approximate='none': x * Phi(x) with erf
    (out * dout).sum().backward()
    put_group(f.create_group("gelu"), ints=(("n", n),),
              f32s=(("x", x), ("dout", dout)), f64s=(("out", out), ("dx", x.grad)))


def main(argv):
    return write_main(argv, "torch_ref.py", FORMAT, FORMAT_VERSION, SEED,
                      [attention_block, mhsa_layer, layernorm, gelu])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
