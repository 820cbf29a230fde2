/* bench_run.c: drrl-bench's measurement at one sequence length (bench_run.h): the list of
 * configurations, first runs with FLOPs and fidelity, skip predictions, alternating timed
 * rounds and medians, and the tight bound of the weight-level rows. */
#include "bench/bench_run.h"

#include "attention/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/bound.h"
#include "attention/tune.h"
#include "bench/bench_layers.h"
#include "core/timer.h"

#define STREAM_INPUTS 100 /* + N: the input of length N */

/* configs: exact, then every selected kernel at each of its ranks (rows NULL: count only). */
static int configs(BenchRow *rows, const BenchArgs *a, int N) {
    int n = 0;
    for (int k = 0; k < K_COUNT; k++) {
        if (!a->kernel[k] && k != K_EXACT) continue;
        const int *v = a->ranks, dh = a->d / a->H;
        int nv = a->nr;
        if (k == K_EXACT) v = &dh, nv = 1;
        if (k == K_NYSTROM) v = a->landmarks, nv = a->nl;
        if (k == K_PERFORMER) v = a->features, nv = a->nf;
        for (int i = 0; i < nv; i++) {
            if (!rows) {
                n++;
                continue;
            }
            BenchRow *r = &rows[n++];
            memset(r, 0, sizeof *r);
            r->kernel = (BenchKernel)k, r->rank = v[i], r->n = N;
            r->cosine = r->rel_err = r->bound = NAN;
        }
    }
    return n;
}

int bench_n_configs(const BenchArgs *a) { return configs(NULL, a, 0); }

/* mm_flops: proj + scores + values + out minus the bias adds of each kernel. */
static int64_t mm_flops(const AttnFlops *f, BenchKernel k, int64_t M, int64_t d, int64_t H,
                        int64_t r) {
    int64_t bias = 4 * M * d;
    if (k == K_LOWRANK || k == K_WHITENED) bias = 3 * M * H * r + M * d;
    return f->proj + f->scores + f->values + f->out - bias;
}

/* fidelity: cosine similarity and relative Frobenius error of y against ref (n values). */
static void fidelity(BenchRow *r, const float *y, const float *ref, size_t n) {
    double yr = 0, yy = 0, rr = 0, dd = 0;
    for (size_t i = 0; i < n; i++) {
        const double a = y[i], b = ref[i];
        yr += a * b, yy += a * a, rr += b * b, dd += (a - b) * (a - b);
    }
    r->cosine = yr / sqrt(yy * rr);
    r->rel_err = sqrt(dd / rr);
}

/* predicted: the predicted seconds of one run at N from the same configuration at prev_n. */
static double predicted(const BenchRow *r, const BenchRow *prev, int nprev, int prev_n) {
    for (int i = 0; prev && i < nprev; i++) {
        const BenchRow *p = &prev[i];
        if (p->kernel != r->kernel || p->rank != r->rank || p->skipped) continue;
        const double s = (double)r->n / prev_n;
        const int linear = r->kernel == K_NYSTROM || r->kernel == K_PERFORMER;
        return p->latency * (linear ? s : s * s);
    }
    return 0;
}

/* bounds: the tight bound of every weight-level row (needs exact's output ref). */
static Status bounds(BenchRow *rows, int nrows, const BenchArgs *a, const BenchModel *m,
                     const float *x, const float *ref, int N, Err *e) {
    const int B = a->B, R = a->nr, dh = a->d / a->H;
    MemPlan *plan = malloc(sizeof *plan);
    double *fro = malloc(sizeof(double) * (size_t)B * R), *yn = malloc(sizeof(double) * B);
    Status s = plan && fro && yn ? ST_OK : err_set(e, ST_NOMEM, "bench: out of memory (bound)");
    BoundWork w;
    if (!s) {
        mem_plan_init(plan);
        bound_work_plan(plan, &w, B, N, R, dh);
        s = mem_plan_alloc(plan, e);
    }
    if (!s) bound_ynorm(yn, ref, attn_mask_none(), B, N, a->d);
    for (int k = 0; k < 2 && !s; k++) {
        const BenchKernel kern = k ? K_WHITENED : K_LOWRANK;
        if (!a->kernel[kern]) continue;
        BoundOut out = {NULL, fro, NULL, NULL, NULL};
        s = bound_compute(&out, &w, NULL, x, attn_mask_none(), &m->bound[k], BOUND_TIGHT,
                          a->ranks, R, B, N, e);
        for (int i = 0; i < nrows && !s; i++) {
            if (rows[i].kernel != kern) continue;
            int ri = 0;
            while (a->ranks[ri] != rows[i].rank) ri++;
            double worst = 0;
            for (int b = 0; b < B; b++) {
                const double rel = fro[(size_t)b * R + ri] / yn[b];
                worst = rel > worst ? rel : worst;
            }
            rows[i].bound = worst;
        }
    }
    if (plan) mem_plan_free(plan);
    free(plan), free(fro), free(yn);
    return s;
}

/* first_runs: the discarded runs of every configuration: FLOPs, fidelity, skips. */
static Status first_runs(BenchRow *rows, int nrows, BenchLayers *L, const BenchArgs *a,
                         const float *x, float *y, float *ref, size_t n, const BenchRow *prev,
                         int nprev, int prev_n, Err *e) {
    const int runs = a->warmup + a->reps;
    Status s = ST_OK;
    for (int c = 0; c < nrows && !s; c++) {
        BenchRow *r = &rows[c];
        const double guess = predicted(r, prev, nprev, prev_n);
        if (a->max_seconds > 0 && guess * runs > a->max_seconds) {
            r->skipped = 1;
            snprintf(r->note, sizeof r->note, "predicted %.1f s per run from N = %d, %d runs "
                     "exceed --max-seconds %g", guess, prev_n, runs, a->max_seconds);
            continue;
        }
        AttnFlops fl;
        const double t0 = time_now();
        s = bench_layers_run(L, r->kernel, r->rank, y, x, &fl, e);
        const double t1 = time_now() - t0;
        if (s) break;
        r->flops = attn_flops_total(&fl);
        r->mm_flops = mm_flops(&fl, r->kernel, (int64_t)a->B * r->n, a->d, a->H, r->rank);
        if (r->kernel == K_EXACT) {
            memcpy(ref, y, sizeof(float) * n);
            r->cosine = 1, r->rel_err = 0;
        } else if (!rows[0].skipped) {
            fidelity(r, y, ref, n);
        }
        if (a->max_seconds > 0 && t1 * (runs - 1) > a->max_seconds) {
            r->skipped = 1;
            snprintf(r->note, sizeof r->note, "one run took %.1f s, %d more runs exceed "
                     "--max-seconds %g", t1, runs - 1, a->max_seconds);
            continue;
        }
        for (int w = 1; w < a->warmup && !s; w++)
            s = bench_layers_run(L, r->kernel, r->rank, y, x, &fl, e);
    }
    return s;
}

Status bench_run_n(BenchRow *rows, int *nrows, const BenchArgs *a, BenchModel *m, int N,
                   const BenchRow *prev, int nprev, int prev_n, Err *e) {
    const int nc = configs(rows, a, N), reps = a->reps;
    *nrows = nc;
    for (int c = 0; c < nc; c++) {
        const BenchKernel k = rows[c].kernel;
        if (k == K_NYSTROM || k == K_PERFORMER) snprintf(rows[c].variant, sizeof rows[c].variant, "-");
        else attn_variant_name(attn_tune_pick(N, rows[c].rank), rows[c].variant, sizeof rows[c].variant);
    }
    const size_t n = (size_t)a->B * N * a->d;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    float *ref = malloc(sizeof(float) * n);
    double *times = malloc(sizeof(double) * (size_t)nc * reps);
    BenchLayers *L = calloc(1, sizeof *L);
    Status s = x && y && ref && times && L ? ST_OK
                                           : err_set(e, ST_NOMEM, "bench: out of memory at N = %d", N);
    if (!s) {
        bench_model_inputs(m, x, (size_t)a->B * N, STREAM_INPUTS + (uint64_t)N);
        s = bench_layers_init(L, a, m, N, e);
    }
    if (!s) s = first_runs(rows, nc, L, a, x, y, ref, n, prev, nprev, prev_n, e);
    for (int rep = 0; rep < reps && !s; rep++)
        for (int c = 0; c < nc && !s; c++) {
            if (rows[c].skipped) continue;
            AttnFlops fl;
            const double t0 = time_now();
            s = bench_layers_run(L, rows[c].kernel, rows[c].rank, y, x, &fl, e);
            times[(size_t)c * reps + rep] = time_now() - t0;
        }
    for (int c = 0; c < nc && !s; c++)
        if (!rows[c].skipped) rows[c].latency = time_median(times + (size_t)c * reps, reps);
    if (L) bench_layers_free(L);
    if (!s && !rows[0].skipped) s = bounds(rows, nc, a, m, x, ref, N, e);
    free(x), free(y), free(ref), free(times), free(L);
    return s;
}
