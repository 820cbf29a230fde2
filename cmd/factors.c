/* factors.c: drrl-factors, the weight-level factors of a frozen model and what they cost and
 * keep, printed as Markdown tables.
 *
 *   drrl-factors --model MODEL.h5 [--calib N] [--factors FILE.h5] [--ranks 4,8,16,32]
 *                [--m 8,16,32] [--split dev|train|test] [--batch B] [--seed N] [KEY=VALUE ...]
 *
 * Computes the plain and whitened factors of every layer (whitened: calibrated on the first
 * N training sentences, default 2048), caches them in FILE.h5 (default MODEL.factors.h5,
 * keyed by the model file's SHA-256: a second run loads them), then prints
 *   - per layer and rank, the energy retained by plain and whitened factors (QK and VO);
 *   - over the split, for each rank with all layers at that rank, plain and whitened:
 *     accuracy, agreement with the full model's predictions, mean KL(p_full || p_r), mean
 *     |change of logit margin|, attention and model FLOPs ratios vs exact, and the tight
 *     perturbation bound (relative Frobenius) vs the measured relative error of each layer's
 *     attention output: median tightness and violations (which must be 0);
 *   - Nystrom and Performer at m in --m, same columns without the bound.
 * The data paths, vocabulary and max_len come from the config stored in the model file
 * (KEY=VALUE overrides it, checked against drrl-base's schema). The steps are in
 * eval/factors_run.h; this file parses, calls and prints. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/timer.h"
#include "eval/factors_run.h"
#include "pipeline/base_run.h"

static const CliOpt OPTS[] = {
    {"--model", "MODEL.h5", "the frozen model (drrl-base's model.h5); required"},
    {"--factors", "FILE.h5", "the factor cache: read when it matches the model and the\n"
     "calibration, else computed and written (default MODEL.factors.h5)"},
    {"--calib", "N", "calibration sentences: the first N of data.train (default 2048)"},
    {"--ranks", "LIST", "ranks per head of plain and whitened factors (default 4,8,16,32)"},
    {"--m", "LIST", "Nystrom landmarks and Performer features (default 8,16,32)"},
    {"--split", "SPLIT", "the evaluated split: dev (default), test or train"},
    {"--batch", "B", "sentences per forward (default: the config's eval.batch)"},
};
static const ConfigSchema *const SCHEMAS[] = {&base_schema};
static const CliSpec SPEC = {
    .prog = "drrl-factors",
    .synopsis = "drrl-factors --model MODEL.h5 [--factors FILE.h5] [--calib N] [--ranks LIST]\n"
                "       [--m LIST] [--split dev|test|train] [--batch B] [--seed N] [KEY=VALUE ...]",
    .about = "Computes (or loads from the cache) the plain and whitened attention factors of a\n"
             "frozen model and prints, as Markdown: the energy they retain per layer and rank;\n"
             "over a split, all layers at one rank, accuracy, agreement, KL(p_full || p_r),\n"
             "margin change, FLOPs ratios and the perturbation bound's tightness and violations,\n"
             "with Nystrom and Performer for comparison. Reads MODEL.h5 and the data and\n"
             "vocabulary its stored config names; writes only the factor cache. Exits 1 when a\n"
             "bound is violated.",
    .opts = OPTS,
    .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .common = CLI_OVERRIDES | CLI_PRINT_CONFIG | CLI_SEED,
    .seed_help = "seed of the Performer random features (default 1)",
    .schemas = SCHEMAS,
    .n_schemas = 1,
};

typedef struct {
    FactorsOptions o;
    int ranks[FACTORS_MAX_LIST], ms[FACTORS_MAX_LIST];
    char cache[4096];
} Args;

static void die(const Err *e, int code) {
    fprintf(stderr, "drrl-factors: error: %s\n", e->msg);
    exit(code);
}

/* get_list: a comma-separated list of at most FACTORS_MAX_LIST distinct integers in [1, 4096] */
static Status get_list(const CliArgs *c, const char *flag, int *out, int *n, Err *e) {
    return cli_int_list(&SPEC, c, flag, 1, 4096, out, FACTORS_MAX_LIST, n, e);
}

/* args_get: the flags into a (defaults where absent) */
static Status args_get(Args *a, const CliArgs *c, Err *e) {
    static const int ranks[] = {4, 8, 16, 32}, ms[] = {8, 16, 32};
    memcpy(a->ranks, ranks, sizeof ranks), memcpy(a->ms, ms, sizeof ms);
    FactorsOptions *o = &a->o;
    *o = (FactorsOptions){.split = "dev", .calib_rows = RANKED_CALIB_DEFAULT_ROWS,
                          .ranks = a->ranks, .nr = 4, .ms = a->ms, .nm = 3,
                          .performer_seed = c->has_seed ? c->seed : 1, .over = c->over,
                          .n_over = c->n_over};
    long calib = o->calib_rows, batch = 0;
    o->model = cli_get(&SPEC, c, "--model");
    Status s = (o->model && *o->model) || (!o->model && c->print_config) ? ST_OK
               : err_set(e, ST_INVALID, "--model: expected a model file (drrl-factors --model "
                         "MODEL.h5), found %s", o->model ? "''" : "none");
    if (!s) s = cli_choice(&SPEC, c, "--split", "dev|test|train", &o->split, e);
    if (!s) s = cli_int(&SPEC, c, "--calib", 1, INT_MAX, &calib, e);
    if (!s) s = cli_int(&SPEC, c, "--batch", 1, 65536, &batch, e);
    if (!s) s = get_list(c, "--ranks", a->ranks, &o->nr, e);
    if (!s) s = get_list(c, "--m", a->ms, &o->nm, e);
    if (s) return s;
    o->calib_rows = (int)calib, o->batch = (int)batch;
    const char *f = cli_get(&SPEC, c, "--factors");
    if (f && !*f) return err_set(e, ST_INVALID, "--factors: expected a file name, found ''");
    if (f) snprintf(a->cache, sizeof a->cache, "%s", f);
    else if (o->model) ranked_calib_cache_path(a->cache, sizeof a->cache, o->model);
    o->cache = a->cache;
    return ST_OK;
}

static void print_header(FILE *f, const FactorsData *d, const Ranked *R, const FactorsOptions *o,
                         const RankedCalibInfo *ci) {
    fprintf(f, "# drrl-factors: %s\n\n", o->model);
    fprintf(f, "- model: %d layers, d=%d, %d heads of %d, FFN %d; sha256 %s\n", d->bc.n_layers,
            d->bc.d_model, d->bc.n_heads, d->bc.d_model / d->bc.n_heads, d->bc.d_ff, d->sha256);
    fprintf(f, "- factors: %s %s (%.2f s); calibration: first %d sentences of %s (%lld real "
            "tokens per layer), data sha256 %s, ridge %g x mean eigenvalue\n",
            ci->loaded ? "loaded from" : "computed and cached in", o->cache, ci->seconds,
            ci->rows, d->c.data.train, (long long)ci->tokens, ci->data_sha256,
            ATTN_RIDGE_DEFAULT);
    fprintf(f, "- evaluation: %s split (%d sentences), batches of up to %d, all layers at the "
            "same kernel and rank; Performer seed %llu\n", o->split, d->set.n, R->max_B,
            (unsigned long long)o->performer_seed);
    fprintf(f, "\n## Energy retained (sum of squared singular values kept, all heads of the "
            "layer)\n\n| layer | rank | QK plain | QK whitened | VO plain | VO whitened |\n"
            "| ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int l = 0; l < R->L; l++)
        for (int i = 0; i < o->nr; i++)
            fprintf(f, "| %d | %d | %.4f | %.4f | %.4f | %.4f |\n", l, o->ranks[i],
                    attn_factors_energy(&R->plain[l], ATTN_QK, -1, o->ranks[i]),
                    attn_factors_energy(&R->white[l], ATTN_QK, -1, o->ranks[i]),
                    attn_factors_energy(&R->plain[l], ATTN_VO, -1, o->ranks[i]),
                    attn_factors_energy(&R->white[l], ATTN_VO, -1, o->ranks[i]));
    fprintf(f, "\n");
    fflush(f);
}

static void print_row(FILE *f, const FactorsPass *p, const EvalRow *full) {
    const EvalRow *r = &p->row;
    char rank[32] = "full";
    if (p->kind != RANK_EXACT) snprintf(rank, sizeof rank, "%d", p->rank);
    fprintf(f, "| %s | %s | %.4f | %.4f | %.3g | %.4f | %.4f | %.4f |", factors_kind_name(p->kind),
            rank, r->accuracy, r->agreement, r->kl, r->dmargin,
            (double)r->attn_flops / full->attn_flops, (double)r->model_flops / full->model_flops);
    if (p->bound)
        fprintf(f, " %.2f | %.3g | %ld / %ld |", r->tight_median, r->rel_median, r->violations,
                r->n_bound);
    else
        fprintf(f, " - | - | - |");
    fprintf(f, " %.1f |\n", r->seconds);
}

/* print_tables: the pass table and the KL ratio plain / whitened; returns the violations */
static long print_tables(FILE *f, const FactorsPass *p, int n, const FactorsOptions *o) {
    fprintf(f, "\n## %s set: all layers at one rank vs the full model\n\n"
            "KL = mean KL(p_full || p_r) (nats); |dmargin| = mean |change of the logit margin of "
            "the full model's class|; FLOPs ratios counted by the kernels vs exact attention "
            "(attention only, and the whole model); tightness = median over (sentence, layer) of "
            "the tight bound / measured relative Frobenius error of the layer's attention output "
            "on the pass's own hidden states; violations: measured > bound (1 + 1e-5) + 1e-6.\n\n"
            "| kind | rank / m | accuracy | agreement | KL | abs dmargin | attn FLOPs ratio | "
            "model FLOPs ratio | bound tightness | measured rel. err | violations | seconds |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            o->split);
    long viol = 0;
    for (int i = 0; i < n; i++) print_row(f, &p[i], &p[0].row), viol += p[i].row.violations;
    fprintf(f, "\n## KL ratio plain / whitened at equal rank\n\n| rank | KL plain | KL whitened | "
            "ratio |\n| ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < o->nr; i++) {
        const EvalRow *pl = &p[1 + i].row, *wh = &p[1 + o->nr + i].row; /* factors_plan's order */
        fprintf(f, "| %d | %.3g | %.3g | %.1f |\n", o->ranks[i], pl->kl, wh->kl,
                wh->kl > 0 ? pl->kl / wh->kl : 0.0);
    }
    fflush(f);
    return viol;
}

/* print_config: the resolved config, with where it came from */
static void print_config(const BaseConfig *cfg, const char *src) {
    Err e;
    printf("# resolved config (%s)\n", src);
    if (config_print(&base_schema, cfg, stdout, &e)) die(&e, 1);
    fflush(stdout);
}

int main(int argc, char **argv) {
    CliArgs c;
    Args a;
    Err e;
    err_clear(&e);
    if (cli_parse(&SPEC, argc, argv, stdout, &c, &e)) die(&e, 2);
    if (c.done) return 0;
    if (cli_forbid_key(&c, "seed", "--seed N (the Performer features)", &e)) die(&e, 2);
    if (args_get(&a, &c, &e)) die(&e, 2);
    static FactorsData d;
    if (c.print_config) { /* without --model: the schema's defaults, i.e. every key */
        Status s = a.o.model ? base_run_model_config(a.o.model, c.over, c.n_over, &d.c, &e)
                             : config_load(&base_schema, &d.c, NULL, c.over, c.n_over, &e);
        if (s) die(&e, 1);
        print_config(&d.c, a.o.model ? a.o.model : "no --model: the defaults");
        return 0;
    }
    FILE *info = cli_info(&c);
    const double t0 = time_now();
    if (factors_load(&d, &a.o, &e)) die(&e, 1);
    if (factors_check(&d, &a.o, &e)) die(&e, 2);
    if (c.verbosity == CLI_VERBOSE) print_config(&d.c, a.o.model);
    else fprintf(info, "config: stored in %s, %d override(s) (--verbose prints it resolved)\n",
                 a.o.model, c.n_over);
    static Ranked R;
    RankedCalibInfo ci;
    if (factors_prepare(&R, &d, &a.o, &ci, &e)) die(&e, 1);
    print_header(info, &d, &R, &a.o, &ci);
    static FactorsPass p[FACTORS_MAX_PASSES];
    int n = factors_plan(p, &a.o, d.bc.d_model / d.bc.n_heads);
    if (factors_run(&R, &d.set, p, n, stdout, &e)) die(&e, 1);
    long viol = print_tables(info, p, n, &a.o);
    fprintf(info, "\n");
    printf("bound violations in total: %ld\n", viol);
    printf("drrl-factors: %d passes over the %s split (%d sentences) in %.1f s; factors %s %s\n",
           n, a.o.split, d.set.n, time_now() - t0, ci.loaded ? "loaded from" : "written to",
           a.o.cache);
    ranked_free(&R);
    factors_data_free(&d);
    return viol ? 1 : 0;
}
