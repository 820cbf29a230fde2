/* latency.c: measuring the latency calibration table (latency.h): per bucket, an exact and a
 * weight-level low-rank layer, warm-up runs, alternating timed rounds, medians; and the
 * description of the hardware the table was measured on. */
#include "attention/latency.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/exact.h"
#include "attention/factors.h"
#include "attention/kernel.h"
#include "attention/tune.h"
#include "core/rng.h"
#include "core/timer.h"

#define LATENCY_RNG_STREAM 0x4c4154454e4359ull /* "LATENCY" */

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* sorted_grid: dst (n) = src sorted increasing; ST_INVALID unless 1 <= n <= max_n and the
   values are distinct and in [lo, hi]. */
static Status sorted_grid(int *dst, const int *src, int n, int max_n, int lo, int hi,
                          const char *what, Err *e) {
    if (!src || n < 1 || n > max_n)
        return err_set(e, ST_INVALID, "latency_table_measure: %s: expected 1 to %d values, found %d",
                       what, max_n, n);
    memcpy(dst, src, sizeof(int) * (size_t)n);
    qsort(dst, (size_t)n, sizeof(int), cmp_int);
    for (int i = 0; i < n; i++) {
        if (dst[i] < lo || dst[i] > hi)
            return err_set(e, ST_INVALID,
                           "latency_table_measure: %s: expected values in [%d, %d], found %d",
                           what, lo, hi, dst[i]);
        if (i > 0 && dst[i] == dst[i - 1])
            return err_set(e, ST_INVALID,
                           "latency_table_measure: %s: expected distinct values, found %d twice",
                           what, dst[i]);
    }
    return ST_OK;
}

void latency_table_hardware(LatencyTable *t) {
    attn_tune_cpu(t->cpu, sizeof t->cpu);
    t->threads = attn_kernel_threads();
    snprintf(t->blas, sizeof t->blas, "%s", openblas_get_config());
    time_utc_iso(t->date, sizeof t->date);
}

/* random_layer: weights and biases N(0, 0.02^2) into buf (mhsa_param_sizes floats). */
static void random_layer(MhsaParams *p, float *buf, int d, uint64_t seed) {
    size_t sizes[MHSA_NPARAMS];
    size_t n = mhsa_param_sizes(sizes, d);
    Rng r;
    rng_init(&r, seed, LATENCY_RNG_STREAM);
    for (size_t i = 0; i < n; i++) buf[i] = (float)(0.02 * rng_normal(&r));
    mhsa_params_point(p, buf, d);
}

/* Bucket: the layers and tensors of one bucket. */
typedef struct {
    AttnExact ex;
    AttnLowrank lr;
    float *x, *y; /* (B, N, d) */
} Bucket;

static void bucket_free(Bucket *b) {
    attn_exact_free(&b->ex);
    attn_lowrank_free(&b->lr);
    free(b->x);
    free(b->y);
    memset(b, 0, sizeof *b);
}

/* run: configuration c of bucket b: 0 exact, c >= 1 low-rank at t->ranks[c - 1]; under a
   causal mask when t->causal. */
static Status run(Bucket *b, const LatencyTable *t, const MhsaParams *p, int N, int c, Err *e) {
    const AttnMask m = t->causal ? attn_mask_causal(attn_mask_none()) : attn_mask_none();
    if (c == 0) return attn_exact_forward(b->y, &b->ex, b->x, m, p, t->B, N, NULL, e);
    return attn_lowrank_forward_rank(b->y, &b->lr, b->x, m, t->B, N, t->ranks[c - 1], NULL, e);
}

/* measure_bucket: fill t->full[i] and t->lat[i][*]; times has (n_ranks + 1) * reps slots. */
static Status measure_bucket(LatencyTable *t, int i, const MhsaParams *p, const AttnFactors *f,
                             Rng *r, double *times, Err *e) {
    const int N = t->buckets[i], nc = t->n_ranks + 1, reps = t->reps;
    Bucket b;
    memset(&b, 0, sizeof b);
    const size_t n = (size_t)t->B * N * t->d;
    Status s = attn_exact_init(&b.ex, t->B, N, t->d, t->H, e);
    if (!s) s = attn_lowrank_init(&b.lr, f, t->ranks, t->n_ranks, t->B, N, e);
    if (!s) {
        b.x = malloc(sizeof(float) * n);
        b.y = malloc(sizeof(float) * n);
        if (!b.x || !b.y)
            s = err_set(e, ST_NOMEM, "latency_table_measure: out of memory for N = %d", N);
    }
    if (!s)
        for (size_t k = 0; k < n; k++) b.x[k] = (float)rng_normal(r);
    for (int c = 0; c < nc && !s; c++)
        for (int w = 0; w < t->warmup && !s; w++) s = run(&b, t, p, N, c, e);
    for (int rep = 0; rep < reps && !s; rep++)
        for (int c = 0; c < nc && !s; c++) {
            double t0 = time_now();
            s = run(&b, t, p, N, c, e);
            times[(size_t)c * reps + rep] = time_now() - t0;
        }
    if (!s) {
        t->full[i] = time_median(times, reps);
        for (int j = 0; j < t->n_ranks; j++)
            t->lat[i][j] = time_median(times + (size_t)(j + 1) * reps, reps);
    }
    bucket_free(&b);
    return s;
}

/* measure: latency_table_measure(_causal) */
static Status measure(LatencyTable *t, const MhsaParams *p, int d, int H, int B,
                      const int *buckets, int nb, const int *ranks, int nr, int warmup, int reps,
                      int causal, uint64_t seed, LatencyProgress progress, void *ctx, Err *e) {
    memset(t, 0, sizeof *t);
    t->causal = causal;
    Status s = mhsa_check(B, 1, d, H, e);
    if (s) return err_prefix(e, "latency_table_measure");
    if (warmup < 0 || reps < 1)
        return err_set(e, ST_INVALID,
                       "latency_table_measure: expected warmup >= 0 and reps >= 1, found %d, %d",
                       warmup, reps);
    s = sorted_grid(t->buckets, buckets, nb, LATENCY_MAX_BUCKETS, 1, 1 << 30, "buckets", e);
    if (!s) s = sorted_grid(t->ranks, ranks, nr, LATENCY_MAX_RANKS, 1, d / H, "ranks", e);
    if (s) return s;
    t->d = d, t->H = H, t->B = B, t->warmup = warmup, t->reps = reps;
    t->n_buckets = nb, t->n_ranks = nr;
    latency_table_hardware(t);
    /* the kernel variants first (tune.h): at every bucket, for the head size and every rank
       (the kernel's width), installed and kept with the table, so that the latencies are
       those of the kernels that will run */
    int ks[LATENCY_MAX_RANKS + 1];
    for (int j = 0; j < nr; j++) ks[j] = t->ranks[j];
    int nk = nr;
    if (t->ranks[nr - 1] != d / H) ks[nk++] = d / H;
    s = attn_tune_measure(&t->tune, t->buckets, nb, ks, nk, H, B, warmup > 0 ? warmup : 1, reps,
                          seed, NULL, NULL, e);
    if (s) return err_prefix(e, "latency_table_measure");
    attn_tune_use(&t->tune);

    size_t sizes[MHSA_NPARAMS];
    float *pbuf = NULL;
    MhsaParams rp;
    if (!p) {
        pbuf = malloc(sizeof(float) * mhsa_param_sizes(sizes, d));
        if (!pbuf) return err_set(e, ST_NOMEM, "latency_table_measure: out of memory");
        random_layer(&rp, pbuf, d, seed);
        p = &rp;
    }
    double *times = malloc(sizeof(double) * (size_t)(nr + 1) * reps);
    AttnFactors f;
    memset(&f, 0, sizeof f);
    s = times ? ST_OK : err_set(e, ST_NOMEM, "latency_table_measure: out of memory");
    if (!s) s = attn_factors_init(&f, d, H, e);
    if (!s) s = attn_factors_compute(&f, p, NULL, 0.0, NULL, e);
    Rng r;
    rng_init(&r, seed, LATENCY_RNG_STREAM + 1);
    for (int i = 0; i < nb && !s; i++) {
        s = measure_bucket(t, i, p, &f, &r, times, e);
        if (!s && progress) progress(ctx, t, i);
    }
    attn_factors_free(&f);
    free(times);
    free(pbuf);
    return s;
}

Status latency_table_measure(LatencyTable *t, const MhsaParams *p, int d, int H, int B,
                             const int *buckets, int nb, const int *ranks, int nr, int warmup,
                             int reps, uint64_t seed, LatencyProgress progress, void *ctx,
                             Err *e) {
    return measure(t, p, d, H, B, buckets, nb, ranks, nr, warmup, reps, 0, seed, progress, ctx, e);
}

Status latency_table_measure_causal(LatencyTable *t, const MhsaParams *p, int d, int H, int B,
                                    const int *buckets, int nb, const int *ranks, int nr,
                                    int warmup, int reps, uint64_t seed,
                                    LatencyProgress progress, void *ctx, Err *e) {
    return measure(t, p, d, H, B, buckets, nb, ranks, nr, warmup, reps, 1, seed, progress, ctx, e);
}

void latency_table_apply(const LatencyTable *t, FILE *info) {
    char cpu[128];
    attn_tune_cpu(cpu, sizeof cpu);
    if (strcmp(cpu, t->cpu) != 0) {
        if (info)
            fprintf(info, "note: the latency table was measured on %s; this is %s: its "
                    "latencies are that machine's, the kernels this machine's\n", t->cpu, cpu);
        return;
    }
    if (t->tune.n > 0) attn_tune_use(&t->tune);
}
