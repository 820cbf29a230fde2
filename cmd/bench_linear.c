/* bench_linear.c: drrl-bench-linear, a micro-benchmark (not a test) of nn/linear.h's
 * linear_forward (out = inp W^T + b) against a plain cblas_sgemm of the same shape
 * (NoTrans x Trans, beta 0, no bias) in the same run. For each shape it reports the median
 * time over --reps runs (the two kernels alternate within every repetition, so a noisy host
 * slows both alike), GFLOP/s of both counted as 2*M*C*OC (the bias add not counted) and their
 * ratio linear/sgemm, which should be ~1: the layer must add nothing but the bias. The
 * inputs, weights and biases are uniform in [-0.5, 0.5) from --seed. It writes no file. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/rng.h"
#include "core/timer.h"
#include "nn/linear.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define WARMUP 2 /* discarded runs per shape */

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
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static const CliOpt OPTS[] = {
    {"--reps", "N", "timed repetitions per shape, after 2 warm-up runs (default 21)"},
};
static const CliSpec SPEC = {
    .prog = "drrl-bench-linear",
    .synopsis = "drrl-bench-linear [--reps N] [--seed N] [--quiet]",
    .about = "Times nn/linear.h's linear_forward (out = inp W^T + b) against a bare cblas_sgemm\n"
             "of the same shape on four shapes of the models (QKV projection, FFN up and down,\n"
             "a BERT-base projection) and prints, per shape, both median times, both GFLOP/s\n"
             "(2*M*C*OC) and their ratio, which should be ~1. Reads and writes no file.",
    .opts = OPTS,
    .n_opts = 1,
    .common = CLI_SEED,
    .verbose_help = "no extra output (the table is all there is)",
    .seed_help = "seed of the random inputs, weights and biases (default 1)",
};

static int fail(const Err *e, int code) {
    fprintf(stderr, "drrl-bench-linear: error: %s\n", e->msg);
    return code;
}

/* alloc_fill: n floats, 64-byte aligned, uniform in [-0.5, 0.5); NULL when out of memory */
static float *alloc_fill(size_t n, Rng *r) {
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    for (size_t i = 0; p && i < n; i++) p[i] = rng_uniformf(r) - 0.5f;
    return p;
}

/* time_shape: the median seconds of linear_forward (*ml) and cblas_sgemm (*mg) at shape s,
   over reps alternating runs after WARMUP; t_lin, t_gemm: (reps) scratch */
static Status time_shape(const Shape *sh, int reps, Rng *r, double *t_lin, double *t_gemm,
                         double *ml, double *mg, Err *e) {
    const int M = sh->M, C = sh->C, OC = sh->OC;
    float *inp = alloc_fill((size_t)M * C, r);  /* (M, C) */
    float *W = alloc_fill((size_t)OC * C, r);   /* (OC, C) */
    float *b = alloc_fill((size_t)OC, r);       /* (OC) */
    float *out = alloc_fill((size_t)M * OC, r); /* (M, OC) */
    Status s = inp && W && b && out ? ST_OK
                                    : err_set(e, ST_NOMEM, "out of memory at shape %d x %d x %d",
                                              M, C, OC);
    for (int rep = -WARMUP; rep < reps && !s; rep++) {
        double t0 = time_now();
        linear_forward(out, inp, W, b, M, C, OC);
        double t1 = time_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, OC, C, 1.0f, inp, C, W, C, 0.0f,
                    out, OC);
        double t2 = time_now();
        if (rep >= 0) t_lin[rep] = t1 - t0, t_gemm[rep] = t2 - t1;
    }
    if (!s) *ml = time_median(t_lin, reps), *mg = time_median(t_gemm, reps);
    free(inp), free(W), free(b), free(out);
    return s;
}

/* print_header: the title, the BLAS line of --version (core/cli.h cli_blas) with OpenMP's
   thread count, and the column names. */
static void print_header(FILE *f, int reps) {
#ifdef _OPENMP
    int omp_threads = omp_get_max_threads();
#else
    int omp_threads = 0;
#endif
    char blas[512];
    cli_blas(blas, sizeof blas);
    fprintf(f, "drrl-bench-linear: linear_forward vs cblas_sgemm, median of %d runs\n", reps);
    fprintf(f, "BLAS: %s; OpenMP max threads %d\n", blas, omp_threads);
    fprintf(f, "%6s %6s %6s  %10s %10s  %10s %10s  %6s  %s\n", "M", "C", "OC", "linear ms",
            "sgemm ms", "lin GF/s", "sgemm GF/s", "ratio", "shape");
}

int main(int argc, char **argv) {
    CliArgs a;
    Err e;
    err_clear(&e);
    long reps = 21;
    if (cli_parse(&SPEC, argc, argv, stdout, &a, &e)) return fail(&e, 2);
    if (a.done) return 0;
    if (cli_int(&SPEC, &a, "--reps", 1, 1000000, &reps, &e)) return fail(&e, 2);
    double *t_lin = malloc(sizeof(double) * (size_t)reps);  /* (reps) */
    double *t_gemm = malloc(sizeof(double) * (size_t)reps); /* (reps) */
    if (!t_lin || !t_gemm) {
        err_set(&e, ST_NOMEM, "out of memory");
        return fail(&e, 1);
    }
    FILE *info = cli_info(&a);
    print_header(info, (int)reps);
    Rng r;
    rng_init(&r, a.has_seed ? a.seed : 1, 0);
    double lo = 1e300, hi = 0, t0 = time_now();
    for (int i = 0; i < N_SHAPES; i++) {
        const Shape *sh = &shapes[i];
        double ml, mg, flops = 2.0 * sh->M * sh->C * sh->OC;
        if (time_shape(sh, (int)reps, &r, t_lin, t_gemm, &ml, &mg, &e)) return fail(&e, 1);
        fprintf(info, "%6d %6d %6d  %10.3f %10.3f  %10.1f %10.1f  %6.3f  %s\n", sh->M, sh->C,
                sh->OC, 1e3 * ml, 1e3 * mg, flops / ml * 1e-9, flops / mg * 1e-9, mg / ml,
                sh->what);
        fflush(info);
        lo = mg / ml < lo ? mg / ml : lo, hi = mg / ml > hi ? mg / ml : hi;
    }
    fprintf(info, "ratio = linear GFLOP/s / sgemm GFLOP/s (FLOPs 2*M*C*OC for both; the bias add "
            "is extra work for linear)\n");
    printf("drrl-bench-linear: %d shapes in %.1f s, ratio linear/sgemm %.3f to %.3f; no file "
           "written\n", N_SHAPES, time_now() - t0, lo, hi);
    free(t_lin), free(t_gemm);
    return 0;
}
