/* bench.c: drrl-bench, the attention benchmark (a command, not a test; issue 4 item 8):
 * for each sequence length N, times exact attention and the selected kernels (weight-level
 * low-rank with plain or whitened factors, activation-level, Nystrom, Performer) at their
 * ranks on a seeded random layer, and prints one row per configuration: median latency,
 * counted FLOPs, FLOPs and latency ratios vs exact in the same run, fidelity, the bound,
 * GFLOP/s and matmul efficiency, and PyTorch's latency with our speed-up when given
 * (bench_report.h lists the columns). `--calibrate FILE` instead measures the latency table
 * of attention/latency.h and writes it to FILE. The flags are in bench_args.c (--help). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attention/kernel.h"
#include "attention/latency.h"
#include "bench/bench_args.h"
#include "bench/bench_model.h"
#include "bench/bench_report.h"
#include "bench/bench_run.h"
#include "bench/bench_torch.h"
#include "core/store.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static int fail(const Err *e) {
    fprintf(stderr, "drrl-bench: error: %s\n", e->msg);
    return 1;
}

static void print_bucket(void *ctx, const LatencyTable *t, int i) {
    (void)ctx;
    if (i == 0) {
        printf("latency in ms (ratio to exact)\n%6s %11s", "N", "exact");
        for (int j = 0; j < t->n_ranks; j++) printf("  %12s r=%-3d", "", t->ranks[j]);
        printf("\n");
    }
    printf("%6d %11.3f", t->buckets[i], 1e3 * t->full[i]);
    for (int j = 0; j < t->n_ranks; j++)
        printf("  %9.3f (%5.3f)", 1e3 * t->lat[i][j], t->lat[i][j] / t->full[i]);
    printf("\n");
    fflush(stdout);
}

/* calibrate: measure the latency table for a's lengths, ranks and layer; write it. */
static int calibrate(const BenchArgs *a) {
    LatencyTable t;
    latency_table_hardware(&t);
    printf("drrl-bench --calibrate %s: d=%d heads=%d batch=%d, median of %d runs after %d "
           "warm-up; %s, %d threads, %s\n",
           a->calibrate, a->d, a->H, a->B, a->reps, a->warmup, t.cpu, t.threads, t.blas);
    Err e;
    Status s = latency_table_measure(&t, NULL, a->d, a->H, a->B, a->n, a->nn, a->ranks, a->nr,
                                     a->warmup, a->reps, a->seed, print_bucket, NULL, &e);
    if (s) return fail(&e);
    Store *st = NULL;
    s = store_create(&st, a->calibrate, LATENCY_FORMAT, LATENCY_VERSION, &e);
    if (!s) s = latency_table_save(st, LATENCY_GROUP, &t, &e);
    if (!s) s = store_commit(st, &e);
    else store_abort(st);
    if (s) return fail(&e);
    printf("wrote %s (format %s, version %d, group %s), measured %s\n", a->calibrate,
           LATENCY_FORMAT, LATENCY_VERSION, LATENCY_GROUP, t.date);
    return 0;
}

/* load_torch: the PyTorch latencies of --torch (a file, or "auto": run the script). Returns
   0 with *have set, or 1 after printing an error. */
static int load_torch(const BenchArgs *a, TorchTimes *torch, int *have) {
    Err e;
    *have = 0;
    if (!a->torch) return 0;
    if (strcmp(a->torch, "auto") != 0) {
        if (torch_read(torch, a->torch, a->d, a->H, a->B, &e)) return fail(&e);
        *have = 1;
        return 0;
    }
    /* with --csv the PyTorch times are kept next to it (CSV.torch.csv), else a temp file */
    char path[1024] = "/tmp/drrl-bench-torch-XXXXXX";
    const int keep = a->csv != NULL;
    if (keep) {
        snprintf(path, sizeof path, "%s.torch.csv", a->csv);
    } else {
        int fd = mkstemp(path);
        if (fd < 0) {
            fprintf(stderr, "drrl-bench: error: cannot create a temporary file for --torch auto\n");
            return 1;
        }
        close(fd);
    }
    printf("--torch auto: timing torch.nn.MultiheadAttention with scripts/torch_bench.py\n");
    Status s = torch_run_script(a, path, &e);
    if (s == ST_MISSING) {
        printf("note: --torch auto skipped: %s\n", e.msg);
    } else if (!s) {
        s = torch_read(torch, path, a->d, a->H, a->B, &e);
        *have = !s;
    }
    if (!keep) unlink(path);
    return s && s != ST_MISSING ? fail(&e) : 0;
}

/* bench: the table over a's lengths. */
static int bench(const BenchArgs *a) {
    TorchTimes *torch = calloc(1, sizeof *torch);
    BenchModel *m = calloc(1, sizeof *m);
    BenchRow *rows = calloc(2 * BENCH_MAX_CONFIGS, sizeof *rows);
    if (!torch || !m || !rows) {
        fprintf(stderr, "drrl-bench: error: out of memory\n");
        return 1;
    }
    int have_torch = 0, rc = load_torch(a, torch, &have_torch);
    Err e;
    if (!rc && bench_model_init(m, a->d, a->H, a->wstd, a->seed, &e)) rc = fail(&e);
    FILE *csv = NULL;
    if (!rc && a->csv && !(csv = fopen(a->csv, "w"))) {
        fprintf(stderr, "drrl-bench: error: --csv: cannot open '%s' for writing\n", a->csv);
        rc = 1;
    }
    if (!rc && csv && bench_csv_header(csv)) rc = 1;
    if (!rc) {
        LatencyTable hw;
        latency_table_hardware(&hw);
        char desc[512];
        snprintf(desc, sizeof desc, "%s, %d threads, %s", hw.cpu, a->threads, hw.blas);
        bench_print_header(stdout, a, desc);
    }
    int nprev = 0, prev_n = 0;
    for (int i = 0; i < a->nn && !rc; i++) {
        BenchRow *cur = rows + (i % 2) * BENCH_MAX_CONFIGS;
        BenchRow *prev = rows + ((i + 1) % 2) * BENCH_MAX_CONFIGS;
        int nrows = 0;
        if (bench_run_n(cur, &nrows, a, m, a->n[i], i ? prev : NULL, nprev, prev_n, &e)) {
            rc = fail(&e);
            break;
        }
        bench_print_rows(stdout, cur, nrows, a, have_torch ? torch : NULL);
        if (csv && bench_csv_rows(csv, cur, nrows, a, have_torch ? torch : NULL)) {
            fprintf(stderr, "drrl-bench: error: --csv: cannot write '%s'\n", a->csv);
            rc = 1;
        }
        nprev = nrows, prev_n = a->n[i];
    }
    if (csv && fclose(csv) && !rc) {
        fprintf(stderr, "drrl-bench: error: --csv: cannot write '%s'\n", a->csv);
        rc = 1;
    }
    if (!rc && a->csv) printf("wrote %s\n", a->csv);
    bench_model_free(m);
    free(m), free(torch), free(rows);
    return rc;
}

int main(int argc, char **argv) {
    BenchArgs a;
    Err e;
    if (bench_args_parse(&a, argc, argv, &e)) {
        fprintf(stderr, "drrl-bench: error: %s\n", e.msg);
        return 2;
    }
    if (a.help) {
        bench_usage(stdout);
        return 0;
    }
    if (a.threads > 0) {
#ifdef _OPENMP
        omp_set_num_threads(a.threads);
#endif
        openblas_set_num_threads(a.threads);
    }
    a.threads = attn_kernel_threads();
    return a.calibrate ? calibrate(&a) : bench(&a);
}
