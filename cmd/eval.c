/* eval.c: drrl-eval, the comparison table of attention modes on GLUE SST-2 (issue 6) or
 * byte-level IMDB (issue 7).
 *
 *   drrl-eval --checkpoint CKPT.h5|RUN_DIR [--config X.yaml] [--split dev|test]
 *             [--modes full,static:8,...,policy] [--out DIR] [--seed N] [--batch B]
 *             [--reps R] [--resamples N] [--predictions] [--min-bytes K | --join L] [--rows K]
 *             [key.path=value ...]
 *
 * The checkpoint (drrl-train, pipeline/train_ckpt.h; a run directory means its newest one) brings
 * the train config (or --config replaces it; key=value overrides it; data.* and eval.* keys
 * override the frozen model's stored config instead), the policy and the latency table. The
 * frozen model and the factors are the config's (the checkpoint must have been trained on
 * that very model file: its SHA-256 is compared). Every mode (eval/eval_modes.h) runs over the
 * split (eval/eval_run.h) and is compared with full (eval/eval_stats.h); the table goes to
 * stdout, eval.csv and eval.json (eval_test.* for --split test) to DIR (default: the
 * checkpoint's directory), with a GLUE prediction file per mode for the test split (and for
 * dev with --predictions): DIR/SST-2.MODE.tsv or DIR/dev.MODE.tsv, ':' in MODE written '-'
 * and '/' '_',
 * the policy's ranks per sentence and layer in DIR/policy_ranks.tsv (the heat map's data;
 * scripts/plot_eval.py draws the pictures) and every mode's KL per sentence in
 * DIR/per_input.tsv (scripts/oracle.py: what a per-input choice among the modes could gain).
 * IMDB models (data.format: imdb) work the same way: data.max_len=N evaluates a conv-position
 * model at N bytes (a note says when the latency table's buckets stop short of N;
 * latency.file=FILE gives another table), --min-bytes K keeps the reviews of at least K bytes
 * (--rows K: the first K of them),
 * --join L replaces the test reviews by inputs of exactly L bytes joined from consecutive
 * same-label test reviews (--rows K: at most K; the length sweep's inputs, data/imdb.h);
 * test prediction files are DIR/IMDB.MODE.tsv.
 * Bad input is an error before anything runs; files are written only at the end. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "eval/eval_modes.h"
#include "eval/eval_report.h"
#include "eval/eval_run.h"
#include "eval/eval_stats.h"
#include "eval/eval_policy.h"
#include "nn/logits.h"
#include "pipeline/train_config.h"
#include "pipeline/train_env.h"

#define MAX_OVER 128
#define MAX_M 1024

static void die(const Err *e) {
    fprintf(stderr, "drrl-eval: error: %s\n", e->msg);
    exit(1);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: drrl-eval --checkpoint CKPT.h5|RUN_DIR [--config X.yaml] [--split dev|test]\n"
            "                 [--modes LIST] [--out DIR] [--seed N] [--batch B] [--reps R]\n"
            "                 [--resamples N] [--predictions] [--min-bytes K | --join L] [--rows K]\n"
            "                 [key.path=value ...]\n"
            "Evaluates the frozen model on SST-2 under each attention mode and compares it with\n"
            "full rank: accuracy (bootstrap CI), agreement, KL, logit margin, McNemar, FLOPs,\n"
            "latency, ranks per layer and guardrail statistics. Modes: full, static:r,\n"
            "static-plain:r|auto, random, nystrom:m, performer:m, policy (default: all, with\n"
            "every grid rank and m = 8, 16, 32). Writes DIR/eval.csv and DIR/eval.json (DIR:\n"
            "--out, default the checkpoint's directory); --split test writes eval_test.* and a\n"
            "GLUE prediction file per mode (DIR/SST-2.MODE.tsv); --predictions does so for dev.\n"
            "key=value overrides the train config, data.* and eval.* the model's config\n"
            "(data.max_len=N evaluates a conv-position model at N tokens); latency.file=FILE\n"
            "replaces the checkpoint's latency table. --min-bytes K (IMDB models): only the\n"
            "reviews of at least K bytes (full length, before truncation; --rows K: the first K\n"
            "of them). --join L (IMDB models, test split): inputs of exactly L bytes joined from\n"
            "consecutive same-label test reviews instead (at most --rows K of them), the long\n"
            "inputs of the length sweep. Per-layer static ranks: static:32/8 (one per layer).\n");
}

static double sum(const double *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return s;
}

/* median of n values (copied) */
static double median_of(const double *x, int n) {
    double *c = malloc(sizeof(double) * (size_t)n);
    if (!c) return NAN;
    memcpy(c, x, sizeof(double) * (size_t)n);
    const double m = time_median(c, n);
    free(c);
    return m;
}

typedef struct {
    const char *ckpt_arg, *cfg_path, *split, *modes, *out;
    int seed, batch, reps, resamples, predictions, min_bytes, join, join_rows;
    const char *latency_file; /* latency.file=X given here: that table instead of the checkpoint's */
    const char *over[MAX_OVER], *base_over[MAX_OVER];
    int n_over, n_base_over;
} Args;

static int parse_int_arg(const char *s, int lo, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > 1 << 30) return 0;
    *out = (int)v;
    return 1;
}

static Args parse_args(int argc, char **argv) {
    Args a = {.split = "dev", .seed = 1, .reps = 3, .resamples = 2000};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const int more = i + 1 < argc;
        int ok = 1;
        if (!strcmp(s, "--checkpoint") && more) a.ckpt_arg = argv[++i];
        else if (!strcmp(s, "--config") && more) a.cfg_path = argv[++i];
        else if (!strcmp(s, "--split") && more) a.split = argv[++i];
        else if (!strcmp(s, "--modes") && more) a.modes = argv[++i];
        else if (!strcmp(s, "--out") && more) a.out = argv[++i];
        else if (!strcmp(s, "--seed") && more) ok = parse_int_arg(argv[++i], 0, &a.seed);
        else if (!strcmp(s, "--batch") && more) ok = parse_int_arg(argv[++i], 1, &a.batch);
        else if (!strcmp(s, "--reps") && more) ok = parse_int_arg(argv[++i], 1, &a.reps);
        else if (!strcmp(s, "--resamples") && more) ok = parse_int_arg(argv[++i], 1, &a.resamples);
        else if (!strcmp(s, "--min-bytes") && more) ok = parse_int_arg(argv[++i], 1, &a.min_bytes);
        else if (!strcmp(s, "--join") && more) ok = parse_int_arg(argv[++i], 1, &a.join);
        else if (!strcmp(s, "--rows") && more) ok = parse_int_arg(argv[++i], 1, &a.join_rows);
        else if (!strcmp(s, "--predictions")) a.predictions = 1;
        else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            usage(stdout);
            exit(0);
        } else if (s[0] != '-' && strchr(s, '=') && a.n_over + a.n_base_over < MAX_OVER) {
            if (!strncmp(s, "data.", 5) || !strncmp(s, "eval.", 5)) a.base_over[a.n_base_over++] = s;
            else a.over[a.n_over++] = s;
            if (!strncmp(s, "latency.file=", 13)) a.latency_file = s + 13;
        } else ok = 0;
        if (!ok) {
            fprintf(stderr, "drrl-eval: error: unknown, incomplete or invalid argument '%s'\n", s);
            usage(stderr);
            exit(2);
        }
    }
    if ((a.join && a.min_bytes) || (a.join_rows && !a.join && !a.min_bytes)) {
        fprintf(stderr, "drrl-eval: error: %s\n", a.join_rows && !a.join && !a.min_bytes
                ? "--rows: expected with --join or --min-bytes (it limits their inputs)"
                : "--join and --min-bytes: expected one of them, found both");
        usage(stderr);
        exit(2);
    }
    if (!a.ckpt_arg || (strcmp(a.split, "dev") && strcmp(a.split, "test"))) {
        fprintf(stderr, "drrl-eval: error: %s\n",
                a.ckpt_arg ? "--split: expected dev or test" : "--checkpoint is required");
        usage(stderr);
        exit(2);
    }
    return a;
}

/* a note when the latency table does not reach the evaluated length: a layer longer than the
   largest bucket is charged that bucket's latency (attention/latency.h) */
static void latency_note(const LatencyTable *lt, const EncodedSet *set) {
    if (!lt || lt->n_buckets < 1) return;
    int longest = 0;
    for (int i = 0; i < set->n; i++) longest = set->len[i] > longest ? set->len[i] : longest;
    const int top = lt->buckets[lt->n_buckets - 1];
    if (longest > top)
        fprintf(stderr, "drrl-eval: note: the latency table's largest bucket is N=%d but rows "
                "reach %d tokens: longer layers are charged the N=%d latency (latency.file=FILE "
                "gives a table measured with larger buckets, e.g. by drrl-bench --calibrate)\n",
                top, longest, top);
}

/* the environments of the fixed modes: unguarded (epsilon beyond any bound), kind k */
static void fixed_env(RankEnv *E, const TrainEvalParts *p, const LatencyTable *lt, RankKind k,
                      Err *e) {
    RankEnvConfig ec = p->env->c;
    ec.epsilon = DBL_MAX, ec.kind = k;
    if (rankenv_init(E, p->R, p->set, lt, &ec, e)) die(e);
}

/* the table row of mode m: its outputs o compared with full's, and its costs */
static void make_row(EvalRow *r, const EvalMode *m, const EvalModeOut *o, const EvalModeOut *full,
                     const EncodedSet *set, const EvalBatches *bt, int K, int L, const Args *a,
                     uint8_t *correct, uint8_t *flags, Err *e) {
    memset(r, 0, sizeof *r);
    snprintf(r->mode, sizeof r->mode, "%s", m->name);
    EvalCompare c;
    eval_compare(full->logits, o->logits, set->label, set->n, K, correct, &c);
    r->n = c.n, r->n_labeled = c.n_labeled, r->correct = c.correct, r->agree = c.agree;
    r->accuracy = c.accuracy, r->agreement = c.agreement, r->kl_mean = c.kl_mean;
    r->dmargin = c.dmargin, r->mc_b = c.b, r->mc_c = c.c;
    r->ci_low = r->ci_high = r->mcnemar_p = NAN;
    if (c.n_labeled) {
        int k = 0;
        for (int i = 0; i < set->n; i++)
            if (set->label[i] >= 0) flags[k++] = correct[i];
        if (eval_bootstrap_ci(flags, k, a->resamples, 0.95, (uint64_t)a->seed, &r->ci_low,
                              &r->ci_high, NULL, e))
            die(e);
        r->mcnemar_p = eval_mcnemar_p(c.b, c.c);
    }
    r->attn_flops = o->attn_flops, r->model_flops = o->model_flops;
    r->attn_flops_ratio = (double)o->attn_flops / (double)full->attn_flops;
    r->model_flops_ratio = (double)o->model_flops / (double)full->model_flops;
    const double tot = sum(o->sec, bt->n_batches);
    r->latency_ms = 1e3 * median_of(o->sec, bt->n_batches);
    r->latency_ratio = tot / sum(full->sec, bt->n_batches);
    r->ex_per_s = tot > 0 ? set->n / tot : NAN;
    r->attn_ms = 1e3 * median_of(o->attn_sec, bt->n_batches);
    r->attn_ratio = sum(o->attn_sec, bt->n_batches) / sum(full->attn_sec, bt->n_batches);
    r->policy_ms = m->kind == EVAL_POLICY ? 1e3 * median_of(o->policy_sec, bt->n_batches) : NAN;
    for (int l = 0; l < BERT_MAX_LAYERS; l++) r->rank_layer[l] = o->env && l < L ? o->rank_layer[l] : NAN;
    /* the environment's statistics exist for weight-level modes only */
    const int v = o->env;
    r->fidelity = v ? o->fidelity : NAN, r->rel_err = v ? o->rel_err : NAN;
    r->bound = v ? o->bound : NAN, r->full_share = v ? o->full_share : NAN;
    r->over_eps = v ? o->over_eps : NAN, r->lat_est = v ? o->lat_est : NAN;
    r->violations = v ? (double)o->violations : NAN, r->replay_diff = v ? o->replay_diff : NAN;
    r->mask_rate = m->kind == EVAL_POLICY ? o->masked : NAN; /* the others run unguarded */
}

/* the policy's mean rank per head over each sentence's real segments, (n, L); full = dh */
static double *policy_ranks(const EvalModeOut *o, const EncodedSet *set, int L, int S, int T,
                            int dh) {
    double *r = malloc(sizeof(double) * (size_t)set->n * L);
    if (!r) {
        fprintf(stderr, "drrl-eval: error: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < set->n; i++) {
        int ns = ranked_segments(set->len[i], T);
        ns = ns < S ? ns : S;
        for (int l = 0; l < L; l++) {
            double m = 0;
            for (int sg = 0; sg < ns; sg++) {
                const int v = o->rank[((size_t)i * L + l) * S + sg];
                m += v == RANKED_FULL ? dh : v;
            }
            r[(size_t)i * L + l] = m / ns;
        }
    }
    return r;
}

int main(int argc, char **argv) {
    Args a = parse_args(argc, argv);
    Err e;
    err_clear(&e);
    static EvalCkpt k;
    EvalCkptArgs ka = {.arg = a.ckpt_arg, .cfg_path = a.cfg_path, .over = a.over,
                       .n_over = a.n_over, .latency_file = a.latency_file};
    if (eval_ckpt_open(&k, &ka, &e)) die(&e);
    static TrainConfig c;
    c = k.c;
    const char *ckpt = k.path;
    const int has_lt = k.has_lt;
    /* the modes, checked against the grid before anything heavy runs */
    static EvalMode modes[EVAL_MAX_MODES];
    int nm = 0;
    if (eval_modes_parse(a.modes, c.env.ranks.v, c.env.ranks.n, MAX_M, modes, &nm, &e)) die(&e);
    int pol = -1, has_plain = 0, fi = -1;
    for (int i = 0; i < nm; i++) {
        if (modes[i].kind == EVAL_POLICY) pol = i;
        if (modes[i].kind == EVAL_FULL) fi = i;
        has_plain |= modes[i].kind == EVAL_PLAIN;
    }
    printf("# drrl-eval: checkpoint %s, %s split, %d modes\n", ckpt, a.split, nm);

    static TrainEnv t;
    TrainEvalOptions eo = {.split = a.split, .batch = a.batch,
                           .max_m = eval_modes_max_m(modes, nm), .lt = has_lt ? &k.lt : NULL,
                           .base_over = a.base_over, .n_base_over = a.n_base_over,
                           .min_bytes = a.min_bytes, .join = a.join, .join_rows = a.join_rows};
    if (train_env_init_eval(&t, &c, &eo, &e)) die(&e);
    TrainEvalParts p;
    train_env_eval_parts(&t, &p);
    if (eval_modes_check_layers(modes, nm, p.R->L, &e)) die(&e);
    if (a.min_bytes > 0)
        printf("--min-bytes %d: %d %s reviews of at least %d bytes\n", a.min_bytes, p.set->n,
               a.split, a.min_bytes);
    latency_note(t.has_lt ? &t.lt : NULL, p.set);
    /* the policy: restored from the checkpoint, which must come from this very base model */
    static Agent A;
    double trained_s = 0;
    if (eval_policy_load(&A, &k, &t, &trained_s, &e)) die(&e);
    printf("policy: %zu parameters, trained %lld iterations (%.0f s); guardrail epsilon %g\n",
           policy_n_params(A.pi), (long long)A.iteration, trained_s, c.env.epsilon);

    static RankEnv Ew, Ep;
    const LatencyTable *ltp = t.has_lt ? &t.lt : NULL;
    fixed_env(&Ew, &p, ltp, RANK_WHITENED, &e);
    if (has_plain) fixed_env(&Ep, &p, ltp, RANK_PLAIN, &e);
    EvalCtx x = {.R = p.R, .set = p.set, .guarded = p.env, .white = &Ew,
                 .plain = has_plain ? &Ep : NULL, .A = &A, .epsilon = c.env.epsilon,
                 .reps = a.reps};
    EvalBatches bt;
    if (eval_batches_make(&bt, p.set, p.env->B, &e)) die(&e);
    const int n = p.set->n, K = p.R->K, L = p.R->L, S = p.env->S, T = p.env->c.T;
    static EvalModeOut outs[EVAL_MAX_MODES];
    for (int i = 0; i < nm; i++)
        if (eval_out_init(&outs[i], n, K, L, S, bt.n_batches, &e)) die(&e);

    /* decisions: the policy first (random and static-plain:auto follow its ranks) */
    int32_t *assigned = malloc(sizeof(int32_t) * (size_t)n * L * S); /* (n, L, S) random */
    if (!assigned) {
        fprintf(stderr, "drrl-eval: error: out of memory\n");
        return 1;
    }
    double t0 = time_now();
    if (pol >= 0) {
        if (eval_decide(&x, &bt, &modes[pol], NULL, &outs[pol], &e)) die(&e);
        double mr = 0;
        for (int l = 0; l < L; l++) mr += outs[pol].rank_layer[l] / L;
        eval_modes_resolve_auto(modes, nm, mr, c.env.ranks.v, c.env.ranks.n);
        printf("policy: mean rank %.2f per head; decided in %.1f s\n", mr, time_now() - t0);
    }
    if (eval_random_ranks(pol >= 0 ? &outs[pol] : NULL, p.set, L, S, T, c.env.ranks.v,
                          c.env.ranks.n, (uint64_t)a.seed, assigned, &e))
        die(&e);
    for (int i = 0; i < nm; i++) {
        if (i == pol || !eval_mode_env(&modes[i])) continue;
        const double t1 = time_now();
        if (eval_decide(&x, &bt, &modes[i], assigned, &outs[i], &e)) die(&e);
        printf("%s: environment pass %.1f s\n", modes[i].name, time_now() - t1);
        fflush(stdout);
    }
    const double t2 = time_now();
    if (eval_time(&x, &bt, modes, outs, nm, &e)) die(&e);
    printf("timed forwards: %d rounds x %d batches x %d modes in %.1f s\n", a.reps,
           bt.n_batches, nm, time_now() - t2);

    /* statistics and outputs */
    static EvalRow rows[EVAL_MAX_MODES];
    uint8_t *correct = malloc((size_t)n), *flags = malloc((size_t)n);
    int32_t *pred_store = malloc(sizeof(int32_t) * (size_t)n * nm); /* (modes, n) by set row */
    int32_t *pred[EVAL_MAX_MODES];
    if (!correct || !flags || !pred_store) {
        fprintf(stderr, "drrl-eval: error: out of memory\n");
        return 1;
    }
    const int test = !strcmp(a.split, "test");
    for (int i = 0; i < nm; i++) {
        make_row(&rows[i], &modes[i], &outs[i], &outs[fi], p.set, &bt, K, L, &a, correct,
                 flags, &e);
        pred[i] = pred_store + (size_t)i * n;
        for (int r = 0; r < n; r++) pred[i][r] = logits_argmax(outs[i].logits + (size_t)r * K, K);
        if (test || a.predictions) {
            char nm_[32];
            snprintf(nm_, sizeof nm_, "%s", modes[i].name);
            for (char *q = nm_; *q; q++) *q = *q == ':' ? '-' : *q == '/' ? '_' : *q;
            snprintf(rows[i].pred_file, sizeof rows[i].pred_file, "%s.%s.tsv",
                     !test ? "dev" : base_is_imdb(p.base) ? "IMDB" : "SST-2", nm_);
        }
        if (outs[i].replay_diff > 0)
            fprintf(stderr, "drrl-eval: note: %s: the timed forward's logits differ from the "
                    "environment's pass by up to %.3g\n", modes[i].name, outs[i].replay_diff);
    }
    const int nl = rows[fi].n_labeled;
    EvalInfo info = {.checkpoint = ckpt, .model = c.env.model, .model_sha256 = t.model_sha256,
                     .split = a.split, .n = n, .n_labeled = nl, .batch = p.env->B,
                     .reps = a.reps, .resamples = a.resamples, .layers = L,
                     .head_size = p.R->dh, .n_grid = c.env.ranks.n, .grid = c.env.ranks.v,
                     .epsilon = c.env.epsilon, .level = 0.95, .seed = (uint64_t)a.seed};
    eval_report_table(stdout, &info, rows, nm);
    char dir[4096];
    if (a.out) snprintf(dir, sizeof dir, "%s", a.out);
    else {
        const char *slash = strrchr(ckpt, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - ckpt) : 1, slash ? ckpt : ".");
    }
    double *rk = pol >= 0 ? policy_ranks(&outs[pol], p.set, L, S, T, p.R->dh) : NULL;
    EvalRanks er = {n, L, p.set->index, p.set->len, rk};
    double *kl = malloc(sizeof(double) * (size_t)nm * n); /* (modes, n) per-input KL */
    double *pf = malloc(sizeof(double) * (size_t)n);       /* (n) full's top probability */
    if (!kl || !pf) {
        fprintf(stderr, "drrl-eval: error: out of memory\n");
        return 1;
    }
    for (int i = 0; i < nm; i++)
        for (int r = 0; r < n; r++)
            kl[(size_t)i * n + r] = logits_kl(outs[fi].logits + (size_t)r * K,
                                              outs[i].logits + (size_t)r * K, K);
    for (int r = 0; r < n; r++) pf[r] = logits_top_prob(outs[fi].logits + (size_t)r * K, K);
    EvalPerInput per = {n, nm, p.set->index, p.set->len, p.set->label, pf, rows, kl};
    if (eval_report_write(dir, &info, rows, nm, p.set->index, pred, n, rk ? &er : NULL, &per,
                          &e))
        die(&e);
    free(rk), free(kl), free(pf);
    printf("\nwrote %s/%s, %s/%s, %s/%s%s\n", dir, test ? "eval_test.csv" : "eval.csv", dir,
           test ? "eval_test.json" : "eval.json", dir,
           test ? "per_input_test.tsv" : "per_input.tsv",
           test || a.predictions ? " and one prediction file per mode" : "");
    free(correct), free(flags), free(pred_store), free(assigned);
    for (int i = 0; i < nm; i++) eval_out_free(&outs[i]);
    eval_batches_free(&bt);
    if (has_plain) rankenv_free(&Ep);
    rankenv_free(&Ew);
    agent_free(&A);
    train_env_free(&t);
    return 0;
}
