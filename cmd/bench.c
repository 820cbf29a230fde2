/* bench.c: drrl-bench, the attention benchmark (a command, not a test; issue 4 item 8):
 * for each sequence length N, times exact attention and the selected kernels (weight-level
 * low-rank with plain or whitened factors, activation-level, Nystrom, Performer) at their
 * ranks on a seeded random layer, and prints one row per configuration: median latency,
 * counted FLOPs, FLOPs and latency ratios vs exact in the same run, fidelity, the bound,
 * GFLOP/s and matmul efficiency, and PyTorch's latency with our speed-up when given
 * (bench_report.h lists the columns); --out DIR writes the rows to DIR/bench.csv.
 * `--calibrate FILE` instead measures the latency table of attention/latency.h and writes it
 * to FILE. The flags are in bench/bench_args.c (--help); the runs in bench/bench_table.c. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attention/kernel.h"
#include "attention/tune.h"
#include "bench/bench_args.h"
#include "bench/bench_peak.h"
#include "bench/bench_table.h"
#include "bench/bench_torch.h"
#include "core/store.h"
#include "core/timer.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define PATH_CAP 4096

static int fail(const Err *e, int code) {
    fprintf(stderr, "drrl-bench: error: %s\n", e->msg);
    return code;
}

/* load_torch: the PyTorch latencies of --torch: a file, or "auto": run the script into
   DIR/torch.csv.tmp with --out (its path then in kept; table renames it to DIR/torch.csv once
   the run succeeded), else into a temporary file. A missing PyTorch is a note, not an error
   (*have stays 0). No file of the script outlives a failure. */
static Status load_torch(const BenchArgs *a, const CliArgs *c, TorchTimes *torch, int *have,
                         char *kept, Err *e) {
    *have = 0;
    if (!a->torch) return ST_OK;
    if (strcmp(a->torch, "auto") != 0) {
        Status s = torch_read(torch, a->torch, a->d, a->H, a->B, e);
        *have = !s;
        return s;
    }
    char path[PATH_CAP] = "/tmp/drrl-bench-torch-XXXXXX";
    if (a->out) {
        Status s = store_mkdirs(a->out, e);
        if (s) return s;
        snprintf(path, sizeof path, "%s/torch.csv.tmp", a->out);
    } else {
        int fd = mkstemp(path);
        if (fd < 0) return err_set(e, ST_IO, "--torch auto: cannot create a temporary file");
        close(fd);
    }
    FILE *info = cli_info(c);
    fprintf(info, "--torch auto: timing torch.nn.MultiheadAttention with scripts/torch_bench.py\n");
    Status s = torch_run_script(a, path, c->verbosity == CLI_QUIET, e);
    if (s == ST_MISSING) {
        printf("note: --torch auto skipped: %s\n", e->msg);
        s = ST_OK;
    } else if (!s) {
        s = torch_read(torch, path, a->d, a->H, a->B, e);
        *have = !s;
        if (!s && a->out) snprintf(kept, PATH_CAP, "%s", path);
    }
    if (!*kept) unlink(path);
    return s;
}

/* csv_open: DIR (created) and DIR/bench.csv.tmp opened for writing; the final name in path,
   the temporary one in tmp. */
static Status csv_open(const char *dir, char *path, char *tmp, FILE **csv, Err *e) {
    snprintf(path, PATH_CAP, "%s/bench.csv", dir);
    snprintf(tmp, PATH_CAP, "%s/bench.csv.tmp", dir);
    Status s = store_mkdirs(dir, e);
    if (s) return s;
    if (!(*csv = fopen(tmp, "w")))
        return err_set(e, ST_IO, "--out: cannot open '%s' for writing", tmp);
    return ST_OK;
}

/* csv_commit: the finished temporaries under their final names: tmp -> path (bench.csv), and
   torch_tmp (DIR/torch.csv.tmp, when --torch auto wrote it) -> torch_path (DIR/torch.csv). */
static Status csv_commit(const char *tmp, const char *path, const char *torch_tmp,
                         char *torch_path, Err *e) {
    if (rename(tmp, path))
        return err_set(e, ST_IO, "--out: cannot rename '%s' to '%s'", tmp, path);
    if (!*torch_tmp) return ST_OK;
    size_t len = strlen(torch_tmp) - strlen(".tmp");
    snprintf(torch_path, PATH_CAP, "%.*s", (int)len, torch_tmp);
    if (rename(torch_tmp, torch_path))
        return err_set(e, ST_IO, "--out: cannot rename '%s' to '%s'", torch_tmp, torch_path);
    return ST_OK;
}

/* table: the rows over a's lengths, DIR/bench.csv with --out, and the summary. The CSV files
   are written as DIR/<name>.tmp, opened once every input is loaded, and renamed only after
   the whole run succeeded: a failing run leaves an earlier DIR/bench.csv untouched and no
   .tmp behind. */
static int table(const BenchArgs *a, const CliArgs *c) {
    Err e;
    char csv_path[PATH_CAP] = "", csv_tmp[PATH_CAP] = "";
    char torch_tmp[PATH_CAP] = "", torch_path[PATH_CAP] = "";
    FILE *csv = NULL;
    TorchTimes *torch = calloc(1, sizeof *torch);
    int have = 0, n_rows = 0;
    const double t0 = time_now();
    Status s = torch ? ST_OK : err_set(&e, ST_NOMEM, "out of memory");
    if (!s) s = load_torch(a, c, torch, &have, torch_tmp, &e);
    if (!s && a->out) s = csv_open(a->out, csv_path, csv_tmp, &csv, &e);
    if (!s) s = bench_table(a, have ? torch : NULL, cli_info(c), csv, stdout, &n_rows, &e);
    if (csv && fclose(csv) && !s) s = err_set(&e, ST_IO, "%s: cannot write", csv_tmp);
    if (!s && a->out) s = csv_commit(csv_tmp, csv_path, torch_tmp, torch_path, &e);
    free(torch);
    if (s) {
        if (*csv_tmp) unlink(csv_tmp);
        if (*torch_tmp) unlink(torch_tmp);
        return fail(&e, 1);
    }
    printf("drrl-bench: %d rows (%d lengths) in %.1f s", n_rows, a->nn, time_now() - t0);
    if (a->out) printf("; wrote %s%s%s\n", csv_path, *torch_path ? " and " : "", torch_path);
    else printf("; no file written (--out DIR writes DIR/bench.csv)\n");
    return 0;
}

/* calibrate: the latency table into --calibrate FILE, and the summary. */
static int calibrate(const BenchArgs *a, const CliArgs *c) {
    Err e;
    LatencyTable t;
    if (bench_calibrate(a, cli_info(c), stdout, &t, &e)) return fail(&e, 1);
    printf("drrl-bench: wrote %s (format %s, version %d, group %s): %d lengths x %d ranks, "
           "measured %s\n", a->calibrate, LATENCY_FORMAT, LATENCY_VERSION, LATENCY_GROUP,
           t.n_buckets, t.n_ranks, t.date);
    return 0;
}

/* list_variants: --kernel list: the candidates the calibration times, and this machine's
   cached choice */
static int list_variants(void) {
    AttnVariant c[ATTN_MAX_VARIANTS];
    const int n = attn_variant_candidates(c);
    char nm[64];
    printf("kernel variants (attention/kernel.h); the calibration times these:\n");
    for (int i = 0; i < n; i++)
        printf("  %s%s\n", attn_variant_name(c[i], nm, sizeof nm), i == 0 ? "  (default)" : "");
    char path[4096];
    if (attn_tune_cache_path(path, sizeof path, attn_kernel_threads()) == 0) {
        printf("this machine's cache: %s\n", path);
        if (attn_tune_cache_apply(stdout)) attn_tune_print(stdout, attn_tune_current());
        else printf("  (no calibration cached: drrl-bench --calibrate FILE.h5 writes it)\n");
    } else {
        printf("kernel cache off (DRRL_KERNEL_CACHE=off or no HOME)\n");
    }
    return 0;
}

/* use_variant: --kernel: auto (this machine's cached choice, else the default), default, or
   one variant everywhere (a tuning of one entry) */
static int use_variant(const char *name, FILE *info) {
    if (!strcmp(name, "auto")) {
        attn_tune_cache_apply(info);
        return 0;
    }
    attn_tune_use(NULL);
    if (!strcmp(name, "default")) return 0;
    AttnTune t;
    memset(&t, 0, sizeof t);
    if (attn_variant_parse(name, &t.v[0])) return 1; /* checked by bench_args_from_cli */
    t.n = 1, t.N[0] = 1, t.k[0] = 1, t.sec[0] = t.sec_default[0] = 1;
    attn_tune_cpu(t.cpu, sizeof t.cpu);
    t.threads = attn_kernel_threads();
    snprintf(t.date, sizeof t.date, "--kernel");
    attn_tune_use(&t);
    return 0;
}

int main(int argc, char **argv) {
    CliArgs c;
    BenchArgs a;
    Err e;
    err_clear(&e);
    if (cli_parse(&bench_cli, argc, argv, stdout, &c, &e)) return fail(&e, 2);
    if (c.done) return 0;
    if (bench_args_from_cli(&a, &c, &e)) return fail(&e, 2);
    if (a.threads > 0) {
#ifdef _OPENMP
        omp_set_num_threads(a.threads);
#endif
        openblas_set_num_threads(a.threads);
    }
    a.threads = attn_kernel_threads();
    if (c.verbosity == CLI_VERBOSE) bench_args_print(stdout, &a);
    if (!strcmp(a.kernel_variant, "list")) return list_variants();
    if (a.calibrate) return calibrate(&a, &c);
    if (use_variant(a.kernel_variant, cli_info(&c))) return 1;
    if (bench_peak_measure(&a.peak, a.threads)) {
        err_set(&e, ST_NOMEM, "out of memory measuring the sgemm rate");
        return fail(&e, 1);
    }
    return table(&a, &c);
}
