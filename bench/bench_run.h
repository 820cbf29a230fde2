/* bench_run.h: drrl-bench's measurement at one sequence length N: every selected kernel
 * configuration on the same LayerNorm-shaped input (B sequences of N tokens, no padding),
 * exact attention first as the reference.
 *
 * Per configuration: a first run (discarded) gives the counted FLOPs (AttnFlops), the output
 * for the fidelity against exact attention's (cosine similarity and relative Frobenius error
 * over all tokens, in double) and a first time; W - 1 more discarded runs follow; then R timed
 * rounds in which the configurations alternate (a noisy host slows all of them alike), and
 * the latency is the median of its R times on the monotonic clock. A configuration is
 * skipped (with a note) when --max-seconds > 0 and its W + R runs are predicted to take
 * longer: from its latency at the previous N (scaled by N^2, or by N for Nystrom and
 * Performer) before running it, and from its first run after it.
 *
 * The bound (weight-level kernels only) is attention/bound.h's tight bound at the row's rank,
 * as the guardrail uses it: max over sequences of fro_b / ||Y_b||_F, the relative Frobenius
 * error bound of a sequence's layer output (>= rel_err). It is computed outside the timing.
 *
 * Matmul FLOPs (mm_flops): the 2 m n k of the GEMMs of the projection, score, value and
 * output stages of the counter (proj + scores + values + out), with their bias adds removed;
 * softmax, normalisation and factorisations (activation-level QR/SVD, Nystrom pseudo-inverse)
 * are not matmul FLOPs here. */
#ifndef DRRL_BENCH_RUN_H
#define DRRL_BENCH_RUN_H

#include <stdint.h>

#include "bench/bench_args.h"
#include "bench/bench_model.h"
#include "core/err.h"

#define BENCH_MAX_CONFIGS (1 + 5 * BENCH_MAX_LIST)

typedef struct {
    BenchKernel kernel;
    int rank;         /* per-head rank; exact: the head size; Nystrom landmarks; Performer features */
    int n;
    int skipped;      /* 1: not measured, see note */
    char note[160];
    double latency;   /* seconds, median of the timed runs */
    int64_t flops;    /* counted FLOPs of one forward */
    int64_t mm_flops; /* matmul FLOPs (above) */
    double cosine, rel_err; /* vs exact attention (NAN if exact was skipped) */
    double bound;     /* NAN for kernels without a bound */
    char variant[32]; /* the attention kernel variant that ran (kernel.h), "-" for Nystrom and
                         Performer (their own kernels) */
} BenchRow;

/* bench_n_configs: the configurations measured at each length (exact included). */
int bench_n_configs(const BenchArgs *a);

/* bench_run_n: measure every configuration of a at length N into rows (*nrows of them;
   rows[0] is exact). prev (nprev rows measured at length prev_n, or NULL) feeds the skip
   prediction. */
Status bench_run_n(BenchRow *rows, int *nrows, const BenchArgs *a, BenchModel *m, int N,
                   const BenchRow *prev, int nprev, int prev_n, Err *e);

#endif
