/* eval_session.c: one drrl-eval run from options to files (see eval_session.h). */
#include "eval/eval_session.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timer.h"
#include "eval/eval_modes.h"
#include "eval/eval_policy.h"
#include "eval/eval_lm.h"
#include "eval/eval_report.h"
#include "eval/eval_run.h"
#include "eval/eval_stats.h"
#include "nn/logits.h"
#include "pipeline/base_run.h"
#include "pipeline/train_config.h"
#include "pipeline/train_env.h"

#define MAX_M 1024 /* the largest Nystrom landmark / Performer feature count */

typedef struct {
    EvalCkpt k;
    TrainConfig c;
    EvalMode modes[EVAL_MAX_MODES];
    int nm, pol, fi, has_plain; /* mode count; policy's and full's index (-1: none) */
    TrainEnv t;
    TrainEvalParts p;
    Agent A;
    Deploy D;                   /* the policy's deployed forward (timed policy mode) */
    int has_D;
    RankEnv Ew, Ep;             /* unguarded whitened / plain environments of fixed modes */
    EvalCtx x;
    EvalBatches bt;
    EvalModeOut outs[EVAL_MAX_MODES];
    EvalRow rows[EVAL_MAX_MODES];
    int32_t *assigned;          /* (n, L, S) the random mode's ranks */
    Progress prog;
    int n_env, n_outs;          /* environments / outputs initialised (for freeing) */
} Session;

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

/* open_modes: checkpoint and the mode list, checked against the grid before anything heavy */
static Status open_modes(Session *s, const EvalOptions *o, FILE *info, Err *e) {
    const char *latency_file = NULL;
    for (int i = 0; i < o->n_over; i++)
        if (!strncmp(o->over[i], "latency.file=", 13)) latency_file = o->over[i] + 13;
    EvalCkptArgs ka = {.arg = o->ckpt, .cfg_path = o->cfg_path, .over = o->over,
                       .n_over = o->n_over, .latency_file = latency_file};
    Status st = eval_ckpt_open(&s->k, &ka, e);
    if (st) return st;
    s->c = s->k.c;
    if ((st = eval_modes_parse(o->modes, s->c.env.ranks.v, s->c.env.ranks.n, MAX_M, s->modes,
                               &s->nm, e)))
        return st;
    s->pol = s->fi = -1;
    for (int i = 0; i < s->nm; i++) {
        if (s->modes[i].kind == EVAL_POLICY) s->pol = i;
        if (s->modes[i].kind == EVAL_FULL) s->fi = i;
        s->has_plain |= s->modes[i].kind == EVAL_PLAIN;
    }
    fprintf(info, "# drrl-eval: checkpoint %s, %s split, %d modes\n", s->k.path, o->split, s->nm);
    return ST_OK;
}

/* fixed_env: an environment of the fixed modes: unguarded (epsilon beyond any bound), kind k */
static Status fixed_env(Session *s, RankEnv *E, RankKind k, Err *e) {
    RankEnvConfig ec = s->p.env->c;
    ec.epsilon = DBL_MAX, ec.kind = k;
    Status st = rankenv_init(E, s->p.R, s->p.set, s->t.has_lt ? &s->t.lt : NULL, &ec, e);
    if (!st) s->n_env++;
    return st;
}

/* decoder_modes: on a causal decoder, the modes it can run (eval_lm_modes), then the policy
   and full indices again */
static Status decoder_modes(Session *s, const EvalOptions *o, FILE *info, Err *e) {
    Status st = eval_lm_modes(s->modes, &s->nm, o->modes != NULL, info, e);
    s->pol = s->fi = -1;
    for (int i = 0; i < s->nm && !st; i++) {
        if (s->modes[i].kind == EVAL_POLICY) s->pol = i;
        if (s->modes[i].kind == EVAL_FULL) s->fi = i;
    }
    return st;
}

/* open_env: the evaluation environment, the policy and the fixed modes' environments */
static Status open_env(Session *s, const EvalOptions *o, FILE *info, Err *e) {
    TrainEvalOptions eo = {.split = o->split, .batch = o->batch,
                           .max_m = eval_modes_max_m(s->modes, s->nm),
                           .lt = s->k.has_lt ? &s->k.lt : NULL, .base_over = o->base_over,
                           .n_base_over = o->n_base_over, .min_bytes = o->min_bytes,
                           .join = o->join, .join_rows = o->rows};
    Status st = train_env_init_eval(&s->t, &s->c, &eo, e);
    if (st) return st;
    train_env_eval_parts(&s->t, &s->p);
    st = eval_modes_check_layers(s->modes, s->nm, s->p.R->L, s->p.R->H, s->p.env->P > 1, e);
    if (st || (s->p.R->dec && (st = decoder_modes(s, o, info, e)))) return st;
    if (o->min_bytes > 0)
        fprintf(info, "--min-bytes %d: %d %s reviews of at least %d bytes\n", o->min_bytes,
                s->p.set->n, o->split, o->min_bytes);
    latency_note(s->t.has_lt ? &s->t.lt : NULL, s->p.set);
    /* the policy: restored from the checkpoint, which must come from this very base model */
    double trained_s = 0;
    if ((st = eval_policy_load(&s->A, &s->k, &s->t, &trained_s, e))) return st;
    fprintf(info, "policy: %zu parameters, trained %lld iterations (%.0f s); guardrail epsilon "
            "%g\n", policy_n_params(s->A.pi), (long long)s->A.iteration, trained_s,
            s->c.env.epsilon);
    if ((st = fixed_env(s, &s->Ew, RANK_WHITENED, e))) return st;
    if (s->has_plain && (st = fixed_env(s, &s->Ep, RANK_PLAIN, e))) return st;
    if (s->pol >= 0) {
        if ((st = deploy_init(&s->D, s->p.env, &s->A, e))) return st;
        s->has_D = 1;
        if (s->p.env->c.guard == RANKENV_GUARD_OUTPUT)
            fprintf(info, "policy: trained with env.guard: output: its decisions need each "
                    "layer's exact attention first, which the deployed forward runs and "
                    "counts as decision cost (env.guard: input needs none)\n");
    }
    return ST_OK;
}

/* open_outs: batches, every mode's output buffers, the run's progress */
static Status open_outs(Session *s, const EvalOptions *o, FILE *progress, Err *e) {
    s->x = (EvalCtx){.R = s->p.R, .set = s->p.set, .guarded = s->p.env, .white = &s->Ew,
                     .plain = s->has_plain ? &s->Ep : NULL, .A = &s->A,
                     .deploy = s->has_D ? &s->D : NULL,
                     .epsilon = s->c.env.epsilon, .reps = o->reps, .progress = &s->prog,
                     .part = dist_rank(), .parts = dist_size()};
    Status st = eval_batches_make(&s->bt, s->p.set, s->p.env->B, e);
    if (st) return st;
    const int n = s->p.set->n, L = s->p.R->L, S = s->p.env->NA; /* action heads */
    for (; s->n_outs < s->nm; s->n_outs++)
        if ((st = eval_out_init(&s->outs[s->n_outs], n, s->p.R->K, L, S, s->bt.n_batches, e)))
            return st;
    s->assigned = malloc(sizeof(int32_t) * (size_t)n * L * S);
    if (!s->assigned) return err_set(e, ST_NOMEM, "eval: out of memory (random ranks)");
    int passes = o->reps * s->nm; /* each timed round runs every mode */
    for (int i = 0; i < s->nm; i++)
        passes += eval_mode_env(&s->modes[i]) && s->modes[i].kind != EVAL_FULL;
    int64_t mine = 0; /* the sentences of this process's batches */
    for (int k = 0; k < s->bt.n_batches; k++)
        if (eval_mine(&s->x, k)) mine += s->bt.start[k + 1] - s->bt.start[k];
    progress_init(&s->prog, progress, "drrl-eval", (int64_t)passes * mine, 10.0);
    return ST_OK;
}

/* decided: mode i's decisions of every process on every process (after all agree that none
   failed), then its environment means */
static Status decided(Session *s, int i, Status st, Err *e) {
    if ((st = dist_agree(st, e))) return st;
    st = eval_merge(&s->x, &s->bt, &s->modes[i], &s->outs[i], s->p.set->n, s->p.R->K,
                    s->p.R->L, s->p.env->NA, EVAL_DECIDED, e);
    if (!st) eval_decide_finish(&s->outs[i], &s->bt, s->p.R->L);
    return st;
}

/* decide: the policy first (random and static-plain:auto follow its ranks), then every other
   weight-level mode through its environment */
static Status decide(Session *s, const EvalOptions *o, FILE *info, Err *e) {
    const int L = s->p.R->L, S = s->p.env->NA, T = s->p.env->c.T;
    Status st;
    double t0 = time_now();
    if (s->pol >= 0) {
        progress_label(&s->prog, "drrl-eval: policy decisions");
        st = eval_decide(&s->x, &s->bt, &s->modes[s->pol], NULL, &s->outs[s->pol], e);
        if ((st = decided(s, s->pol, st, e))) return st;
        double mr = 0;
        for (int l = 0; l < L; l++) mr += s->outs[s->pol].rank_layer[l] / L;
        eval_modes_resolve_auto(s->modes, s->nm, mr, s->c.env.ranks.v, s->c.env.ranks.n);
        fprintf(info, "policy: mean rank %.2f per head; decided in %.1f s\n", mr,
                time_now() - t0);
    }
    st = eval_random_ranks(s->pol >= 0 ? &s->outs[s->pol] : NULL, s->p.set, L, S, T, s->p.env->P,
                           s->c.env.ranks.v, s->c.env.ranks.n, o->seed, s->assigned, e);
    if ((st = dist_agree(st, e))) return st;
    eval_full_ranks(&s->outs[s->fi], s->p.set->n, L, S, s->p.R->dh); /* no pass needed */
    for (int i = 0; i < s->nm; i++) {
        if (i == s->pol || i == s->fi || !eval_mode_env(&s->modes[i])) continue;
        char label[96];
        snprintf(label, sizeof label, "drrl-eval: %s environment pass", s->modes[i].name);
        progress_label(&s->prog, label);
        const double t1 = time_now();
        st = eval_decide(&s->x, &s->bt, &s->modes[i], s->assigned, &s->outs[i], e);
        if ((st = decided(s, i, st, e))) return st;
        fprintf(info, "%s: environment pass %.1f s\n", s->modes[i].name, time_now() - t1);
        fflush(info);
    }
    progress_label(&s->prog, "drrl-eval: timed forwards");
    const double t2 = time_now();
    st = eval_time(&s->x, &s->bt, s->modes, s->outs, s->nm, e);
    if ((st = dist_agree(st, e))) return st;
    for (int i = 0; i < s->nm && !st; i++)
        st = eval_merge(&s->x, &s->bt, &s->modes[i], &s->outs[i], s->p.set->n, s->p.R->K,
                        s->p.R->L, s->p.env->NA, EVAL_TIMED, e);
    if (st) return st;
    fprintf(info, "timed forwards: %d rounds x %d batches x %d modes in %.1f s\n", o->reps,
            s->bt.n_batches, s->nm, time_now() - t2);
    return ST_OK;
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

/* row_stats: accuracy, agreement, KL, margin, McNemar and the bootstrap interval of mode i
   against full; correct and flags are (n) scratch */
static Status row_stats(Session *s, const EvalOptions *o, int i, uint8_t *correct,
                        uint8_t *flags, Err *e) {
    EvalRow *r = &s->rows[i];
    const EncodedSet *set = s->p.set;
    EvalCompare c;
    eval_compare(s->outs[s->fi].logits, s->outs[i].logits, set->label, set->n, s->p.R->K,
                 correct, &c);
    r->n = c.n, r->n_labeled = c.n_labeled, r->correct = c.correct, r->agree = c.agree;
    r->accuracy = c.accuracy, r->agreement = c.agreement, r->kl_mean = c.kl_mean;
    r->dmargin = c.dmargin, r->mc_b = c.b, r->mc_c = c.c;
    r->ci_low = r->ci_high = r->mcnemar_p = NAN;
    if (!c.n_labeled) return ST_OK;
    int k = 0;
    for (int j = 0; j < set->n; j++)
        if (set->label[j] >= 0) flags[k++] = correct[j];
    Status st = eval_bootstrap_ci(flags, k, o->resamples, 0.95, o->seed, &r->ci_low,
                                  &r->ci_high, NULL, e);
    r->mcnemar_p = eval_mcnemar_p(c.b, c.c);
    return st;
}

/* row_costs: mode i's FLOPs, latencies, ranks and environment statistics */
static void row_costs(Session *s, int i) {
    EvalRow *r = &s->rows[i];
    const EvalMode *m = &s->modes[i];
    const EvalModeOut *o = &s->outs[i], *full = &s->outs[s->fi];
    const int nb = s->bt.n_batches, L = s->p.R->L;
    r->attn_flops = o->attn_flops, r->model_flops = o->model_flops;
    r->attn_flops_ratio = (double)o->attn_flops / (double)full->attn_flops;
    r->model_flops_ratio = (double)o->model_flops / (double)full->model_flops;
    const double tot = sum(o->sec, nb);
    r->latency_ms = 1e3 * median_of(o->sec, nb);
    r->latency_ratio = tot / sum(full->sec, nb);
    r->ex_per_s = tot > 0 ? s->p.set->n / tot : NAN;
    r->attn_ms = 1e3 * median_of(o->attn_sec, nb);
    r->attn_ratio = sum(o->attn_sec, nb) / sum(full->attn_sec, nb);
    r->policy_ms = m->kind == EVAL_POLICY ? 1e3 * median_of(o->policy_sec, nb) : NAN;
    /* the decision inside the timed forward (policy: pipeline/deploy.h; the rest decide
       nothing at run time) */
    const int dep = m->kind == EVAL_POLICY && s->has_D;
    r->decision_ms = dep ? 1e3 * median_of(o->decision_sec, nb) : 0.0;
    r->decision_share = dep ? sum(o->decision_sec, nb) / sum(full->sec, nb) : 0.0;
    int64_t dfl = 0;
    for (int k = 0; k < 4; k++) {
        r->decision_part_ms[k] = dep ? 1e3 * o->dec_sec[k] / nb : 0.0;
        r->decision_part_fl[k] = o->dec_fl[k]; /* the policy's, or the probe rule's */
        dfl += r->decision_part_fl[k];
    }
    r->decision_flops = dfl;
    r->decision_flops_ratio = (double)dfl / (double)full->model_flops;
    r->rank_diff = dep ? (double)o->rank_diff : NAN;
    for (int l = 0; l < BERT_MAX_LAYERS; l++)
        r->rank_layer[l] = o->env && l < L ? o->rank_layer[l] : NAN;
    /* the environment's statistics exist for weight-level modes only */
    const int v = o->env;
    r->fidelity = v ? o->fidelity : NAN, r->rel_err = v ? o->rel_err : NAN;
    r->bound = v ? o->bound : NAN, r->full_share = v ? o->full_share : NAN;
    r->over_eps = v ? o->over_eps : NAN, r->lat_est = v ? o->lat_est : NAN;
    r->violations = v ? (double)o->violations : NAN, r->replay_diff = v ? o->replay_diff : NAN;
    r->mask_rate = m->kind == EVAL_POLICY ? o->masked : NAN; /* the others run unguarded */
}

/* policy_ranks: the policy's mean rank per head over each sentence's real segments (per head:
   real (segment, head) pairs), (n, L); full = dh */
static double *policy_ranks(const Session *s) {
    const EvalModeOut *o = &s->outs[s->pol];
    const EncodedSet *set = s->p.set;
    const int L = s->p.R->L, S = s->p.env->NA, T = s->p.env->c.T, dh = s->p.R->dh;
    double *r = malloc(sizeof(double) * (size_t)set->n * L);
    if (!r) return NULL;
    for (int i = 0; i < set->n; i++) {
        int ns = ranked_segments(set->len[i], T) * s->p.env->P;
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

/* rows_make: every mode's row, predictions (modes, n) and prediction file name */
static Status rows_make(Session *s, const EvalOptions *o, int32_t *pred_store, int32_t **pred,
                        Err *e) {
    const int n = s->p.set->n, K = s->p.R->K, test = !strcmp(o->split, "test");
    uint8_t *correct = malloc((size_t)n + 1), *flags = malloc((size_t)n + 1);
    Status st = correct && flags ? ST_OK : err_set(e, ST_NOMEM, "eval: out of memory (rows)");
    for (int i = 0; i < s->nm && !st; i++) {
        memset(&s->rows[i], 0, sizeof s->rows[i]);
        snprintf(s->rows[i].mode, sizeof s->rows[i].mode, "%s", s->modes[i].name);
        st = s->p.R->dec ? eval_lm_stats(&s->rows[i], s->outs[i].lm, s->p.set->index, n,
                                           o->resamples, o->seed, e)
                         : row_stats(s, o, i, correct, flags, e);
        row_costs(s, i);
        pred[i] = pred_store + (size_t)i * n;
        for (int r = 0; r < n; r++)
            pred[i][r] = logits_argmax(s->outs[i].logits + (size_t)r * K, K);
        if ((test || o->predictions) && !s->p.R->dec) { /* a language model predicts bytes */
            char nm[EVAL_NAME];
            snprintf(nm, sizeof nm, "%s", s->modes[i].name);
            for (char *q = nm; *q; q++) *q = *q == ':' ? '-' : *q == '/' ? '_' : *q;
            snprintf(s->rows[i].pred_file, sizeof s->rows[i].pred_file, "%s.%s.tsv",
                     !test                       ? "dev"
                     : base_is_imdb(s->p.base)   ? "IMDB"
                     : base_is_recall(s->p.base) ? "RECALL"
                                                 : "SST-2",
                     nm);
        }
        if (s->rows[i].rank_diff > 0)
            fprintf(stderr, "drrl-eval: warning: %s: the deployed forward chose other ranks "
                    "than the environment pass in %.0f (segment, layer) entries\n",
                    s->modes[i].name, s->rows[i].rank_diff);
        if (s->outs[i].replay_diff > 0)
            fprintf(stderr, "drrl-eval: note: %s: the timed forward's logits differ from the "
                    "environment's pass by up to %.3g\n", s->modes[i].name,
                    s->outs[i].replay_diff);
    }
    free(correct), free(flags);
    return st;
}

/* out_dir: the output folder: o->out, or the checkpoint's directory */
static void out_dir(char *dir, size_t cap, const EvalOptions *o, const char *ckpt) {
    if (o->out) {
        snprintf(dir, cap, "%s", o->out);
        return;
    }
    const char *slash = strrchr(ckpt, '/');
    snprintf(dir, cap, "%.*s", slash ? (int)(slash - ckpt) : 1, slash ? ckpt : ".");
}

/* report: the table to info, the files to the output folder */
static Status report(Session *s, const EvalOptions *o, FILE *info, int32_t **pred,
                     char *written, size_t cap, Err *e) {
    const int n = s->p.set->n, nm = s->nm, K = s->p.R->K, test = !strcmp(o->split, "test");
    EvalInfo in = {.checkpoint = s->k.path, .model = s->c.env.model,
                   .model_sha256 = s->t.model_sha256, .split = o->split, .n = n,
                   .n_labeled = s->rows[s->fi].n_labeled, .batch = s->p.env->B,
                   .reps = o->reps, .resamples = o->resamples, .layers = s->p.R->L,
                   .head_size = s->p.R->dh, .n_grid = s->c.env.ranks.n,
                   .grid = s->c.env.ranks.v, .epsilon = s->c.env.epsilon, .level = 0.95,
                   .seed = o->seed, .processes = dist_size()};
    if (s->p.R->dec) eval_lm_table(info, &in, s->rows, nm);
    else eval_report_table(info, &in, s->rows, nm);
    char dir[4096];
    out_dir(dir, sizeof dir, o, s->k.path);
    double *rk = s->pol >= 0 ? policy_ranks(s) : NULL;
    double *kl = malloc(sizeof(double) * ((size_t)nm * n + 1)); /* (modes, n) per-input KL */
    double *pf = malloc(sizeof(double) * ((size_t)n + 1));      /* (n) full's top probability */
    const int dec = s->p.R->dec;
    double *bits = dec ? malloc(sizeof(double) * ((size_t)nm * n + 1)) : NULL; /* (modes, n) */
    Status st = ST_OK;
    if ((s->pol >= 0 && !rk) || !kl || !pf || (dec && !bits))
        st = err_set(e, ST_NOMEM, "eval: out of memory");
    const float *zf = s->outs[s->fi].logits;
    for (int i = 0; i < nm && !st; i++)
        if (dec) eval_lm_per_row(kl + (size_t)i * n, bits + (size_t)i * n, s->outs[i].lm, n);
        else
            for (int r = 0; r < n; r++)
                kl[(size_t)i * n + r] = logits_kl(zf + r * K, s->outs[i].logits + r * K, K);
    for (int r = 0; r < n && !st && !dec; r++) pf[r] = logits_top_prob(zf + (size_t)r * K, K);
    EvalRanks er = {n, s->p.R->L, s->p.set->index, s->p.set->len, rk};
    EvalPerInput per = {n, nm, s->p.set->index, s->p.set->len, s->p.set->label, pf, s->rows, kl,
                        pred, bits, s->fi};
    if (!st && dist_rank() == 0) /* one writer: process 0 holds every process's results */
        st = eval_report_write(dir, &in, s->rows, nm, s->p.set->index, pred, n, rk ? &er : NULL,
                               &per, e);
    free(rk), free(kl), free(pf), free(bits);
    snprintf(written, cap, "%s/: %s, %s, %s%s%s", dir, test ? "eval_test.csv" : "eval.csv",
             test ? "eval_test.json" : "eval.json",
             test ? "per_input_test.tsv" : "per_input.tsv",
             s->pol >= 0 ? ", policy_ranks.tsv" : "",
             (test || o->predictions) && !dec ? " and one prediction file per mode" : "");
    return st;
}

static void session_free(Session *s) {
    free(s->assigned);
    for (int i = 0; i < s->n_outs; i++) eval_out_free(&s->outs[i]);
    eval_batches_free(&s->bt);
    if (s->has_D) deploy_free(&s->D);
    if (s->n_env > 1) rankenv_free(&s->Ep);
    if (s->n_env > 0) rankenv_free(&s->Ew);
    agent_free(&s->A);
    train_env_free(&s->t);
    free(s);
}

/* model_config_yaml: the frozen model's config as evaluation resolves it (its stored config
   with the data.* and eval.* overrides, pipeline/base_run.h) as YAML text (malloc'd) */
static Status model_config_yaml(const char *model, const EvalOptions *o, char **yaml, Err *e) {
    BaseConfig bc;
    Status st = base_run_model_config(model, o->base_over, o->n_base_over, &bc, e);
    if (!st) st = config_to_yaml(&base_schema, &bc, yaml, e);
    return st ? err_prefix(e, "env.model") : ST_OK;
}

/* print_commented: text as YAML comment lines (the output stays one train config) */
static void print_commented(FILE *f, const char *text) {
    for (const char *l = text; *l;) {
        size_t n = strcspn(l, "\n");
        fprintf(f, "#   %.*s\n", (int)n, l);
        l += n + (l[n] == '\n');
    }
}

Status eval_session_print_config(const EvalOptions *o, FILE *f, Err *e) {
    Session *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, ST_NOMEM, "eval: out of memory (session)");
    /* nothing but the YAML on f: the checkpoint's notes (open_modes' info, log_info's
       latency-table line) go to a sink */
    FILE *sink = log_null(), *info = log_info();
    if (!sink) {
        free(s);
        return err_set(e, ST_IO, "/dev/null: cannot open: %s", strerror(errno));
    }
    log_info_set(sink);
    Status st = open_modes(s, o, sink, e);
    log_info_set(info == stdout ? NULL : info);
    char *model_yaml = NULL;
    if (!st) st = model_config_yaml(s->c.env.model, o, &model_yaml, e); /* checked first */
    if (!st) {
        fprintf(f, "# drrl-eval config (%s)\n", s->k.path);
        st = config_print(&train_schema, &s->c, f, e);
    }
    if (!st) {
        fprintf(f, "#\n# the frozen model's config (%s:/config with the data.* and eval.* "
                "overrides):\n", s->c.env.model);
        print_commented(f, model_yaml);
    }
    free(model_yaml);
    free(s);
    return st;
}

Status eval_session_run(const EvalOptions *o, FILE *info, FILE *progress, char *written,
                        size_t cap, Err *e) {
    Session *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, ST_NOMEM, "eval: out of memory (session)");
    int32_t *pred_store = NULL;
    int32_t *pred[EVAL_MAX_MODES];
    Status st = open_modes(s, o, info, e);
    if (!st) st = open_env(s, o, info, e);
    if (!st) st = open_outs(s, o, progress, e);
    st = dist_agree(st, e); /* no process starts the passes (and their merges) alone */
    if (!st && dist_size() > 1)
        fprintf(info, "processes: %d (batch k runs on process k mod %d; each times its own "
                "batches, all at once)\n", dist_size(), dist_size());
    if (!st) st = decide(s, o, info, e);
    if (!st) {
        pred_store = malloc(sizeof(int32_t) * ((size_t)s->nm * s->p.set->n + 1));
        if (!pred_store) st = err_set(e, ST_NOMEM, "eval: out of memory (predictions)");
    }
    if (!st) st = rows_make(s, o, pred_store, pred, e);
    if (!st) st = report(s, o, info, pred, written, cap, e);
    if (dist_size() > 1) st = dist_agree(st, e); /* process 0's writes */
    free(pred_store);
    session_free(s);
    return st;
}
