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

import h5py
import numpy as np
import torch
import torch.nn.functional as F

FORMAT = "drrl-conv1d-ref"
FORMAT_VERSION = 1
SEED = 20250607
CASES = [  # (B, N, C, k): k = 9 is wider than the shortest real row
    (3, 11, 6, 1),
    (3, 11, 6, 3),
    (3, 11, 6, 9),
]


def f32(t):
    """float64 tensor of values representable in float32 (what C gets)."""
    return t.to(torch.float32).to(torch.float64)


def randn(g, *shape, scale=1.0):
    return f32(torch.randn(*shape, generator=g, dtype=torch.float64) * scale)


def put(grp, name, t, dtype):
    grp.create_dataset(name, data=t.detach().cpu().numpy().astype(dtype))


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
    grp = f.create_group("k%d" % k)
    for name, val in (("B", B), ("N", N), ("C", C), ("k", k)):
        grp.attrs[name] = np.int64(val)
    put(grp, "x", x, np.float32)
    put(grp, "mask", mask, np.int32)
    put(grp, "weight", w, np.float32)
    put(grp, "bias", b, np.float32)
    put(grp, "dout", dout, np.float32)
    put(grp, "out", out, np.float64)
    put(grp, "dx", x.grad, np.float64)
    put(grp, "dweight", w.grad, np.float64)
    put(grp, "dbias", b.grad, np.float64)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: conv1d_ref.py OUT.h5\n")
        return 2
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    with h5py.File(argv[1], "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["torch_version"] = str(torch.__version__)
        for B, N, C, k in CASES:
            case(f, g, B, N, C, k)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
