/* bench_torch.h: PyTorch's latency for drrl-bench's torch columns: reading the CSV that
 * scripts/torch_bench.py writes (header with at least n, threads, latency_ms; optional
 * d, heads, batch columns must match the bench's layer), keeping per N the best (smallest)
 * latency over the thread settings, and running that script for --torch auto. */
#ifndef DRRL_BENCH_TORCH_H
#define DRRL_BENCH_TORCH_H

#include "bench/bench_args.h"
#include "core/err.h"

#define TORCH_MAX_ROWS 256

typedef struct {
    int count;
    int n[TORCH_MAX_ROWS];
    int threads[TORCH_MAX_ROWS]; /* the thread setting of the best latency */
    double ms[TORCH_MAX_ROWS];   /* best latency at n[i], milliseconds */
} TorchTimes;

/* torch_read: fill t from path (checked against d, H, B when those columns exist). */
Status torch_read(TorchTimes *t, const char *path, int d, int H, int B, Err *e);
/* torch_best_ms: the best PyTorch latency at N, or a negative value if none. */
double torch_best_ms(const TorchTimes *t, int N, int *threads);

/* torch_run_script: run /usr/bin/python3 scripts/torch_bench.py for a's lengths and layer,
   writing out_csv (quiet: its table on stdout is discarded). Returns ST_OK, ST_MISSING if PyTorch (or python) is not available (the
   message says why), or ST_IO if the script failed. The script is found under
   $DRRL_SOURCE_ROOT, else the source root the binary was built from. */
Status torch_run_script(const BenchArgs *a, const char *out_csv, int quiet, Err *e);

#endif
