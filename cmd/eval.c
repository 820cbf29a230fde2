/* eval.c: drrl-eval, the comparison table of attention modes on GLUE SST-2, byte-level IMDB
 * or the generated recall task: parse the command line, run eval/eval_session.h, report.
 *
 *   drrl-eval --checkpoint CKPT.h5|RUN_DIR [--config X.yaml] [--split dev|test]
 *             [--modes full,static:8,...,policy] [--out DIR] [--seed N] [--batch B]
 *             [--reps R] [--resamples N] [--predictions] [--min-bytes K | --join L] [--rows K]
 *             [KEY=VALUE ...]
 *
 * The checkpoint (drrl-train's; a run directory means its newest one) brings the train config
 * (or --config replaces it; KEY=VALUE overrides it; data.* and eval.* keys override the frozen
 * model's stored config instead), the policy and the latency table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/dist.h"
#include "core/log.h"
#include "eval/eval_modes.h"
#include "eval/eval_session.h"
#include "pipeline/base_config.h"
#include "pipeline/train_config.h"

#define MAX_OVER 128

static const CliOpt OPTS[] = {
    {"--checkpoint", "CKPT", "drrl-train checkpoint, or a run directory (its newest); required"},
    {"--split", "SPLIT", "dev (default) or test"},
    {"--modes", "LIST", "full, static:r, static:r0/r1/.. (per layer), static:A+B (by layer\n"
     "and position), static:a.b/.. (per head: a per-head checkpoint),\n"
     "static-plain:r|auto, random, nystrom:m, performer:m, policy\n"
     "(default: all, with every grid rank and m = 8, 16, 32)"},
    {"--batch", "B", "sentences per batch (default: the frozen model's eval.batch)"},
    {"--reps", "R", "timed rounds, median reported (default 3)"},
    {"--resamples", "N", "bootstrap resamples of the accuracy interval (default 2000)"},
    {"--predictions", NULL, "also write dev prediction files (test always writes them)"},
    {"--min-bytes", "K", "IMDB: only the reviews of at least K bytes"},
    {"--join", "L", "IMDB, test split: inputs of exactly L bytes joined from consecutive\n"
     "same-label test reviews (the length sweep's inputs)"},
    {"--rows", "K", "at most the first K inputs (of the split, or of --join / --min-bytes)"},
};
static const ConfigSchema *const SCHEMAS[] = {&train_schema, &base_schema};
/* every key of the train config; of the frozen model's config only what evaluation reads */
static const char *const PREFIXES[] = {NULL, "data.|eval."};
static const CliSpec SPEC = {
    .prog = "drrl-eval",
    .synopsis = "drrl-eval --checkpoint CKPT.h5|RUN_DIR [--split dev|test] [--modes LIST]\n"
                "                 [--out DIR] [flags] [KEY=VALUE ...]",
    .about = "Evaluates the frozen model (SST-2, byte-level IMDB or recall) under each attention\n"
             "mode and compares it with full rank: accuracy (bootstrap CI), agreement, KL, logit margin,\n"
             "McNemar, counted FLOPs, measured latency, ranks per layer, guardrail statistics.\n"
             "KEY=VALUE overrides the train config; data.* and eval.* the frozen model's config\n"
             "(data.max_len=N evaluates a conv-position model at N); latency.file=FILE replaces\n"
             "the checkpoint's latency table.",
    .opts = OPTS, .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .common = CLI_CONFIG | CLI_OVERRIDES | CLI_PRINT_CONFIG | CLI_SEED | CLI_OUT,
    .config_help = "a train config replacing the checkpoint's stored one",
    .seed_help = "seed of the bootstrap and of the random mode's draws (default 1)",
    .out_help = "folder of eval.csv, eval.json, per_input.tsv, policy_ranks.tsv and\n"
                "prediction files (default: the checkpoint's directory)",
    .verbose_help = "also print the resolved train config at start",
    .schemas = SCHEMAS, .schema_prefixes = PREFIXES, .n_schemas = 2,
};

/* die: the error, once per job (every process reaches it with the same message: the command
   line is the same everywhere, and later errors are agreed, core/dist.h) */
static void die(const Err *e, int code) {
    if (dist_rank() == 0) fprintf(stderr, "drrl-eval: error: %s\n", e->msg);
    dist_finalize();
    exit(code);
}

/* options: the flags as EvalOptions; overrides split between the train config and the
   frozen model's (data.*, eval.*) */
static void options(const CliArgs *a, EvalOptions *o, const char **over, const char **base_over,
                    Err *e) {
    long v[6] = {0, 3, 2000, 0, 0, 0}; /* batch, reps, resamples, min-bytes, join, rows */
    const char *names[6] = {"--batch", "--reps", "--resamples", "--min-bytes", "--join", "--rows"};
    const long hi[6] = {1L << 20, 1000, 1L << 24, 1L << 30, 1L << 30, 1L << 30};
    for (int i = 0; i < 6; i++)
        if (cli_int(&SPEC, a, names[i], 1, hi[i], &v[i], e)) die(e, 2);
    *o = (EvalOptions){.ckpt = cli_get(&SPEC, a, "--checkpoint"), .cfg_path = a->config,
                       .split = "dev", .modes = cli_get(&SPEC, a, "--modes"), .out = a->out,
                       .seed = a->has_seed ? a->seed : 1, .batch = (int)v[0], .reps = (int)v[1],
                       .resamples = (int)v[2], .min_bytes = (int)v[3], .join = (int)v[4],
                       .rows = (int)v[5], .predictions = cli_get(&SPEC, a, "--predictions") != NULL,
                       .over = over, .base_over = base_over};
    if (cli_choice(&SPEC, a, "--split", "dev|test", &o->split, e)) die(e, 2);
    if (cli_exclusive(&SPEC, a, "--join", "--min-bytes", e)) die(e, 2);
    /* the list's syntax now (exit 2); its ranks against the policy's grid once the checkpoint
       is open */
    static EvalMode modes[EVAL_MAX_MODES];
    int nm = 0;
    if (o->modes && eval_modes_parse(o->modes, NULL, 0, 1 << 20, modes, &nm, e)) die(e, 2);
    if (!o->ckpt) {
        err_set(e, ST_INVALID, "--checkpoint: expected a checkpoint or run directory, found none "
                "(drrl-eval --help)");
        die(e, 2);
    }
    for (int i = 0; i < a->n_over; i++) {
        const char *s = a->over[i];
        if (!strncmp(s, "data.", 5) || !strncmp(s, "eval.", 5)) base_over[o->n_base_over++] = s;
        else over[o->n_over++] = s;
    }
}

int main(int argc, char **argv) {
    static CliArgs a;
    Err e;
    err_clear(&e);
    if (dist_init(&argc, &argv, &e)) die(&e, 1);
    const int lead = dist_rank() == 0; /* process 0 speaks and writes; the others compute */
    if (!lead) log_info_set(log_null());
    if (cli_parse(&SPEC, argc, argv, lead ? stdout : log_null(), &a, &e)) die(&e, 2);
    if (a.done) return dist_finalize(), 0;
    EvalOptions o;
    const char *over[MAX_OVER], *base_over[MAX_OVER];
    if (cli_forbid_key(&a, "seed", "--seed N (the bootstrap and random mode's draws)", &e))
        die(&e, 2);
    options(&a, &o, over, base_over, &e);
    if (lead && (a.print_config || a.verbosity == CLI_VERBOSE))
        if (eval_session_print_config(&o, stdout, &e)) die(&e, 1);
    if (a.print_config) return dist_finalize(), 0;
    char written[4400] = "";
    if (eval_session_run(&o, lead ? cli_info(&a) : log_null(), lead ? stdout : NULL, written,
                         sizeof written, &e))
        die(&e, 1);
    if (lead) printf("\nwrote %s\n", written);
    dist_finalize();
    return 0;
}
