/* bench_report.h: drrl-bench's output: the table printed to stdout (one row per
 * configuration, ratios against the exact row of the same N) and the same rows as CSV.
 *
 * Columns (CSV names; the printed table shows the same values, FLOPs in GFLOP):
 *   kernel, n, rank       configuration (rank: per-head rank; exact: the head size; nystrom:
 *                         landmarks; performer: features)
 *   latency_ms            median latency of one forward (B sequences of n tokens)
 *   flops                 FLOPs the kernel counted for that forward (attention/flops.h)
 *   flops_ratio           flops / exact's flops at the same n
 *   latency_ratio         latency / exact's latency at the same n, measured in the same run
 *   cosine, rel_err       fidelity of the output vs exact's (all tokens)
 *   bound                 tight perturbation bound on rel_err (weight-level kernels only)
 *   mm_flops              matmul FLOPs (bench_run.h: GEMMs of projections, scores, values,
 *                         output; no bias adds, softmax or factorisations)
 *   gflops                flops / latency
 *   mm_gflops, mm_eff     mm_flops / latency, and that over the fp32 peak (--peak)
 *   torch_ms, torch_threads, torch_speedup
 *                         PyTorch nn.MultiheadAttention at its best thread setting at n, and
 *                         torch_ms / latency_ms (blank without --torch)
 *   d, heads, batch, threads, reps   the setting
 * Blank fields: not applicable or not available (skipped exact, no PyTorch time). */
#ifndef DRRL_BENCH_REPORT_H
#define DRRL_BENCH_REPORT_H

#include <stdio.h>

#include "bench/bench_args.h"
#include "bench/bench_run.h"
#include "bench/bench_torch.h"

/* bench_print_header: the hardware/setting lines and the column header. */
void bench_print_header(FILE *f, const BenchArgs *a, const char *hardware);
/* bench_print_rows: rows of one n (rows[0] exact); skipped rows as notes. */
void bench_print_rows(FILE *f, const BenchRow *rows, int nrows, const BenchArgs *a,
                      const TorchTimes *torch);
/* bench_csv_header / bench_csv_rows: the CSV; returns 0, or -1 on a write error. */
int bench_csv_header(FILE *f);
int bench_csv_rows(FILE *f, const BenchRow *rows, int nrows, const BenchArgs *a,
                   const TorchTimes *torch);

#endif
