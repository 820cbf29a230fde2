/* bench_table.c: drrl-bench's table over lengths and its latency calibration (bench_table.h). */
#include "bench/bench_table.h"

#include <stdlib.h>
#include <string.h>

#include "attention/tune.h"
#include "bench/bench_model.h"
#include "bench/bench_report.h"
#include "bench/bench_run.h"
#include "core/progress.h"

#define PROGRESS_PERIOD 0.0 /* a progress line after every length */

/* rows_pass: every length in order; rows holds two lengths' rows (current, previous). */
static Status rows_pass(const BenchArgs *a, BenchModel *m, BenchRow *rows, const TorchTimes *torch,
                        FILE *info, FILE *csv, Progress *p, int *n_rows, Err *e) {
    int nprev = 0, prev_n = 0;
    for (int i = 0; i < a->nn; i++) {
        BenchRow *cur = rows + (i % 2) * BENCH_MAX_CONFIGS;
        BenchRow *prev = rows + ((i + 1) % 2) * BENCH_MAX_CONFIGS;
        int nrows = 0;
        Status s = bench_run_n(cur, &nrows, a, m, a->n[i], i ? prev : NULL, nprev, prev_n, e);
        if (s) return s;
        bench_print_rows(info, cur, nrows, a, torch);
        fflush(info);
        if (csv && bench_csv_rows(csv, cur, nrows, a, torch))
            return err_set(e, ST_IO, "%s/bench.csv: cannot write", a->out);
        *n_rows += nrows;
        nprev = nrows, prev_n = a->n[i];
        char what[64];
        snprintf(what, sizeof what, "drrl-bench: n=%d done, configurations", a->n[i]);
        progress_label(p, what);
        progress_add(p, nrows);
    }
    return ST_OK;
}

Status bench_table(const BenchArgs *a, const TorchTimes *torch, FILE *info, FILE *csv,
                   FILE *progress, int *n_rows, Err *e) {
    *n_rows = 0;
    BenchModel *m = calloc(1, sizeof *m);
    BenchRow *rows = calloc(2 * BENCH_MAX_CONFIGS, sizeof *rows); /* (2, BENCH_MAX_CONFIGS) */
    Status s = m && rows ? ST_OK : err_set(e, ST_NOMEM, "drrl-bench: out of memory");
    if (!s) s = bench_model_init(m, a->d, a->H, a->wstd, a->seed, e);
    if (!s && csv && bench_csv_header(csv))
        s = err_set(e, ST_IO, "%s/bench.csv: cannot write", a->out);
    if (!s) {
        LatencyTable hw;
        latency_table_hardware(&hw);
        char desc[512];
        snprintf(desc, sizeof desc, "%s, %d threads, %s", hw.cpu, a->threads, hw.blas);
        bench_print_header(info, a, desc);
        if (strcmp(a->kernel_variant, "auto") && strcmp(a->kernel_variant, "default"))
            fprintf(info, "kernels: %s everywhere (--kernel)\n", a->kernel_variant);
        else
            attn_tune_print(info, attn_tune_current());
        Progress p;
        progress_init(&p, progress, "drrl-bench: configurations", (int64_t)a->nn *
                      bench_n_configs(a), PROGRESS_PERIOD);
        if (!s) s = rows_pass(a, m, rows, torch, info, csv, &p, n_rows, e);
    }
    if (m) bench_model_free(m);
    free(m), free(rows);
    return s;
}

typedef struct {
    FILE *info;
    Progress p;
} CalibCtx;

/* print_bucket: the latency table's row of bucket i (its header first), one progress unit */
static void print_bucket(void *ctx, const LatencyTable *t, int i) {
    CalibCtx *c = ctx;
    if (i == 0) {
        fprintf(c->info, "latency in ms (ratio to exact)\n%6s %11s", "N", "exact");
        for (int j = 0; j < t->n_ranks; j++) fprintf(c->info, "  %12s r=%-3d", "", t->ranks[j]);
        fprintf(c->info, "\n");
    }
    fprintf(c->info, "%6d %11.3f", t->buckets[i], 1e3 * t->full[i]);
    for (int j = 0; j < t->n_ranks; j++)
        fprintf(c->info, "  %9.3f (%5.3f)", 1e3 * t->lat[i][j], t->lat[i][j] / t->full[i]);
    fprintf(c->info, "\n");
    fflush(c->info);
    progress_add(&c->p, 1);
}

Status bench_calibrate(const BenchArgs *a, FILE *info, FILE *progress, LatencyTable *t,
                       Err *e) {
    latency_table_hardware(t);
    fprintf(info, "drrl-bench --calibrate %s%s: d=%d heads=%d batch=%d, median of %d runs after "
            "%d warm-up; %s, %d threads, %s\n", a->calibrate, a->causal ? " (causal)" : "", a->d,
            a->H, a->B, a->reps, a->warmup, t->cpu, t->threads, t->blas);
    CalibCtx c = {.info = info};
    progress_init(&c.p, progress, "drrl-bench --calibrate: lengths", a->nn, PROGRESS_PERIOD);
    Status s = (a->causal ? latency_table_measure_causal : latency_table_measure)(
        t, NULL, a->d, a->H, a->B, a->n, a->nn, a->ranks, a->nr, a->warmup, a->reps, a->seed,
        print_bucket, &c, e);
    if (s) return s;
    Store *st = NULL;
    s = store_create(&st, a->calibrate, LATENCY_FORMAT, LATENCY_VERSION, e);
    if (s) return s;
    s = latency_table_save(st, LATENCY_GROUP, t, e);
    if (!s) s = store_commit(st, e);
    else store_abort(st);
    if (s) return s;
    attn_tune_print(info, &t->tune);
    Err ce;
    char path[4096];
    if (attn_tune_cache_save(&t->tune, &ce))
        fprintf(info, "note: kernel cache not written: %s\n", ce.msg);
    else if (!attn_tune_cache_path(path, sizeof path, t->tune.threads))
        fprintf(info, "kernel variants added to this machine's cache %s\n", path);
    return ST_OK;
}
