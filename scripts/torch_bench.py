#!/usr/bin/python3
"""torch_bench.py: PyTorch's latency for drrl-bench's torch columns.

Times torch.nn.MultiheadAttention(d, heads, batch_first=True) forward (eval mode, no grad,
float32, need_weights=False, self-attention on one random (batch, n, d) input) at each n,
for each thread count T (default 1 and 2): each T runs in its own process with
OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = MKL_NUM_THREADS = T set before torch is imported and
torch.set_num_threads(T). The latency is the median of --reps runs after --warmup discarded
ones, on time.perf_counter (monotonic). A (n, T) whose runs would exceed --max-seconds after
its first run is skipped with a note.

Writes a CSV (header n,threads,latency_ms,d,heads,batch,reps,torch) that
`drrl-bench --torch FILE.csv` reads (it keeps the best thread setting per n), and prints the
table. Exit status 77 when torch cannot be imported (drrl-bench --torch auto then skips).

    /usr/bin/python3 scripts/torch_bench.py --n 512,4096 --d 512 --heads 8 --out torch.csv
"""
import argparse
import os
import subprocess
import sys


def int_list(text):
    try:
        vals = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of integers >= 1, found '{text}'")
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of integers >= 1, found '{text}'")
    return vals


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int_list, default=[128, 256, 512, 1024, 2048, 4096, 8192, 16384])
    p.add_argument("--d", type=int, default=512)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int_list, default=[1, 2])
    p.add_argument("--max-seconds", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="CSV file to write (default: print only)")
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # internal: one thread count
    a = p.parse_args()
    if a.d % a.heads:
        p.error(f"--heads: expected a divisor of --d {a.d}, found {a.heads}")
    if a.reps < 1 or a.warmup < 0 or a.batch < 1:
        p.error("expected --reps >= 1, --warmup >= 0 and --batch >= 1")
    return a


def worker(a):
    """Time every n at a.worker threads; print 'n,latency_ms' lines (or 'n,skip,why')."""
    import time
    import torch
    torch.set_num_threads(a.worker)
    torch.manual_seed(a.seed)
    mha = torch.nn.MultiheadAttention(a.d, a.heads, batch_first=True).eval()
    for n in a.n:
        x = torch.randn(a.batch, n, a.d, dtype=torch.float32)
        times = []
        with torch.no_grad():
            t0 = time.perf_counter()
            mha(x, x, x, need_weights=False)
            first = time.perf_counter() - t0
            if a.max_seconds > 0 and first * (a.warmup - 1 + a.reps) > a.max_seconds:
                print(f"{n},skip,one run took {first:.1f} s", flush=True)
                continue
            for _ in range(a.warmup - 1):
                mha(x, x, x, need_weights=False)
            for _ in range(a.reps):
                t0 = time.perf_counter()
                mha(x, x, x, need_weights=False)
                times.append(time.perf_counter() - t0)
        times.sort()
        k = len(times)
        med = times[k // 2] if k % 2 else 0.5 * (times[k // 2 - 1] + times[k // 2])
        print(f"{n},{1e3 * med:.6f}", flush=True)


def main():
    a = parse()
    if a.worker:
        worker(a)
        return 0
    try:
        import torch
    except ImportError as exc:
        print(f"torch_bench.py: PyTorch is not available ({exc})", file=sys.stderr)
        return 77
    version = torch.__version__
    rows = []
    print(f"torch_bench.py: torch {version}, nn.MultiheadAttention d={a.d} heads={a.heads} "
          f"batch={a.batch}, median of {a.reps} runs after {a.warmup} warm-up")
    print(f"{'n':>6} {'threads':>7} {'latency_ms':>11}")
    for t in a.threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t),
                   MKL_NUM_THREADS=str(t))
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(t),
               "--n", ",".join(map(str, a.n)), "--d", str(a.d), "--heads", str(a.heads),
               "--batch", str(a.batch), "--reps", str(a.reps), "--warmup", str(max(a.warmup, 1)),
               "--max-seconds", str(a.max_seconds), "--seed", str(a.seed)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        for line in proc.stdout:
            f = line.strip().split(",", 2)
            if len(f) == 3 and f[1] == "skip":
                print(f"{f[0]:>6} {t:>7}   skipped: {f[2]}")
                continue
            n, ms = int(f[0]), float(f[1])
            print(f"{n:>6} {t:>7} {ms:>11.3f}", flush=True)
            rows.append((n, t, ms))
        if proc.wait() != 0:
            print(f"torch_bench.py: the worker for {t} threads failed", file=sys.stderr)
            return 1
    if a.out:
        with open(a.out, "w") as f:
            f.write("n,threads,latency_ms,d,heads,batch,reps,torch\n")
            for n, t, ms in rows:
                f.write(f"{n},{t},{ms:.6f},{a.d},{a.heads},{a.batch},{a.reps},{version}\n")
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
