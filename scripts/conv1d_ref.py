#!/usr/bin/python3
"""conv1d_ref.py: PyTorch reference values for drrl's depthwise sequence convolution
(nn/conv1d.h, the convolutional position encoding), read by tests/nn/test_conv1d_torch.c.

Usage: /usr/bin/python3 scripts/conv1d_ref.py OUT.h5

Writes an HDF5 file with root attributes format='drrl-conv1d-ref' and format_version=1 (int)
and one group per case (/k1, /k3, /k9; attributes B, N, C, k), each holding

  x (B, N, C) float32, mask (B, N) int32 (1 = real token, padding at the end of a row),
  weight (k, C) float32 (drrl's layout: weight[j, c]), bias (C) float32, dout (B, N, C)
  float32 (upstream gradient); out (B, N, C), dx, dweight (k, C), dbias (C) float64.

computed by torch.nn.functional.conv1d on the masked input, channels first, one group per
channel, zero padding (k - 1) / 2 on both sides:

  out = conv1d((x * mask)^T, weight^T[:, None, :], bias, padding=(k-1)//2, groups=C)^T

so torch's kernel tap j of channel c (weight[c, 0, j]) is drrl's w[j, c]. Every loss is
L = sum(out * dout); dx is the gradient with respect to the unmasked x (zero at masked
tokens). Inputs are drawn in float64, rounded to float32 and stored as float32 (the exact
values the C code runs on); references are computed in float64 from those values, so the
only error left in a comparison is drrl's.
"""
import sys

import torch
import torch.nn.functional as F

from refutil import put_group, randn, write_main

FORMAT = "drrl-conv1d-ref"
FORMAT_VERSION = 1
SEED = 20250607
CASES = [  # (B, N, C, k): k = 9 is wider than the shortest real row
    (3, 11, 6, 1),
    (3, 11, 6, 3),
    (3, 11, 6, 9),
]


def case(f, g, B, N, C, k):
    x = randn(g, B, N, C).requires_grad_()
    w = randn(g, k, C, scale=0.5).requires_grad_()
    b = randn(g, C, scale=0.3).requires_grad_()
    dout = randn(g, B, N, C)
    lengths = [N, N - 4, 2][:B]
    mask = torch.zeros(B, N, dtype=torch.float64)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1.0
    xin = (x * mask[:, :, None]).transpose(1, 2)  # (B, C, N)
    weight = w.transpose(0, 1).unsqueeze(1)  # (C, 1, k)
    out = F.conv1d(xin, weight, b, padding=(k - 1) // 2, groups=C).transpose(1, 2)
    (out * dout).sum().backward()
    put_group(f.create_group("k%d" % k),
              ints=(("B", B), ("N", N), ("C", C), ("k", k)),
              f32s=(("x", x), ("weight", w), ("bias", b), ("dout", dout)),
              i32s=(("mask", mask),),
              f64s=(("out", out), ("dx", x.grad), ("dweight", w.grad), ("dbias", b.grad)))


def main(argv):
    writers = [lambda f, g, c=c: case(f, g, *c) for c in CASES]
    return write_main(argv, "conv1d_ref.py", FORMAT, FORMAT_VERSION, SEED, writers)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
