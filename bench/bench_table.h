/* bench_table.h: drrl-bench's two runs, each printing to the caller's streams.
 *
 * bench_table: the random layer of bench_model.h drawn from a->seed, then for each length of
 * a->n in order bench_run_n (each length's latencies feed the next one's skip prediction);
 * each length's rows are printed to info (bench_report.h's table) as soon as they are
 * measured and appended to csv; progress counts configurations (bench_n_configs per length).
 *
 * bench_calibrate: attention/latency.h's table for a's lengths, ranks and layer (d, heads,
 * batch, warmup, reps, seed), printed to info length by length (latency in ms and the ratio
 * to exact), then saved to a->calibrate (format LATENCY_FORMAT, group LATENCY_GROUP);
 * progress counts lengths. */
#ifndef DRRL_BENCH_TABLE_H
#define DRRL_BENCH_TABLE_H

#include <stdio.h>

#include "attention/latency.h"
#include "bench/bench_args.h"
#include "bench/bench_torch.h"
#include "core/err.h"

/* bench_table: the table (torch NULL: no PyTorch columns; csv NULL: no CSV). progress: the
   stream of the progress lines (NULL: none). *n_rows: the rows measured or skipped. */
Status bench_table(const BenchArgs *a, const TorchTimes *torch, FILE *info, FILE *csv,
                   FILE *progress, int *n_rows, Err *e);

/* bench_calibrate: measure the latency table into t and write it to a->calibrate. */
Status bench_calibrate(const BenchArgs *a, FILE *info, FILE *progress, LatencyTable *t,
                       Err *e);

#endif
