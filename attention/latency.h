/* latency.h: the latency calibration table, the "hardware constraint" of docs/design.md
 * section 2:
 * the median wall-clock latency of one attention layer (width d, H heads, batch B) on this
 * machine, for every (N bucket, rank) of a grid, next to exact attention at each bucket.
 *
 * Measurement (latency_table_measure): first the kernel variants (attention/tune.h) at every
 * bucket for the head size and every rank, installed and stored with the table; then per
 * bucket N, one exact layer (attention/exact.h) and
 * one weight-level low-rank layer (attention/lowrank.h, one rank for all queries) planned for
 * B x N tokens, on a seeded random layer (weights N(0, 0.02^2)) or the caller's, and random
 * N(0, 1) inputs without padding. Values do not change the work done, and whitened and plain
 * factors have the same shapes, so one table serves both kinds. Each configuration (exact,
 * then every rank) runs `warmup` discarded times, then `reps` timed rounds in which the
 * configurations alternate (a noisy host slows all of them alike); the entry is the median of
 * its `reps` times on the monotonic clock (core/timer.h), in seconds.
 *
 * Causal masks: a causal layer does about half of the N^2 work (kernel.h), so its latencies
 * are lower at every rank and its ratios to exact attention differ: a causal decoder's table
 * is measured with the causal mask (latency_table_measure_causal: both layers run with
 * attn_mask_causal, t->causal = 1, stored as the attribute causal = 1; absent: 0). The
 * kernel variants are still chosen by non-causal timings (tune.h). Whoever pairs a table with
 * a model checks that t->causal matches the model's attention.
 *
 * Lookup (latency_table_lookup): the bucket of N is the smallest bucket >= N, or the largest
 * bucket when N exceeds them all (no interpolation: a layer of N tokens is charged what the
 * bucket's length costs). The rank is LATENCY_FULL (exact attention), a rank of the grid, or
 * any other rank >= 1, which is charged the smallest grid rank >= it, or exact attention when
 * it exceeds every grid rank (an upper estimate, never an interpolation).
 *
 * Storage (latency_table_save / _load, in a group of an HDF5 file through core/store.h):
 *     buckets (nb) int32,  ranks (nr) int32,  latency (nb, nr) float64 seconds,
 *     full (nb) float64 seconds;
 *     attributes d_model, n_heads, batch, warmup, reps, threads (int), cpu, blas_config,
 *     date (strings), causal (int, 1; only on a causal table); the kernel tuning in the subgroup "kernels" (tune.h; absent in tables
 *     written before it: the default variant).
 * Loading checks every dataset's rank, shape and type and the table's invariants (sizes
 * within the limits below, increasing buckets and ranks, finite positive latencies). A file
 * of its own (drrl-bench --calibrate) has format LATENCY_FORMAT, version LATENCY_VERSION,
 * and the table in group LATENCY_GROUP. */
#ifndef DRRL_ATTENTION_LATENCY_H
#define DRRL_ATTENTION_LATENCY_H

#include <stdint.h>

#include <stdio.h>

#include "attention/lowrank.h"
#include "attention/tune.h"
#include "core/err.h"
#include "core/store.h"
#include "nn/mhsa.h"

#define LATENCY_MAX_BUCKETS 32
#define LATENCY_MAX_RANKS ATTN_MAX_RANKS
#define LATENCY_FULL 0 /* the rank argument of latency_table_lookup meaning exact attention */
#define LATENCY_FORMAT "drrl-latency"
#define LATENCY_VERSION 1
#define LATENCY_GROUP "/latency"

typedef struct {
    int d, H, B;                          /* the layer measured: width, heads, batch */
    int warmup, reps;                     /* discarded runs, timed runs per entry */
    int n_buckets, n_ranks;
    int buckets[LATENCY_MAX_BUCKETS];     /* sequence lengths N, increasing */
    int ranks[LATENCY_MAX_RANKS];         /* ranks per head, increasing, 1..d/H */
    double lat[LATENCY_MAX_BUCKETS][LATENCY_MAX_RANKS]; /* [bucket][rank] seconds, low-rank */
    double full[LATENCY_MAX_BUCKETS];     /* [bucket] seconds, exact attention */
    /* the hardware it was measured on */
    char cpu[128];                        /* "model name" of /proc/cpuinfo ("unknown" if none) */
    int threads;                          /* OpenMP threads of the kernels */
    char blas[256];                       /* openblas_get_config() */
    char date[32];                        /* UTC, ISO 8601, e.g. 2026-03-01T12:00:00Z */
    AttnTune tune;                        /* the kernel variants measured with (n = 0: the
                                             default variant; tables from before issue 15) */
    int causal;                           /* 1: the layers were timed under a causal mask */
} LatencyTable;

/* LatencyProgress: called after each bucket is measured (bucket index i, of t->n_buckets);
   may be NULL. */
typedef void (*LatencyProgress)(void *ctx, const LatencyTable *t, int i);

/* latency_table_measure: fill t (see above) for the buckets (1 <= nb <= LATENCY_MAX_BUCKETS
   distinct N >= 1, any order) and ranks (1 <= nr <= LATENCY_MAX_RANKS distinct ranks in
   1..d/H, any order); both are stored sorted. p: the layer to time (width d, H heads), or
   NULL for a random one drawn from seed. B >= 1, warmup >= 0, reps >= 1. Layers are planned
   per bucket (memory for B x N tokens), then freed. ST_INVALID on bad arguments, ST_NOMEM. */
Status latency_table_measure(LatencyTable *t, const MhsaParams *p, int d, int H, int B,
                             const int *buckets, int nb, const int *ranks, int nr, int warmup,
                             int reps, uint64_t seed, LatencyProgress progress, void *ctx,
                             Err *e);

/* latency_table_measure_causal: the same with both layers under a causal mask (t->causal = 1):
   the table of a causal decoder. */
Status latency_table_measure_causal(LatencyTable *t, const MhsaParams *p, int d, int H, int B,
                                    const int *buckets, int nb, const int *ranks, int nr,
                                    int warmup, int reps, uint64_t seed,
                                    LatencyProgress progress, void *ctx, Err *e);

/* latency_table_apply: install t's kernel variants when t was measured on this CPU model (so
   that a resumed run computes with the kernels it was measured with; the thread count is the
   run's config's, set later by the caller); otherwise a note on info (may be NULL) that its
   latencies are another machine's. */
void latency_table_apply(const LatencyTable *t, FILE *info);

/* latency_table_hardware: fill t's cpu, threads, blas and date from this machine and now. */
void latency_table_hardware(LatencyTable *t);

/* latency_table_bucket: index of N's bucket (the smallest bucket >= N, else the largest). */
int latency_table_bucket(const LatencyTable *t, int N);
/* latency_table_lookup: seconds for a layer of N tokens at rank (LATENCY_FULL: exact);
   semantics above. N >= 1; rank >= 0. */
double latency_table_lookup(const LatencyTable *t, int N, int rank);
/* latency_table_ratio: latency_table_lookup(t, N, rank) / latency_table_lookup(t, N, full). */
double latency_table_ratio(const LatencyTable *t, int N, int rank);

/* latency_table_check: ST_SHAPE unless t was measured for width d and H heads. */
Status latency_table_check(const LatencyTable *t, int d, int H, Err *e);

/* latency_table_save: write t under group (absolute path, created as needed). */
Status latency_table_save(Store *st, const char *group, const LatencyTable *t, Err *e);
/* latency_table_load: read t from group. ST_MISSING if absent, ST_SHAPE on a wrong rank,
   shape or type, ST_FORMAT on a broken invariant. t is unspecified on failure. */
Status latency_table_load(Store *st, const char *group, LatencyTable *t, Err *e);

#endif
