/* bench_args.c: drrl-bench's flags (bench_args.h): the CliSpec (--help text), defaults,
 * parsing of integers, numbers, comma-separated lists and kernel names, cross-flag checks. */
#include "bench/bench_args.h"

#include "attention/kernel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const bench_kernel_names[K_COUNT] = {"exact",      "lowrank", "whitened",
                                                 "activation", "nystrom", "performer"};

static const CliOpt OPTS[] = {
    {"--n", "LIST", "sequence lengths (default 128,256,512,1024,2048,4096,8192,16384)"},
    {"--kernels", "LIST", "of exact,lowrank,whitened,activation,nystrom,performer (default all;\n"
     "exact always runs: it is the reference)"},
    {"--ranks", "LIST", "per-head ranks of lowrank, whitened, activation (default 16,32)"},
    {"--landmarks", "LIST", "Nystrom landmarks (default 64,128)"},
    {"--features", "LIST", "Performer features (default 64,128)"},
    {"--d", "D", "layer width (default 512)"},
    {"--heads", "H", "attention heads, a divisor of D (default 8)"},
    {"--batch", "B", "sequences per forward (default 1)"},
    {"--reps", "R", "timed runs per configuration, median reported (default 5)"},
    {"--warmup", "W", "discarded runs before timing, >= 1 (default 1)"},
    {"--threads", "T", "OpenMP and OpenBLAS threads (default: as the environment says)"},
    {"--max-seconds", "S", "skip a configuration whose runs would take longer (default 60;\n"
     "0 = never skip)"},
    {"--kernel", "VARIANT", "attention kernel variant of every layer: 'auto' (the one this\n"
     "machine's calibration chose per shape, else the default), 'default', or a\n"
     "name as listed by --kernel list (e.g. tiled:131072, sgemm:1048576, flash:64x256)"},
    {"--wstd", "S", "std of the random weights and biases (default 0.02)"},
    {"--torch", "FILE.csv", "PyTorch latencies (scripts/torch_bench.py) for the torch columns;\n"
     "'auto' runs that script first (skipped with a note without torch)"},
    {"--calibrate", "FILE.h5", "instead of the table: choose the kernel variants by timing them\n"
     "at each N and width (head size and ranks), then measure the latency\n"
     "table with them (exact and low-rank at each rank for each N, of --d,\n"
     "--heads, --batch); write both to FILE.h5 (format drrl-latency) and\n"
     "the variants to this machine's kernel cache (docs/attention.md)"},
    {"--causal", NULL, "--calibrate: measure the table under a causal mask (a causal\n"
     "decoder's table, attribute causal = 1: drrl-train refuses the other kind)"},
};

const CliSpec bench_cli = {
    .prog = "drrl-bench",
    .synopsis = "drrl-bench [--n LIST] [--kernels LIST] [--ranks LIST] ... [--out DIR]\n"
                "       drrl-bench --calibrate FILE.h5 [--n LIST] [--ranks LIST] [--d D] ...",
    .about = "Times one attention layer (seeded random weights, LayerNorm-shaped random inputs)\n"
             "at each sequence length: exact attention and the selected kernels at their ranks.\n"
             "Prints one row per configuration: median latency, counted FLOPs, FLOPs and latency\n"
             "ratios vs exact in the same run, fidelity (cosine, relative error) vs exact, the\n"
             "tight perturbation bound, GFLOP/s, matmul efficiency, and PyTorch's latency with\n"
             "--torch. Reads nothing but --torch FILE; with --out DIR writes the rows to\n"
             "DIR/bench.csv (columns: bench/bench_report.h, docs/attention.md). --calibrate\n"
             "instead writes the latency table that drrl-train's reward reads (latency.file).",
    .opts = OPTS,
    .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .common = CLI_SEED | CLI_OUT,
    .verbose_help = "also print the resolved settings as one command line",
    .seed_help = "seed of the random layer, its inputs and the Performer features\n(default 1)",
    .out_help = "write DIR/bench.csv (and, with --torch auto, PyTorch's times\n"
                "DIR/torch.csv); DIR is created if missing",
};

static Status get_int(const CliArgs *c, const char *flag, long lo, long hi, int *out, Err *e) {
    long v = *out;
    Status s = cli_int(&bench_cli, c, flag, lo, hi, &v, e);
    *out = (int)v;
    return s;
}

/* get_num: a finite number >= lo. */
static Status get_num(const CliArgs *c, const char *flag, double lo, double *out, Err *e) {
    return cli_double(&bench_cli, c, flag, lo, HUGE_VAL, out, e);
}

/* get_list: a comma-separated list of distinct integers >= 1, at most BENCH_MAX_LIST. */
static Status get_list(const CliArgs *c, const char *flag, int *out, int *n, Err *e) {
    return cli_int_list(&bench_cli, c, flag, 1, 1 << 30, out, BENCH_MAX_LIST, n, e);
}

static Status get_kernels(const CliArgs *c, int *sel, Err *e) {
    const char *s = cli_get(&bench_cli, c, "--kernels");
    if (!s) return ST_OK;
    for (int k = 0; k < K_COUNT; k++) sel[k] = 0;
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        int k = 0;
        while (k < K_COUNT && (strlen(bench_kernel_names[k]) != len ||
                               strncmp(p, bench_kernel_names[k], len)))
            k++;
        if (k == K_COUNT)
            return err_set(e, ST_INVALID, "--kernels: expected a comma-separated list of exact, "
                           "lowrank, whitened, activation, nystrom, performer, found '%.*s'",
                           (int)len, p);
        sel[k] = 1;
        if (!p[len]) break;
        p += len + 1;
    }
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
    a->kernel_variant = "auto";
    a->wstd = 0.02;
    a->seed = 1;
}

/* check: the cross-flag constraints. */
static Status check(const BenchArgs *a, Err *e) {
    if (a->d % a->H)
        return err_set(e, ST_INVALID, "--heads: expected a divisor of --d %d, found %d", a->d,
                       a->H);
    const int dh = a->d / a->H;
    for (int i = 0; i < a->nr; i++)
        if (a->ranks[i] > dh)
            return err_set(e, ST_INVALID, "--ranks: expected ranks in [1, %d] (the head size "
                           "d/heads = %d/%d), found %d", dh, a->d, a->H, a->ranks[i]);
    if (a->nr > 16)
        return err_set(e, ST_INVALID, "--ranks: expected at most 16 ranks, found %d", a->nr);
    AttnVariant v;
    if (strcmp(a->kernel_variant, "auto") && strcmp(a->kernel_variant, "default") &&
        strcmp(a->kernel_variant, "list") && attn_variant_parse(a->kernel_variant, &v))
        return err_set(e, ST_INVALID, "--kernel: expected auto, default, list or a variant name "
                       "such as tiled:131072, sgemm:1048576, flash:64x256 (rows x keys, multiples "
                       "of 8 and 32), found '%s'", a->kernel_variant);
    if (a->calibrate && strcmp(a->kernel_variant, "auto"))
        return err_set(e, ST_INVALID, "--kernel: expected no --kernel with --calibrate (it "
                       "chooses the variants), found --kernel %s", a->kernel_variant);
    if (a->calibrate && a->out)
        return err_set(e, ST_INVALID, "--out: expected no --out with --calibrate (it writes only "
                       "FILE.h5), found --out %s", a->out);
    return ST_OK;
}

Status bench_args_from_cli(BenchArgs *a, const CliArgs *c, Err *e) {
    defaults(a);
    if (c->has_seed) a->seed = c->seed;
    a->out = c->out;
    a->torch = cli_get(&bench_cli, c, "--torch");
    a->calibrate = cli_get(&bench_cli, c, "--calibrate");
    a->causal = cli_get(&bench_cli, c, "--causal") != NULL;
    Status s = cli_exclusive(&bench_cli, c, "--calibrate", "--torch", e);
    if (!s) s = get_list(c, "--n", a->n, &a->nn, e);
    if (!s) s = get_kernels(c, a->kernel, e);
    if (!s) s = get_list(c, "--ranks", a->ranks, &a->nr, e);
    if (!s) s = get_list(c, "--landmarks", a->landmarks, &a->nl, e);
    if (!s) s = get_list(c, "--features", a->features, &a->nf, e);
    if (!s) s = get_int(c, "--d", 1, 65536, &a->d, e);
    if (!s) s = get_int(c, "--heads", 1, 65536, &a->H, e);
    if (!s) s = get_int(c, "--batch", 1, 65536, &a->B, e);
    if (!s) s = get_int(c, "--reps", 1, 100000, &a->reps, e);
    if (!s) s = get_int(c, "--warmup", 1, 100000, &a->warmup, e);
    if (!s) s = get_int(c, "--threads", 1, 1024, &a->threads, e);
    if (!s) s = get_num(c, "--max-seconds", 0, &a->max_seconds, e);
    if (!s && cli_get(&bench_cli, c, "--kernel")) a->kernel_variant = cli_get(&bench_cli, c, "--kernel");
    if (!s) s = get_num(c, "--wstd", 0, &a->wstd, e);
    if (!s && a->torch && !*a->torch)
        s = err_set(e, ST_INVALID, "--torch: expected a CSV file or 'auto', found ''");
    if (!s && a->calibrate && !*a->calibrate)
        s = err_set(e, ST_INVALID, "--calibrate: expected a file name, found ''");
    if (!s && a->causal && !a->calibrate)
        s = err_set(e, ST_INVALID, "--causal: expected --calibrate FILE.h5 with it (it selects "
                    "the table's kind), found no --calibrate");
    if (!s && a->out && !*a->out)
        s = err_set(e, ST_INVALID, "--out: expected a folder, found ''");
    return s ? s : check(a, e);
}

/* print_list: " FLAG v1,v2,..." */
static void print_list(FILE *f, const char *flag, const int *v, int n) {
    fprintf(f, " %s ", flag);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", v[i]);
}

void bench_args_print(FILE *f, const BenchArgs *a) {
    fprintf(f, "resolved flags: drrl-bench");
    print_list(f, "--n", a->n, a->nn);
    fprintf(f, " --kernels ");
    for (int k = 0, first = 1; k < K_COUNT; k++)
        if (a->kernel[k]) fprintf(f, "%s%s", first ? "" : ",", bench_kernel_names[k]), first = 0;
    print_list(f, "--ranks", a->ranks, a->nr);
    print_list(f, "--landmarks", a->landmarks, a->nl);
    print_list(f, "--features", a->features, a->nf);
    fprintf(f, " --d %d --heads %d --batch %d --reps %d --warmup %d --threads %d --max-seconds %g"
            " --kernel %s --wstd %g --seed %llu", a->d, a->H, a->B, a->reps, a->warmup, a->threads,
            a->max_seconds, a->kernel_variant, a->wstd, (unsigned long long)a->seed);
    if (a->torch) fprintf(f, " --torch %s", a->torch);
    if (a->calibrate) fprintf(f, " --calibrate %s", a->calibrate);
    if (a->out) fprintf(f, " --out %s", a->out);
    fprintf(f, "\n");
}
