/* signals.c: drrl-signals, the candidate signals for choosing an attention rank per input,
 * measured before they are used.
 *
 *   drrl-signals --model MODEL.h5 [--split dev|test|train] [--rows N] [--ranks 2,4,8,16,32]
 *                [--out DIR] [--calib N] [--factors FILE.h5] [--batch B] [--sketch K]
 *                [--min-tokens T] [--reps N] [--seed N] [KEY=VALUE ...]
 *
 * For every input of the split: its KL(p_full || p_r) with all layers at each whitened rank r
 * of the list and the counted attention FLOPs of each mode (each sequence alone), and every
 * candidate signal with its own counted FLOPs and measured time (eval/signals_run.h); then
 * per signal its Spearman correlation with the KL at each rank and the share of the
 * per-input oracle's gain that a two-rank rule ordering the inputs by it reaches at equal mean
 * cost (eval/signals_table.h). Writes DIR/signals.tsv, table.csv, targets.csv, modes.csv and
 * table.md (also printed). The model, config and override conventions are drrl-factors'. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/timer.h"
#include "eval/signals_table.h"
#include "pipeline/base_run.h"

static const CliOpt OPTS[] = {
    {"--model", "MODEL.h5", "the frozen model (drrl-base's model.h5); required"},
    {"--split", "SPLIT", "the evaluated split: dev (default), test or train"},
    {"--rows", "N", "only the first N inputs of the split (default: all)"},
    {"--ranks", "LIST", "increasing whitened ranks per head below the head size (default\n"
     "2,4,8,16,32); the first is the cheap pass, the first two the attention change"},
    {"--factors", "FILE.h5", "the factor cache (default MODEL.factors.h5)"},
    {"--calib", "N", "calibration sentences: the first N of data.train (default 2048)"},
    {"--batch", "B", "sentences per forward (default: the config's eval.batch)"},
    {"--sketch", "K", "columns of the energy sketch (default 4)"},
    {"--min-tokens", "T", "only the split's rows of at least T tokens (before --rows; default 0:\n"
     "all; SST-2 training rows are short phrases)"},
    {"--reps", "N", "time every mode's plain pass N times per batch, the median (default 0:\n"
     "untimed; ms:* columns NaN)"},
};
static const ConfigSchema *const SCHEMAS[] = {&base_schema};
static const CliSpec SPEC = {
    .prog = "drrl-signals",
    .synopsis = "drrl-signals --model MODEL.h5 [--split dev|test|train] [--rows N] [--ranks LIST]\n"
                "       [--out DIR] [--factors FILE.h5] [--calib N] [--batch B] [--sketch K]\n"
                "       [--min-tokens T] [--reps N] [--seed N] [KEY=VALUE ...]",
    .about = "Tabulates candidate signals for a per-input attention rank: per input the KL to\n"
             "the full model at each uniform whitened rank and every signal with its own cost;\n"
             "per signal its Spearman correlation with each rank's KL and the share of the\n"
             "per-input oracle's gain a rule allocating ranks by it reaches at equal cost.",
    .opts = OPTS,
    .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .common = CLI_OVERRIDES | CLI_SEED | CLI_OUT,
    .seed_help = "seed of the energy sketch and of the random signal (default 1)",
    .out_help = "where signals.tsv, table.csv, targets.csv, modes.csv and table.md go\n"
                "(default runs/signals)",
    .schemas = SCHEMAS,
    .n_schemas = 1,
};

typedef struct {
    SignalsOptions o;
    int ranks[SIG_MAX_RANKS];
    char cache[4096];
} Args;

static void die(const Err *e, int code) {
    fprintf(stderr, "drrl-signals: error: %s\n", e->msg);
    exit(code);
}

static Status args_get(Args *a, const CliArgs *c, Err *e) {
    static const int ranks[] = {2, 4, 8, 16, 32};
    memcpy(a->ranks, ranks, sizeof ranks);
    FactorsOptions *fo = &a->o.fo;
    *fo = (FactorsOptions){.split = "dev", .calib_rows = RANKED_CALIB_DEFAULT_ROWS,
                           .ranks = a->ranks, .nr = 5, .over = c->over, .n_over = c->n_over};
    long calib = fo->calib_rows, batch = 0, rows = -1, sk = 4, mt = 0, reps = 0;
    fo->model = cli_get(&SPEC, c, "--model");
    Status s = fo->model && *fo->model ? ST_OK
               : err_set(e, ST_INVALID, "--model: expected a model file (drrl-signals --model "
                         "MODEL.h5), found %s", fo->model ? "''" : "none");
    if (!s) s = cli_choice(&SPEC, c, "--split", "dev|test|train", &fo->split, e);
    if (!s) s = cli_int(&SPEC, c, "--calib", 1, INT_MAX, &calib, e);
    if (!s) s = cli_int(&SPEC, c, "--batch", 1, 65536, &batch, e);
    if (!s) s = cli_int(&SPEC, c, "--rows", 1, INT_MAX, &rows, e);
    if (!s) s = cli_int(&SPEC, c, "--sketch", 1, 4096, &sk, e);
    if (!s) s = cli_int(&SPEC, c, "--min-tokens", 0, INT_MAX, &mt, e);
    if (!s) s = cli_int(&SPEC, c, "--reps", 0, 64, &reps, e);
    if (!s) s = cli_int_list(&SPEC, c, "--ranks", 1, 4096, a->ranks, SIG_MAX_RANKS, &fo->nr, e);
    if (s) return s;
    fo->calib_rows = (int)calib, fo->batch = (int)batch;
    a->o.min_tokens = (int)mt, a->o.reps = (int)reps;
    a->o.rows = (int)rows, a->o.sketch_k = (int)sk, a->o.seed = c->has_seed ? c->seed : 1;
    const char *f = cli_get(&SPEC, c, "--factors");
    if (f && !*f) return err_set(e, ST_INVALID, "--factors: expected a file name, found ''");
    if (f) snprintf(a->cache, sizeof a->cache, "%s", f);
    else ranked_calib_cache_path(a->cache, sizeof a->cache, fo->model);
    fo->cache = a->cache;
    return ST_OK;
}

int main(int argc, char **argv) {
    CliArgs c;
    static Args a;
    Err e;
    err_clear(&e);
    if (cli_parse(&SPEC, argc, argv, stdout, &c, &e)) die(&e, 2);
    if (c.done) return 0;
    if (cli_forbid_key(&c, "seed", "--seed N (the sketch and the random signal)", &e)) die(&e, 2);
    if (args_get(&a, &c, &e)) die(&e, 2);
    const char *dir = c.out ? c.out : "runs/signals";
    char cmdline[2048] = "drrl-signals";
    for (int i = 1; i < argc; i++) {
        const size_t k = strlen(cmdline);
        snprintf(cmdline + k, sizeof cmdline - k, " %s", argv[i]);
    }
    FILE *info = cli_info(&c);
    const double t0 = time_now();
    static SigResult res;
    Status s = signals_run(&a.o, &res, info, stdout, &e);
    if (s) die(&e, s == ST_INVALID ? 2 : 1);
    SigTableInfo ti = {.model = a.o.fo.model, .split = a.o.fo.split, .cmdline = cmdline,
                       .sketch_k = a.o.sketch_k};
    if (signals_write(&res, dir, &ti, info, &e)) die(&e, 1);
    printf("drrl-signals: %d inputs of the %s split, %d signals, in %.1f s; wrote %s/signals.tsv, "
           "table.csv, targets.csv, modes.csv, table.md\n", res.n, a.o.fo.split, res.S,
           time_now() - t0, dir);
    signals_result_free(&res);
    return 0;
}
