/* bench_linear.c: drrl-bench-linear, a micro-benchmark (not a test) of nn/linear.h's
 * linear_forward (out = inp W^T + b) against a plain cblas_sgemm of the same shape
 * (NoTrans x Trans, beta 0, no bias) in the same run. For each shape it reports the median
 * time over --reps runs (the two kernels alternate within every repetition, so a noisy host
 * slows both alike), GFLOP/s of both counted as 2*M*C*OC (the bias add not counted) and their
 * ratio linear/sgemm, which should be ~1: the layer must add nothing but the bias.
 *
 * Usage: drrl-bench-linear [--reps N]   (default 21 repetitions after 2 warm-up runs) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/timer.h"
#include "nn/linear.h"

#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    int M, C, OC;
    const char *what;
} Shape;

static const Shape shapes[] = {
    {4096, 256, 768, "QKV projection, d=256, 64 x 64 tokens"},
    {2048, 1024, 256, "FFN down, d=256, 2048 tokens"},
    {64 * 64, 256, 1024, "FFN up, d=256, 64 x 64 tokens"},
    {512, 768, 768, "BERT-base projection, 512 tokens"},
};

static float *alloc_fill(size_t n, Rng *r) {
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p) {
        fprintf(stderr, "drrl-bench-linear: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = rng_uniformf(r) - 0.5f;
    return p;
}

static void usage(void) {
    fprintf(stderr, "usage: drrl-bench-linear [--reps N]   (N >= 1, default 21)\n");
}

int main(int argc, char **argv) {
    int reps = 21;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1000000) {
                usage();
                return 2;
            }
            reps = (int)v;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    double *t_lin = malloc(sizeof(double) * (size_t)reps);
    double *t_gemm = malloc(sizeof(double) * (size_t)reps);
    if (!t_lin || !t_gemm) {
        fprintf(stderr, "drrl-bench-linear: out of memory\n");
        return 1;
    }
#ifdef _OPENMP
    int omp_threads = omp_get_max_threads();
#else
    int omp_threads = 0;
#endif
    printf("drrl-bench-linear: linear_forward vs cblas_sgemm, median of %d runs\n", reps);
    printf("%s, %d threads (%s); OpenMP max threads %d\n", openblas_get_config(),
           openblas_get_num_threads(),
           openblas_get_parallel() == 2 ? "OpenMP" : openblas_get_parallel() == 1 ? "pthreads"
                                                                                 : "serial",
           omp_threads);
    printf("%6s %6s %6s  %10s %10s  %10s %10s  %6s  %s\n", "M", "C", "OC", "linear ms",
           "sgemm ms", "lin GF/s", "sgemm GF/s", "ratio", "shape");

    Rng r;
    rng_init(&r, 1, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s].M, C = shapes[s].C, OC = shapes[s].OC;
        float *inp = alloc_fill((size_t)M * C, &r);  /* (M, C) */
        float *W = alloc_fill((size_t)OC * C, &r);   /* (OC, C) */
        float *b = alloc_fill((size_t)OC, &r);       /* (OC) */
        float *out = alloc_fill((size_t)M * OC, &r); /* (M, OC) */
        for (int rep = -2; rep < reps; rep++) { /* two warm-up runs */
            double t0 = time_now();
            linear_forward(out, inp, W, b, M, C, OC);
            double t1 = time_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, OC, C, 1.0f, inp, C, W, C,
                        0.0f, out, OC);
            double t2 = time_now();
            if (rep >= 0) {
                t_lin[rep] = t1 - t0;
                t_gemm[rep] = t2 - t1;
            }
        }
        double ml = time_median(t_lin, reps), mg = time_median(t_gemm, reps);
        double flops = 2.0 * M * C * OC;
        printf("%6d %6d %6d  %10.3f %10.3f  %10.1f %10.1f  %6.3f  %s\n", M, C, OC, 1e3 * ml,
               1e3 * mg, flops / ml * 1e-9, flops / mg * 1e-9, mg / ml, shapes[s].what);
        free(inp);
        free(W);
        free(b);
        free(out);
    }
    printf("ratio = linear GFLOP/s / sgemm GFLOP/s (FLOPs 2*M*C*OC for both; the bias add is "
           "extra work for linear)\n");
    free(t_lin);
    free(t_gemm);
    return 0;
}
