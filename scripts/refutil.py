"""refutil.py: what the PyTorch reference writers share (scripts/torch_ref.py,
scripts/conv1d_ref.py): float32-representable random draws, storing tensors and integer
attributes in an HDF5 group, and the main that writes one seeded reference file.

Imported as `import refutil` by a script in scripts/ run as /usr/bin/python3 scripts/X.py
(Python puts the script's folder first on sys.path).

Inputs are drawn in float64 and rounded to float32 (f32): those are the exact values the C
code runs on. References are computed in float64 from the rounded values and stored as
float64, so the only error left in a comparison is drrl's.
"""
import sys

import h5py
import numpy as np
import torch


def f32(t):
    """float64 tensor of values representable in float32 (what C gets)."""
    return t.to(torch.float32).to(torch.float64)


def randn(g, *shape, scale=1.0):
    """scale * N(0, 1) of the given shape from generator g, rounded to float32 values."""
    return f32(torch.randn(*shape, generator=g, dtype=torch.float64) * scale)


def put(grp, name, t, dtype):
    """Dataset grp/name holding tensor t (detached) converted to numpy dtype."""
    grp.create_dataset(name, data=t.detach().cpu().numpy().astype(dtype))


def put_group(grp, ints=(), f32s=(), i32s=(), f64s=()):
    """Integer attributes (name, value) as int64; tensors (name, t) as float32 (the inputs the
    C code reads), int32 (masks) and float64 (the references)."""
    for name, val in ints:
        grp.attrs[name] = np.int64(val)
    for pairs, dtype in ((f32s, np.float32), (i32s, np.int32), (f64s, np.float64)):
        for name, t in pairs:
            put(grp, name, t, dtype)


def write_main(argv, script, fmt, version, seed, writers):
    """main of a reference writer: argv = [script, OUT.h5]; writes root attributes format,
    format_version (int64) and torch_version, then calls each writer(f, g) in order with one
    torch.Generator seeded with seed (single-threaded torch, so the values are reproducible).
    Returns the exit status (2 on a usage error)."""
    if len(argv) != 2:
        sys.stderr.write("usage: %s OUT.h5\n" % script)
        return 2
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(seed)
    with h5py.File(argv[1], "w") as f:
        f.attrs["format"] = fmt
        f.attrs["format_version"] = np.int64(version)
        f.attrs["torch_version"] = str(torch.__version__)
        for w in writers:
            w(f, g)
    return 0
