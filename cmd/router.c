/* router.c: drrl-router, the supervised router baseline and its cascade, from drrl-signals'
 * per-input files.
 *
 *   drrl-router --train TRAIN/signals.tsv --dev DEV/signals.tsv [--out DIR]
 *               [--features LIST] [--lambdas LIST] [--folds K] [--rule-signal NAME]
 *               [--router FILE]
 *
 * Fits (eval/router_fit.h) for every rank of the list a ridge regression of log(KL_r + 1e-12)
 * on the standardised deployable features of the cheap pass, lambda by K-fold CV on the
 * training rows (or loads a fitted router with --router), saves it to DIR/router.txt, and
 * compares on the evaluation file the static hull, the router cascade, a one-signal threshold
 * cascade and the oracles in attention FLOPs, model FLOPs and measured latency
 * (eval/router_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/store.h"
#include "eval/router_report.h"

static const CliOpt OPTS[] = {
    {"--train", "FILE", "drrl-signals' signals.tsv on training rows (the oracle labels); required"},
    {"--dev", "FILE", "drrl-signals' signals.tsv on the evaluated split, timed (--reps); required"},
    {"--features", "LIST", "comma-separated feature columns, log:NAME for log(NAME) (default:\n"
     "head_margin_l*, log:head_entropy_l*, rownorm_mean_l*, rownorm_std_l* of every layer, log:length)"},
    {"--lambdas", "LIST", "ridge grid (default 1e-4,1e-3,1e-2,0.03,0.1,0.3,1,3,10)"},
    {"--folds", "K", "cross-validation folds (default 5)"},
    {"--rule-signal", "NAME", "the one-signal cascade's column (default head_margin_l<last layer>)"},
    {"--router", "FILE", "apply this fitted router (router.txt) instead of fitting"},
};
static const CliSpec SPEC = {
    .prog = "drrl-router",
    .synopsis = "drrl-router --train FILE --dev FILE [--out DIR] [--features LIST]\n"
                "       [--lambdas LIST] [--folds K] [--rule-signal NAME] [--router FILE]",
    .about = "The supervised router: per rank a ridge regression of log KL on the cheap pass's\n"
             "deployable features, fitted on training rows; its cascade (cheap pass, re-run at\n"
             "the cheapest rank predicted within a KL budget) against the static hull, a\n"
             "one-signal threshold cascade and the oracles, in attention FLOPs, model FLOPs and\n"
             "measured latency.",
    .opts = OPTS,
    .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .common = CLI_OUT,
    .out_help = "where router.txt, cv.csv, compare.csv, compare.md and frontier.csv go\n"
                "(default runs/router)",
};

static void die(const Err *e, int code) {
    fprintf(stderr, "drrl-router: error: %s\n", e->msg);
    exit(code);
}

/* the default features: every layer's head margin, log head entropy, row norm mean and std,
   and log length (L from the file's head_margin_l<l> columns) */
static void features_default(Router *rt, const RouterData *d) {
    static const char *const fam[4] = {"head_margin_l", "log:head_entropy_l", "rownorm_mean_l",
                                       "rownorm_std_l"};
    int L = 0;
    char nm[ROUTER_NAME];
    for (;; L++) {
        snprintf(nm, sizeof nm, "head_margin_l%d", L);
        if (!router_data_col(d, nm)) break;
    }
    rt->P = 0;
    for (int f = 0; f < 4; f++)
        for (int l = 0; l < L && rt->P < ROUTER_MAX_FEAT - 1; l++)
            snprintf(rt->feat[rt->P++], ROUTER_NAME, "%s%d", fam[f], l);
    snprintf(rt->feat[rt->P++], ROUTER_NAME, "log:length");
}

static Status features_parse(Router *rt, const char *list, Err *e) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    rt->P = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (rt->P == ROUTER_MAX_FEAT || strlen(t) >= ROUTER_NAME)
            return err_set(e, ST_INVALID, "--features: expected at most %d names of at most %d "
                           "characters, found '%s'", ROUTER_MAX_FEAT, ROUTER_NAME - 1, t);
        snprintf(rt->feat[rt->P++], ROUTER_NAME, "%s", t);
    }
    return rt->P ? ST_OK : err_set(e, ST_INVALID, "--features: expected names, found ''");
}

static Status lambdas_parse(Router *rt, const char *list, Err *e) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    rt->nl = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        char *end;
        const double v = strtod(t, &end);
        if (*end || !(v > 0) || rt->nl == ROUTER_MAX_LAMBDAS)
            return err_set(e, ST_INVALID, "--lambdas: expected at most %d positive numbers, "
                           "found '%s'", ROUTER_MAX_LAMBDAS, t);
        rt->lambdas[rt->nl++] = v;
    }
    return rt->nl ? ST_OK : err_set(e, ST_INVALID, "--lambdas: expected numbers, found ''");
}

int main(int argc, char **argv) {
    CliArgs c;
    Err e;
    err_clear(&e);
    if (cli_parse(&SPEC, argc, argv, stdout, &c, &e)) die(&e, 2);
    if (c.done) return 0;
    const char *train = cli_get(&SPEC, &c, "--train"), *dev = cli_get(&SPEC, &c, "--dev");
    const char *feats = cli_get(&SPEC, &c, "--features"), *lams = cli_get(&SPEC, &c, "--lambdas");
    const char *sig = cli_get(&SPEC, &c, "--rule-signal"), *in = cli_get(&SPEC, &c, "--router");
    const char *dir = c.out ? c.out : "runs/router";
    long folds = 5;
    if (!train || !dev) {
        err_set(&e, ST_INVALID, "--train and --dev: expected two signals.tsv files, found %s",
                train ? "no --dev" : "no --train");
        die(&e, 2);
    }
    static Router rt;
    if (cli_int(&SPEC, &c, "--folds", 2, 1000, &folds, &e)) die(&e, 2);
    if (lambdas_parse(&rt, lams ? lams : "1e-4,1e-3,1e-2,0.03,0.1,0.3,1,3,10", &e)) die(&e, 2);
    if (feats && features_parse(&rt, feats, &e)) die(&e, 2);
    static RouterData tr, dv;
    if (router_data_load(&tr, train, &e) || router_data_load(&dv, dev, &e)) die(&e, 1);
    if (!feats) features_default(&rt, &tr);
    char sigbuf[ROUTER_NAME], path[4096], cmdline[2048] = "drrl-router";
    int L = 0;
    while (snprintf(sigbuf, sizeof sigbuf, "head_margin_l%d", L), router_data_col(&tr, sigbuf)) L++;
    snprintf(sigbuf, sizeof sigbuf, "head_margin_l%d", L > 0 ? L - 1 : 0);
    for (int i = 1; i < argc; i++) {
        const size_t k = strlen(cmdline);
        snprintf(cmdline + k, sizeof cmdline - k, " %s", argv[i]);
    }
    rt.folds = (int)folds;
    Status s = in ? router_load(&rt, in, &e) : router_fit(&rt, &tr, &e);
    if (!s) s = store_mkdirs(dir, &e);
    snprintf(path, sizeof path, "%s/router.txt", dir);
    if (!s) s = router_save(&rt, path, &e);
    RouterReportInfo ri = {.cmdline = cmdline, .train = train, .dev = dev,
                           .rule_signal = sig ? sig : sigbuf};
    if (!s) s = router_report(&rt, &tr, &dv, &ri, dir, stdout, &e);
    if (s) die(&e, s == ST_INVALID ? 2 : 1);
    printf("drrl-router: %d features, %d ranks, %d training rows, %d evaluated; wrote %s/router.txt, "
           "cv.csv, compare.csv, compare.md, frontier.csv\n", rt.P, rt.nr, tr.n, dv.n, dir);
    router_data_free(&tr), router_data_free(&dv);
    return 0;
}
