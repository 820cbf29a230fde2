/* base.c: drrl-base, the frozen model's program: train the BERT-style classifier (SST-2 with
 * WordPiece, byte-level IMDB, or the generated associative-recall task: data.format), or
 * evaluate a saved one at full rank.
 *
 *   drrl-base [--config FILE.yaml] [--resume CKPT|DIR] [--out DIR] [KEY=VALUE ...]   train
 *   drrl-base --eval MODEL.h5 [--split dev|test|train] [--out DIR] [KEY=VALUE ...]
 *
 * Training (pipeline/base_train.h) prints progress and dev accuracy, writes RUN_DIR/model.h5
 * (best dev model), RUN_DIR/checkpoint.h5 and RUN_DIR/metrics.csv, then evaluates the best
 * model; --out DIR is run.dir=DIR. --eval (pipeline/base_run.h) reads the config stored in
 * the model file (overridable), checks the vocabulary's hash against the model's and prints
 * accuracy, confusion and examples/s; with --out DIR it writes the predictions to
 * DIR/SST-2.tsv (GLUE's file), DIR/IMDB.tsv or DIR/RECALL.tsv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "pipeline/base_config.h"
#include "pipeline/base_run.h"
#include "pipeline/base_train.h"

static const CliOpt OPTS[] = {
    {"--resume", "CKPT", "continue a training in its directory: RUN_DIR (its checkpoint.h5) or\n"
     "RUN_DIR/checkpoint.h5; the config is the checkpoint's (or --config's), and only the\n"
     "run-control keys may differ from it (train.max_steps, train.log_every,\n"
     "train.checkpoint_every, train.eval_every, eval.batch, train.max_nonfinite;\n"
     "docs/cli.md)"},
    {"--eval", "MODEL.h5", "evaluate a saved model instead of training"},
    {"--force", NULL, "start a new run in a run directory holding another run's files, moving\n"
     "them into RUN_DIR/replaced-DATE/ first (without it, that is an error)"},
    {"--split", "SPLIT", "with --eval: dev (default), test or train"},
    {"--limit", "N", "with --eval: only the split's first N reviews (IMDB; a language model's\n"
     "stream is made of them) or sentences (0: all, the default)"},
};
static const ConfigSchema *const SCHEMAS[] = {&base_schema};
static const CliSpec SPEC = {
    .prog = "drrl-base",
    .synopsis = "drrl-base [--config FILE.yaml] [--resume CKPT|DIR] [--out DIR] [KEY=VALUE ...]\n"
                "       drrl-base --eval MODEL.h5 [--split dev|test|train] [--limit N] [--out DIR] "
                "[KEY=VALUE ...]",
    .about = "Trains the frozen classifier (BERT-style encoder; SST-2 with WordPiece, byte-level\n"
             "IMDB or the generated associative-recall task) into RUN_DIR:\n"
             "model.h5 (best dev model), checkpoint.h5, metrics.csv; or\n"
             "evaluates a saved one (data.max_len=N evaluates a conv-position model at N).\n"
             "Without --config the embedded defaults (= configs/sst2-base.yaml) are used.",
    .opts = OPTS, .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .common = CLI_CONFIG | CLI_OVERRIDES | CLI_PRINT_CONFIG | CLI_SEED | CLI_OUT,
    .seed_help = "seed of every random stream (the config's seed)",
    .verbose_help = "training: also print the resolved config at start",
    .out_help = "training: the run directory (run.dir=DIR); --eval: writes the\n"
                "predictions to DIR/SST-2.tsv (GLUE's file), DIR/IMDB.tsv or DIR/RECALL.tsv",
    .schemas = SCHEMAS, .n_schemas = 1,
};

static void die(const Err *e, int code) {
    fprintf(stderr, "drrl-base: error: %s\n", e->msg);
    exit(code);
}

/* evaluate: --eval MODEL */
static int evaluate(const CliArgs *a, const char *model, Err *e) {
    const char *split = "dev";
    if (cli_choice(&SPEC, a, "--split", "dev|test|train", &split, e)) die(e, 2);
    long limit = 0;
    if (cli_int(&SPEC, a, "--limit", 0, 1L << 30, &limit, e)) die(e, 2);
    char written[CONFIG_STR_MAX + 64] = "";
    if (base_run_eval(model, split, (int)limit, a->out, a->over, a->n_over, stdout, written,
                      sizeof written, e))
        die(e, 1);
    if (*written) printf("wrote %s\n", written);
    return 0;
}

int main(int argc, char **argv) {
    CliArgs a;
    Err e;
    err_clear(&e);
    if (cli_parse(&SPEC, argc, argv, stdout, &a, &e)) die(&e, 2);
    if (a.done) return 0;
    const char *model = cli_get(&SPEC, &a, "--eval"), *resume = cli_get(&SPEC, &a, "--resume");
    if (cli_exclusive(&SPEC, &a, "--eval", "--resume", &e)) die(&e, 2);
    if (!model && (cli_get(&SPEC, &a, "--split") || cli_get(&SPEC, &a, "--limit"))) {
        err_set(&e, ST_INVALID, "%s: expected --eval MODEL.h5 with it, found none",
                cli_get(&SPEC, &a, "--split") ? "--split" : "--limit");
        die(&e, 2);
    }
    /* --out is the run directory when training, the predictions' folder with --eval */
    if (cli_push_common(&a, "seed", model ? NULL : "run.dir", &e)) die(&e, 2);
    if (model && (a.config || a.print_config)) {
        err_set(&e, ST_INVALID, "%s: expected no config with --eval (the model file stores its "
                "own; KEY=VALUE overrides it), found one", a.config ? "--config" : "--print-config");
        die(&e, 2);
    }
    if (model) return evaluate(&a, model, &e);
    BaseConfig c;
    char *yaml = NULL;
    char ckpt[4096];
    if (base_run_config(a.config, resume, a.over, a.n_over, &c, &yaml, ckpt, sizeof ckpt,
                        cli_info(&a), &e))
        die(&e, 1);
    const char *src = a.config ? a.config : resume ? ckpt : "the embedded defaults";
    if (a.print_config || a.verbosity == CLI_VERBOSE) printf("# resolved config (%s)\n%s\n", src, yaml);
    if (a.print_config) {
        free(yaml);
        return 0;
    }
    char cwd[4096];
    fprintf(cli_info(&a), "config: %s, run directory %s (relative paths are from %s; --verbose "
            "prints the config resolved)\n", src, c.run.dir, getcwd(cwd, sizeof cwd) ? cwd : "?");
    fflush(stdout);
    int interrupted = 0;
    int force = cli_get(&SPEC, &a, "--force") != NULL;
    if (base_train(&c, yaml, resume ? ckpt : NULL, force, &interrupted, &e))
        die(&e, 1);
    free(yaml);
    if (interrupted) return 128 + interrupted; /* as a shell reports a signal */
    char path[CONFIG_STR_MAX + 16];
    snprintf(path, sizeof path, "%s/model.h5", c.run.dir);
    printf("\nevaluating the best model:\n");
    if (base_run_eval(path, "dev", 0, NULL, NULL, 0, stdout, NULL, 0, &e)) die(&e, 1);
    printf("wrote %s/model.h5 (best dev model), %s/checkpoint.h5, %s/metrics.csv\n", c.run.dir,
           c.run.dir, c.run.dir);
    return 0;
}
