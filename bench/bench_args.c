/* bench_args.c: drrl-bench's flags (bench_args.h): defaults, parsing of integers, numbers,
 * comma-separated lists and kernel names, cross-flag checks, the usage text. */
#include "bench/bench_args.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const bench_kernel_names[K_COUNT] = {"exact",      "lowrank", "whitened",
                                                 "activation", "nystrom", "performer"};

void bench_usage(FILE *f) {
    fprintf(f,
            "usage: drrl-bench [flags]                 time attention kernels against exact\n"
            "       drrl-bench --calibrate OUT.h5 [--n ...] [--ranks ...] [--d ...] ...\n"
            "  --n LIST          sequence lengths (default 128,256,512,1024,2048,4096,8192,16384)\n"
            "  --kernels LIST    of exact,lowrank,whitened,activation,nystrom,performer (default all;\n"
            "                    exact always runs: it is the reference)\n"
            "  --ranks LIST      per-head ranks of lowrank, whitened, activation (default 16,32)\n"
            "  --landmarks LIST  Nystrom landmarks (default 64,128)\n"
            "  --features LIST   Performer features (default 64,128)\n"
            "  --d D --heads H   layer width and heads (default 512, 8)\n"
            "  --batch B         sequences per forward (default 1)\n"
            "  --reps R          timed runs per configuration, median reported (default 5)\n"
            "  --warmup W        discarded runs before timing, >= 1 (default 1)\n"
            "  --threads T       OpenMP and OpenBLAS threads (default: as the environment says)\n"
            "  --max-seconds S   skip a configuration whose runs would take longer (default 60;\n"
            "                    0 = never skip)\n"
            "  --peak GFLOPS     fp32 peak for the matmul efficiency column (default 233)\n"
            "  --wstd S          std of the random weights and biases (default 0.02)\n"
            "  --seed S          random layer, inputs and Performer features (default 1)\n"
            "  --csv FILE        also write the rows as CSV\n"
            "  --torch FILE.csv  PyTorch latencies (scripts/torch_bench.py) for the torch columns;\n"
            "                    'auto' runs that script first (skipped with a note without torch)\n"
            "  --calibrate FILE  measure the latency table (exact and low-rank at each rank for\n"
            "                    each N) and write it to FILE (format drrl-latency, version 1)\n");
}

/* int_of: a decimal integer in [lo, hi] filling all of s; -1 if not. */
static int int_of(const char *s, long lo, long hi, long *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static Status parse_int(const char *flag, const char *s, long lo, long hi, int *out, Err *e) {
    long v;
    if (int_of(s, lo, hi, &v))
        return err_set(e, ST_CONFIG, "%s: expected an integer in [%ld, %ld], found '%s'", flag, lo,
                       hi, s);
    *out = (int)v;
    return ST_OK;
}

static Status parse_num(const char *flag, const char *s, double lo, double *out, Err *e) {
    char *end;
    double v = s && *s ? strtod(s, &end) : NAN;
    if (!s || !*s || *end || !isfinite(v) || v < lo)
        return err_set(e, ST_CONFIG, "%s: expected a number >= %g, found '%s'", flag, lo,
                       s ? s : "");
    *out = v;
    return ST_OK;
}

/* parse_list: a comma-separated list of integers >= 1, at most BENCH_MAX_LIST, distinct. */
static Status parse_list(const char *flag, const char *s, int *out, int *n, Err *e) {
    char buf[1024];
    if (!s || strlen(s) >= sizeof buf)
        return err_set(e, ST_CONFIG, "%s: expected a comma-separated list of integers >= 1, found "
                       "'%s'", flag, s ? s : "");
    strcpy(buf, s);
    *n = 0;
    char *save = NULL;
    int items = 0;
    for (const char *p = s; *p; p++) items += *p == ',';
    if (items + 1 > BENCH_MAX_LIST)
        return err_set(e, ST_CONFIG, "%s: expected at most %d values, found %d", flag,
                       BENCH_MAX_LIST, items + 1);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (int_of(tok, 1, INT_MAX, &v))
            return err_set(e, ST_CONFIG, "%s: expected a comma-separated list of integers >= 1, "
                           "found '%s'", flag, tok);
        for (int i = 0; i < *n; i++)
            if (out[i] == v)
                return err_set(e, ST_CONFIG, "%s: expected distinct values, found %ld twice", flag,
                               v);
        out[(*n)++] = (int)v;
    }
    if (*n == 0 || items + 1 != *n)
        return err_set(e, ST_CONFIG, "%s: expected a comma-separated list of integers >= 1, found "
                       "'%s'", flag, s);
    return ST_OK;
}

static Status parse_kernels(const char *s, int *sel, Err *e) {
    char buf[256];
    if (strlen(s) >= sizeof buf) return err_set(e, ST_CONFIG, "--kernels: list too long");
    strcpy(buf, s);
    for (int k = 0; k < K_COUNT; k++) sel[k] = 0;
    char *save = NULL;
    int any = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < K_COUNT && strcmp(tok, bench_kernel_names[k]) != 0) k++;
        if (k == K_COUNT)
            return err_set(e, ST_CONFIG, "--kernels: expected a comma-separated list of exact, "
                           "lowrank, whitened, activation, nystrom, performer, found '%s'", tok);
        sel[k] = 1;
        any = 1;
    }
    if (!any)
        return err_set(e, ST_CONFIG, "--kernels: expected a comma-separated list of exact, "
                       "lowrank, whitened, activation, nystrom, performer, found '%s'", s);
    sel[K_EXACT] = 1;
    return ST_OK;
}

static void defaults(BenchArgs *a) {
    memset(a, 0, sizeof *a);
    const int n[8] = {128, 256, 512, 1024, 2048, 4096, 8192, 16384};
    memcpy(a->n, n, sizeof n);
    a->nn = 8;
    for (int k = 0; k < K_COUNT; k++) a->kernel[k] = 1;
    a->ranks[0] = 16, a->ranks[1] = 32, a->nr = 2;
    a->landmarks[0] = 64, a->landmarks[1] = 128, a->nl = 2;
    a->features[0] = 64, a->features[1] = 128, a->nf = 2;
    a->d = 512, a->H = 8, a->B = 1;
    a->reps = 5, a->warmup = 1;
    a->max_seconds = 60;
    a->peak = 233;
    a->wstd = 0.02;
    a->seed = 1;
}

/* check: the cross-flag constraints. */
static Status check(const BenchArgs *a, Err *e) {
    if (a->d % a->H)
        return err_set(e, ST_CONFIG, "--heads: expected a divisor of --d %d, found %d", a->d, a->H);
    const int dh = a->d / a->H;
    for (int i = 0; i < a->nr; i++)
        if (a->ranks[i] > dh)
            return err_set(e, ST_CONFIG, "--ranks: expected ranks in [1, %d] (the head size "
                           "d/heads = %d/%d), found %d", dh, a->d, a->H, a->ranks[i]);
    if (a->nr > 16)
        return err_set(e, ST_CONFIG, "--ranks: expected at most 16 ranks, found %d", a->nr);
    return ST_OK;
}

Status bench_args_parse(BenchArgs *a, int argc, char **argv, Err *e) {
    defaults(a);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            a->help = 1;
            return ST_OK;
        }
        if (strncmp(f, "--", 2) != 0)
            return err_set(e, ST_CONFIG, "expected a flag (see --help), found '%s'", f);
        if (i + 1 >= argc)
            return err_set(e, ST_CONFIG, "%s: expected a value after it, found the end of the "
                           "command line", f);
        const char *v = argv[++i];
        Status s;
        long big = INT_MAX;
        if (!strcmp(f, "--n")) s = parse_list(f, v, a->n, &a->nn, e);
        else if (!strcmp(f, "--kernels")) s = parse_kernels(v, a->kernel, e);
        else if (!strcmp(f, "--ranks")) s = parse_list(f, v, a->ranks, &a->nr, e);
        else if (!strcmp(f, "--landmarks")) s = parse_list(f, v, a->landmarks, &a->nl, e);
        else if (!strcmp(f, "--features")) s = parse_list(f, v, a->features, &a->nf, e);
        else if (!strcmp(f, "--d")) s = parse_int(f, v, 1, 65536, &a->d, e);
        else if (!strcmp(f, "--heads")) s = parse_int(f, v, 1, 65536, &a->H, e);
        else if (!strcmp(f, "--batch")) s = parse_int(f, v, 1, 65536, &a->B, e);
        else if (!strcmp(f, "--reps")) s = parse_int(f, v, 1, 100000, &a->reps, e);
        else if (!strcmp(f, "--warmup")) s = parse_int(f, v, 1, 100000, &a->warmup, e);
        else if (!strcmp(f, "--threads")) s = parse_int(f, v, 1, 1024, &a->threads, e);
        else if (!strcmp(f, "--max-seconds")) s = parse_num(f, v, 0, &a->max_seconds, e);
        else if (!strcmp(f, "--peak")) s = parse_num(f, v, 1e-9, &a->peak, e);
        else if (!strcmp(f, "--wstd")) s = parse_num(f, v, 0, &a->wstd, e);
        else if (!strcmp(f, "--seed")) {
            int sd = 0;
            s = parse_int(f, v, 0, big, &sd, e);
            a->seed = (uint64_t)sd;
        } else if (!strcmp(f, "--csv")) a->csv = v, s = ST_OK;
        else if (!strcmp(f, "--torch")) a->torch = v, s = ST_OK;
        else if (!strcmp(f, "--calibrate")) a->calibrate = v, s = ST_OK;
        else return err_set(e, ST_CONFIG, "expected a known flag (see --help), found '%s'", f);
        if (s) return s;
    }
    return check(a, e);
}
