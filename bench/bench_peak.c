/* bench_peak.c: the FMA peak and the sgemm rate of this machine (bench_peak.h). */
#include "attention/kernel_tiles.h" /* first: the vector type and its code-generation pragmas */
#include "bench/bench_peak.h"

#include <cblas.h>
#include <stdlib.h>

#include "core/timer.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define FMA_ITERS 2000000L
#define PEAK_RUNS 5
#define SGEMM_N 2048

/* one thread's chains: acc_c <- acc_c * m + a, FMA_ITERS times; returns a sum so that the work
   is not optimised away. The asm barrier keeps each accumulator in a register. */
static float fma_chains(float seed) {
#if ATTN_TILED
    /* 16 named accumulators (an array would live in memory: store-forwarding, not FMA, bound) */
    const v16 m = (v16){0} + 0.999999f, a = (v16){0} + 1e-7f * seed;
#define CH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define DECL(i) v16 c##i = (v16){0} + seed + (float)(i);
#define STEP(i) c##i = c##i * m + a;
#define KEEP(i) ATTN_IN_REG(c##i);
#define SUM(i) acc = acc + c##i;
    CH(DECL)
    for (long it = 0; it < FMA_ITERS; it++) {
        CH(STEP)
        CH(KEEP)
    }
    v16 acc = (v16){0};
    CH(SUM)
    float s = 0;
    for (int l = 0; l < 16; l++) s += acc[l];
    return s;
#undef CH
#undef DECL
#undef STEP
#undef KEEP
#undef SUM
#else
    float acc[BENCH_FMA_CHAINS * 16];
    for (int c = 0; c < BENCH_FMA_CHAINS * 16; c++) acc[c] = seed + (float)c;
    for (long it = 0; it < FMA_ITERS; it++)
        for (int c = 0; c < BENCH_FMA_CHAINS * 16; c++) acc[c] = acc[c] * 0.999999f + 1e-7f * seed;
    float s = 0;
    for (int c = 0; c < BENCH_FMA_CHAINS * 16; c++) s += acc[c];
    return s;
#endif
}

static double fma_peak(int threads) {
    const double flops = 2.0 * 16 * BENCH_FMA_CHAINS * (double)FMA_ITERS * threads;
    double best = 0;
    volatile float sink = 0;
    for (int r = 0; r < PEAK_RUNS; r++) {
        const double t0 = time_now();
        float s = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : s)
        s += fma_chains(1.0f + (float)omp_get_thread_num());
#else
        s = fma_chains(1.0f);
#endif
        const double dt = time_now() - t0;
        sink = sink + s;
        if (flops / dt > best) best = flops / dt;
    }
    (void)sink;
    return 1e-9 * best;
}

static double sgemm_rate(int n) {
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return -1;
    }
    for (long i = 0; i < (long)n * n; i++) a[i] = b[i] = (float)((i % 7) - 3) * 0.1f;
    double best = 0;
    for (int r = 0; r <= PEAK_RUNS; r++) {
        const double t0 = time_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n);
        const double g = 2.0 * n * n * (double)n / (time_now() - t0);
        if (r > 0 && g > best) best = g; /* run 0: warm-up */
    }
    free(a), free(b), free(c);
    return 1e-9 * best;
}

int bench_peak_measure(BenchPeak *p, int threads) {
    if (threads < 1) threads = 1;
    p->threads = threads;
    p->sgemm_n = SGEMM_N;
    p->fma_gflops = fma_peak(threads);
    p->sgemm_gflops = sgemm_rate(SGEMM_N);
    return p->sgemm_gflops > 0 ? 0 : -1;
}
