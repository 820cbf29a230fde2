/* eval_run.c: drrl-eval's decisions through the rank environment and its timed forwards
 * (see eval_run.h). */
#include "eval/eval_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/timer.h"
#include "eval/eval_lm.h"

#define RANDOM_STREAM 0x52414e444f4d5250ull /* the random mode's Rng stream of the seed */

static int cmp_u64(const void *a, const void *b) {
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

Status eval_batches_make(EvalBatches *b, const EncodedSet *set, int B, Err *e) {
    memset(b, 0, sizeof *b);
    const int n = set->n;
    if (n < 1 || B < 1) return err_set(e, ST_INVALID, "eval: %d sentences in batches of %d", n, B);
    b->n = n, b->n_batches = (n + B - 1) / B;
    uint64_t *key = malloc(sizeof(uint64_t) * (size_t)n); /* (n) length << 32 | row */
    b->order = malloc(sizeof(int32_t) * (size_t)n);
    b->start = malloc(sizeof(int32_t) * (size_t)(b->n_batches + 1));
    if (!key || !b->order || !b->start) {
        free(key);
        eval_batches_free(b);
        return err_set(e, ST_NOMEM, "eval: out of memory for %d rows", n);
    }
    for (int i = 0; i < n; i++) key[i] = ((uint64_t)(uint32_t)set->len[i] << 32) | (uint32_t)i;
    qsort(key, (size_t)n, sizeof(uint64_t), cmp_u64);
    for (int i = 0; i < n; i++) b->order[i] = (int32_t)(key[i] & 0xffffffffu);
    for (int k = 0; k <= b->n_batches; k++) b->start[k] = k * B < n ? k * B : n;
    free(key);
    return ST_OK;
}

void eval_batches_free(EvalBatches *b) {
    free(b->order), free(b->start);
    memset(b, 0, sizeof *b);
}

Status eval_out_init(EvalModeOut *o, int n, int K, int L, int S, int n_batches, Err *e) {
    memset(o, 0, sizeof *o);
    o->logits = calloc((size_t)n * K, sizeof(float));
    o->env_logits = calloc((size_t)n * K, sizeof(float));
    o->sec = calloc((size_t)n_batches, sizeof(double));
    o->policy_sec = calloc((size_t)n_batches, sizeof(double));
    o->decision_sec = calloc((size_t)n_batches, sizeof(double));
    o->attn_sec = calloc((size_t)n_batches, sizeof(double));
    o->rank = calloc((size_t)n * L * S, sizeof(int32_t));
    o->batch_acc = calloc((size_t)n_batches * EVAL_ACC, sizeof(double));
    o->lm = calloc((size_t)n * EVAL_LM_STATS, sizeof(double));
    if (!o->logits || !o->env_logits || !o->sec || !o->policy_sec || !o->decision_sec ||
        !o->attn_sec || !o->rank || !o->batch_acc || !o->lm) {
        eval_out_free(o);
        return err_set(e, ST_NOMEM, "eval: out of memory for the outputs of %d sentences", n);
    }
    return ST_OK;
}

void eval_out_free(EvalModeOut *o) {
    free(o->logits), free(o->env_logits), free(o->sec), free(o->policy_sec), free(o->attn_sec);
    free(o->decision_sec);
    free(o->rank), free(o->batch_acc), free(o->lm);
    memset(o, 0, sizeof *o);
}

Status eval_random_ranks(const EvalModeOut *policy, const EncodedSet *set, int L, int S, int T,
                         int P, const int *grid, int G, uint64_t seed, int32_t *out, Err *e) {
    const int n = set->n;
    int *slot = malloc(sizeof(int) * (size_t)n * S); /* (n S) index into out of a real segment */
    int *val = malloc(sizeof(int) * (size_t)n * S);  /* (n S) the ranks to shuffle */
    if (!slot || !val) {
        free(slot), free(val);
        return err_set(e, ST_NOMEM, "eval: out of memory (random ranks)");
    }
    Rng r;
    rng_init(&r, seed, RANDOM_STREAM);
    for (size_t i = 0; i < (size_t)n * L * S; i++) out[i] = RANKED_FULL;
    for (int l = 0; l < L; l++)
        for (int g = 1; g <= S; g++) { /* the sentences of g real segments */
            int m = 0;
            for (int i = 0; i < n; i++) {
                const int ns = ranked_segments(set->len[i], T) * P;
                if ((ns < S ? ns : S) != g) continue;
                for (int sg = 0; sg < g; sg++) {
                    const size_t at = ((size_t)i * L + l) * S + sg;
                    slot[m] = (int)at;
                    if (policy) val[m] = policy->rank[at];
                    else {
                        const int a = (int)rng_below(&r, (uint64_t)G + 1);
                        val[m] = a < G ? grid[a] : RANKED_FULL;
                    }
                    m++;
                }
            }
            rng_shuffle(&r, val, m);
            for (int j = 0; j < m; j++) out[slot[j]] = val[j];
        }
    free(slot), free(val);
    return ST_OK;
}

/* the environment of mode m */
static RankEnv *env_of(EvalCtx *x, const EvalMode *m) {
    return m->kind == EVAL_POLICY ? x->guarded : m->kind == EVAL_PLAIN ? x->plain : x->white;
}

/* grid index of rank r in E's grid (RANKED_FULL or absent: G, the full action) */
static int action_of(const RankEnv *E, int r) {
    for (int g = 0; g < E->G; g++)
        if (E->c.ranks[g] == r) return g;
    return E->G;
}

/* scratch of the hand rules (margin, probe) */
typedef struct {
    double *mg;     /* (B) head margins */
    float *pa, *pb; /* (B, max_len, C) the probe's attention outputs at P and LO */
    AttnFlops *fl;  /* (B) per-sequence FLOPs of one probe call */
    double *chg;    /* (B) each sequence's relative change between P and LO */
    int32_t *last;  /* (B) each sequence's action at the last probed layer */
} RuleWork;

/* probe rule at the current layer: A_P and A_LO of every sequence on the layer input, then
   HI where ||A_LO - A_P|| / ||A_LO|| > T; the probes' FLOPs go to o->dec_fl[2] (features) */
static Status probe_choose(RankEnv *E, const EvalMode *m, int nb, int l, int32_t *act,
                           RuleWork *w, EvalModeOut *o, Err *e) {
    const int S = E->NA; /* action heads: segments, or (segment, head) pairs */
    const int lo = action_of(E, m->r), hi = action_of(E, m->hi);
    if (m->until >= 0 && l > m->until) { /* past the probed layers: keep the choice */
        for (int b = 0; b < nb; b++)
            for (int sg = 0; sg < S; sg++) act[(size_t)b * S + sg] = w->last[b];
        return ST_OK;
    }
    int64_t fl = 0;
    Status s = rankenv_probe(E, m->from, m->r, 1, w->pa, w->pb, w->fl, w->chg, &fl, e);
    o->dec_fl[2] += fl;
    if (s) return s;
    for (int b = 0; b < nb; b++) {
        w->last[b] = w->chg[b] > m->thr ? hi : lo;
        for (int sg = 0; sg < S; sg++) act[(size_t)b * S + sg] = w->last[b];
    }
    return ST_OK;
}

/* the actions of layer l for the nb active slots (act (B, S), S = E->NA action heads) */
static Status choose(EvalCtx *x, const EvalMode *m, RankEnv *E, const int32_t *rows, int nb,
                     int l, const int32_t *assigned, const float *obs, const uint8_t *tok,
                     const uint8_t *am, int32_t *act, double *policy_sec, RuleWork *w,
                     EvalModeOut *o, Err *e) {
    const int S = E->NA, L = E->L;
    double *mg = w->mg;
    if (m->kind == EVAL_PROBE) return probe_choose(E, m, nb, l, act, w, o, e);
    if (m->kind == EVAL_MARGIN) { /* LO before layer `from`, then HI below the margin */
        const int lo = action_of(E, m->r), hi = action_of(E, m->hi);
        if (l >= m->from) rankenv_head(E, mg, NULL, NULL);
        for (int b = 0; b < nb; b++)
            for (int s = 0; s < S; s++)
                act[(size_t)b * S + s] = l >= m->from && mg[b] < m->thr ? hi : lo;
        return ST_OK;
    }
    if (m->kind == EVAL_POLICY) {
        const double t0 = time_now();
        Status s = agent_act_greedy(x->A, act, obs, tok, am, nb, e);
        *policy_sec += time_now() - t0;
        return s;
    }
    for (int b = 0; b < nb; b++) /* static: each segment's position part (s / P: its segment,
                                    s % P: its head when per head) */
        for (int s = 0; s < S; s++)
            act[(size_t)b * S + s] =
                m->kind == EVAL_RANDOM
                    ? action_of(E, assigned[((size_t)rows[b] * L + l) * S + s])
                : m->kind == EVAL_FULL
                    ? E->G
                    : action_of(E, eval_mode_rank(m, l, s / E->P, E->nseg[b], s % E->P));
    return ST_OK;
}

/* the logits that stand for sequence b of the last pass: its (K) outputs, or a decoder's at
   its last real position */
static const float *row_logits(const Ranked *R, int b) {
    if (!R->dec) return R->logits + (size_t)b * R->K;
    const int n = ranked_seq_len(R, b);
    return R->logits + ((size_t)b * R->N + (n > 0 ? n - 1 : 0)) * R->K;
}

Status eval_decide(EvalCtx *x, const EvalBatches *bt, const EvalMode *m,
                   const int32_t *assigned, EvalModeOut *o, Err *e) {
    RankEnv *E = env_of(x, m);
    const RankEnvDims *d = &E->dims;
    const int B = d->n_envs, S = d->n_heads, L = E->L, K = E->K, NI = d->n_info;
    const size_t ntok = (size_t)B * d->n_tokens;
    float *obs = malloc(sizeof(float) * ntok * d->token_dim); /* (B, n_tokens, token_dim) */
    uint8_t *tok = malloc(ntok);                                 /* (B, n_tokens) */
    uint8_t *am = malloc((size_t)B * S * d->n_actions);          /* (B, S, n_actions) */
    int32_t *act = calloc((size_t)B * S, sizeof(int32_t));       /* (B, S) */
    float *reward = malloc(sizeof(float) * B), *info = malloc(sizeof(float) * B * NI);
    uint8_t *done = malloc((size_t)B);
    const size_t BNC = (size_t)B * E->set->max_len * E->C;
    RuleWork w = {.mg = malloc(sizeof(double) * B),
                  .pa = m->kind == EVAL_PROBE ? malloc(sizeof(float) * BNC) : NULL,
                  .pb = m->kind == EVAL_PROBE ? malloc(sizeof(float) * BNC) : NULL,
                  .fl = malloc(sizeof(AttnFlops) * B),
                  .chg = malloc(sizeof(double) * B),
                  .last = malloc(sizeof(int32_t) * B)};
    Status s = ST_OK;
    if (!obs || !tok || !am || !act || !reward || !info || !done || !w.mg || !w.fl || !w.chg || !w.last ||
        (m->kind == EVAL_PROBE && (!w.pa || !w.pb)))
        s = err_set(e, ST_NOMEM, "eval: out of memory (environment buffers)");
    o->env = o->decided = 1;
    for (int k = 0; k < bt->n_batches && !s; k++) {
        if (!eval_mine(x, k)) continue;
        double *acc = o->batch_acc + (size_t)k * EVAL_ACC; /* EVAL_ACC's order */
        memset(acc, 0, sizeof(double) * EVAL_ACC);
        const int32_t *rows = bt->order + bt->start[k];
        const int nb = bt->start[k + 1] - bt->start[k];
        s = rankenv_reset_rows(E, rows, nb, obs, tok, am, e);
        for (int l = 0; l < L && !s; l++) {
            s = choose(x, m, E, rows, nb, l, assigned, obs, tok, am, act, &o->policy_sec[k], &w,
                       o, e);
            if (!s) s = rankenv_step(E, act, obs, tok, am, reward, done, info, e);
            for (int b = 0; b < nb && !s; b++) {
                int32_t *rk = o->rank + ((size_t)rows[b] * L + l) * S;
                const int sr = E->Sr * E->P; /* the pass's (segment, head) entries */
                for (int sg = 0; sg < S; sg++)
                    rk[sg] = sg < sr ? E->rank[(size_t)b * sr + sg] : RANKED_FULL;
                const float *fi = info + (size_t)b * NI;
                acc[7 + l] += fi[RANKENV_I_RANK];
                acc[0] += fi[RANKENV_I_FID], acc[1] += fi[RANKENV_I_REL];
                acc[2] += fi[RANKENV_I_BOUND], acc[3] += fi[RANKENV_I_MASKED];
                acc[4] += fi[RANKENV_I_FULL], acc[5] += fi[RANKENV_I_LAT];
                acc[6] += fi[RANKENV_I_BOUND] > x->epsilon;
                o->violations += (int64_t)fi[RANKENV_I_VIOL];
            }
        }
        for (int b = 0; b < nb && !s; b++)
            memcpy(o->env_logits + (size_t)rows[b] * K, row_logits(E->R, b), sizeof(float) * K);
        progress_add(x->progress, nb);
    }
    free(obs), free(tok), free(am), free(act), free(reward), free(info), free(done);
    free(w.mg), free(w.pa), free(w.pb), free(w.fl), free(w.chg), free(w.last);
    return s ? err_prefix(e, "mode %s", m->name) : ST_OK;
}

void eval_full_ranks(EvalModeOut *o, int n, int L, int S, int dh) {
    for (size_t i = 0; i < (size_t)n * L * S; i++) o->rank[i] = RANKED_FULL;
    for (int l = 0; l < L; l++) o->rank_layer[l] = dh;
    o->env = 1, o->decided = 0;
    o->fidelity = 1, o->rel_err = o->bound = o->masked = o->over_eps = 0;
    o->full_share = o->lat_est = 1, o->violations = 0;
}

/* the model's FLOPs of the last pass on its real tokens (feed-forward scaled from B N) */
static int64_t model_flops_real(const Ranked *R, int64_t real) {
    int64_t f = ranked_attn_flops(R) + R->head_fl;
    for (int l = 0; l < R->L; l++) f += R->rest_fl[l] * real / ((int64_t)R->B * R->N);
    return f;
}

/* the first round's logits of batch rows into o->logits, checked against the environment
   pass's when there was one; a decoder's rows reduced against full (eval/eval_lm.h): the full
   mode keeps its logits in x->lm_full for the other modes of the batch */
static void keep_logits(const EvalCtx *x, const EvalMode *m, const Ranked *R, EvalModeOut *o,
                        const int32_t *rows, int nb, const int32_t *ids) {
    const int K = R->K, N = R->N;
    if (R->dec && m->kind == EVAL_FULL)
        memcpy(x->lm_full, R->logits, sizeof(float) * (size_t)nb * N * K);
    for (int b = 0; b < nb; b++) {
        float *z = o->logits + (size_t)rows[b] * K;
        const float *ze = o->env_logits + (size_t)rows[b] * K;
        memcpy(z, row_logits(R, b), sizeof(float) * K);
        for (int c = 0; c < K && o->decided; c++) {
            const double dd = fabs((double)z[c] - ze[c]);
            o->replay_diff = dd > o->replay_diff ? dd : o->replay_diff;
        }
        if (R->dec)
            eval_lm_row(o->lm + (size_t)rows[b] * EVAL_LM_STATS, ids + (size_t)b * N,
                        ranked_seq_len(R, b), R->logits + (size_t)b * N * K,
                        x->lm_full + (size_t)b * N * K, K);
    }
}

/* the policy mode's timed forward: the deployed pass (decisions inside); on the first round
   its ranks are checked against the environment pass's and its costs kept */
static Status deployed(EvalCtx *x, EvalModeOut *o, const int32_t *rows, int nb, int N,
                       const int32_t *ids, const uint8_t *mask, int first, double *sec,
                       double *asec, double *dsec, double *psec, Err *e) {
    Deploy *D = x->deploy;
    DeployCost c;
    Status s = deploy_forward(D, ids, mask, nb, N, &c, e);
    if (s) return s;
    *sec = c.total_sec, *asec = c.attn_sec, *dsec = deploy_decision_sec(&c);
    *psec = c.policy_sec;
    if (!first) return ST_OK;
    const int L = x->R->L, S = x->guarded->NA, P = x->guarded->P;
    const int Sr = ranked_segments(N, x->guarded->c.T) * P;
    for (int l = 0; l < L; l++)
        for (int b = 0; b < nb; b++) {
            const int ns = ranked_segments(x->set->len[rows[b]], x->guarded->c.T) * P;
            for (int sg = 0; sg < Sr && sg < ns; sg++)
                o->rank_diff += D->rank[((size_t)l * D->E->B + b) * D->Smax + sg] !=
                                o->rank[((size_t)rows[b] * L + l) * S + sg];
        }
    const double ds[4] = {c.teacher_sec, c.bound_sec, c.feature_sec, c.policy_sec};
    const int64_t df[4] = {c.teacher_fl, c.bound_fl, c.feature_fl, c.policy_fl};
    for (int i = 0; i < 4; i++) o->dec_sec[i] += ds[i], o->dec_fl[i] += df[i];
    int64_t real = 0;
    for (int b = 0; b < nb; b++) real += x->set->len[rows[b]];
    o->attn_flops += c.attn_fl;
    o->model_flops += model_flops_real(x->R, real);
    keep_logits(x, &(EvalMode){.kind = EVAL_POLICY}, x->R, o, rows, nb, ids);
    return ST_OK;
}

/* one timed forward of batch rows (gathered in ids, mask: (nb, N)) under mode m; first: the
   round that records logits and FLOPs */
static Status forward(EvalCtx *x, const EvalMode *m, EvalModeOut *o, const int32_t *rows,
                      int nb, int N, const int32_t *ids, const uint8_t *mask, int32_t *rk,
                      int first, double *sec, double *asec, double *dsec, double *psec,
                      Err *e) {
    Ranked *R = x->R;
    const int L = R->L, K = R->K, T = x->white->c.T, S = x->white->NA, P = x->white->P;
    Status s = ST_OK;
    *dsec = *psec = 0;
    if (m->kind == EVAL_POLICY && x->deploy)
        return deployed(x, o, rows, nb, N, ids, mask, first, sec, asec, dsec, psec, e);
    if (eval_mode_env(m)) {
        const int Sr = ranked_segments(N, T) * P; /* (segment, head) entries per head */
        const RankKind kind = env_of(x, m)->c.kind;
        for (int l = 0; l < L; l++) /* rk (L, nb, Sr) */
            for (int b = 0; b < nb; b++)
                for (int sg = 0; sg < Sr; sg++)
                    rk[((size_t)l * nb + b) * Sr + sg] = o->rank[((size_t)rows[b] * L + l) * S + sg];
        const double t0 = time_now();
        s = ranked_begin(R, ids, NULL, mask, nb, N, e);
        for (int l = 0; l < L && !s; l++) {
            const int32_t *rl = rk + (size_t)l * nb * Sr;
            s = P > 1 ? ranked_layer_each_heads(R, kind, T, rl, NULL, NULL, e)
                      : ranked_layer_each(R, kind, T, rl, NULL, NULL, e);
        }
        if (!s) s = ranked_end(R, e);
        *sec = time_now() - t0;
        *asec = ranked_attn_seconds(R);
        if (s || !first) return s;
        int64_t real = 0;
        for (int b = 0; b < nb; b++) real += x->set->len[rows[b]];
        o->attn_flops += ranked_attn_flops(R);
        o->model_flops += model_flops_real(R, real);
        keep_logits(x, m, R, o, rows, nb, ids);
        return ST_OK;
    }
    RankSpec sp[BERT_MAX_LAYERS];
    for (int l = 0; l < L; l++)
        sp[l] = rank_spec(m->kind == EVAL_NYSTROM ? RANK_NYSTROM : RANK_PERFORMER, m->r);
    const double t0 = time_now();
    *asec = 0;
    for (int b = 0; b < nb && !s; b++) { /* each sequence alone at its own length */
        const int n = x->set->len[rows[b]];
        s = ranked_forward(R, ids + (size_t)b * N, NULL, mask + (size_t)b * N, 1, n, sp, e);
        *asec += ranked_attn_seconds(R);
        if (s || !first) continue;
        o->attn_flops += ranked_attn_flops(R);
        o->model_flops += model_flops_real(R, n);
        memcpy(o->logits + (size_t)rows[b] * K, row_logits(R, 0), sizeof(float) * K);
        if (R->dec) /* sequence b alone: its n rows against full's of the batch */
            eval_lm_row(o->lm + (size_t)rows[b] * EVAL_LM_STATS, ids + (size_t)b * N, n,
                        R->logits, x->lm_full + (size_t)b * N * K, K);
    }
    *sec = time_now() - t0;
    return s;
}

void eval_decide_finish(EvalModeOut *o, const EvalBatches *bt, int L) {
    double acc[EVAL_ACC] = {0};
    for (int k = 0; k < bt->n_batches; k++)
        for (int j = 0; j < 7 + L; j++) acc[j] += o->batch_acc[(size_t)k * EVAL_ACC + j];
    const double steps = (double)bt->n * L;
    for (int l = 0; l < L; l++) o->rank_layer[l] = acc[7 + l] / bt->n;
    o->fidelity = acc[0] / steps, o->rel_err = acc[1] / steps, o->bound = acc[2] / steps;
    o->masked = acc[3] / steps, o->full_share = acc[4] / steps, o->lat_est = acc[5] / steps;
    o->over_eps = acc[6] / steps;
}

Status eval_time(EvalCtx *x, const EvalBatches *bt, const EvalMode *modes, EvalModeOut *outs,
                 int n_modes, Err *e) {
    const EncodedSet *set = x->set;
    const int W = set->max_len, L = x->R->L, S = x->white->NA, nk = bt->n_batches, reps = x->reps;
    int Bm = 1;
    for (int k = 0; k < nk; k++)
        Bm = bt->start[k + 1] - bt->start[k] > Bm ? bt->start[k + 1] - bt->start[k] : Bm;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)Bm * W);        /* (B, W) */
    uint8_t *mask = malloc((size_t)Bm * W);                           /* (B, W) */
    int32_t *rk = malloc(sizeof(int32_t) * (size_t)L * Bm * S);       /* (L, B, S) */
    double *t = malloc(sizeof(double) * (size_t)n_modes * nk * reps); /* (modes, batches, reps) */
    double *ta = malloc(sizeof(double) * (size_t)n_modes * nk * reps); /* attention alone */
    double *td = malloc(sizeof(double) * (size_t)n_modes * nk * reps); /* the decision */
    double *tp = malloc(sizeof(double) * (size_t)n_modes * nk * reps); /* its policy network */
    int *ord = malloc(sizeof(int) * (size_t)(n_modes > 0 ? n_modes : 1)); /* full first */
    const int dec = x->R->dec;
    x->lm_full = dec ? malloc(sizeof(float) * (size_t)Bm * W * x->R->K) : NULL; /* (B, W, V) */
    Status s = ST_OK;
    if (!ids || !mask || !rk || !t || !ta || !td || !tp || !ord || (dec && !x->lm_full))
        s = err_set(e, ST_NOMEM, "eval: out of memory (timing)");
    /* the order of the modes in a batch: full first (a decoder's rows are reduced against
       its pass), the others as listed */
    if (ord) {
        ord[0] = 0;
        for (int i = n_modes - 1; i >= 0; i--)
            if (modes[i].kind == EVAL_FULL) ord[0] = i;
        for (int i = 0, j = 1; i < n_modes; i++)
            if (i != ord[0]) ord[j++] = i;
    }
    for (int i = 0; i < n_modes; i++) {
        EvalModeOut *o = &outs[i];
        o->attn_flops = o->model_flops = o->rank_diff = 0;
        if (modes[i].kind != EVAL_POLICY) continue; /* the probe rule's FLOPs stay */
        memset(o->dec_sec, 0, sizeof o->dec_sec), memset(o->dec_fl, 0, sizeof o->dec_fl);
    }
    for (int rep = 0; rep < reps && !s; rep++)
        for (int k = 0; k < nk && !s; k++) {
            if (!eval_mine(x, k)) continue;
            const int32_t *rows = bt->order + bt->start[k];
            const int nb = bt->start[k + 1] - bt->start[k];
            const int N = encoded_max_len(set, rows, nb);
            encoded_gather(set, rows, nb, N, ids, mask, NULL);
            for (int j = 0; j < n_modes && !s; j++) {
                const int i = ord[j];
                const size_t at = ((size_t)i * nk + k) * reps + rep;
                s = forward(x, &modes[i], &outs[i], rows, nb, N, ids, mask, rk, rep == 0, &t[at],
                            &ta[at], &td[at], &tp[at], e);
                if (s) err_prefix(e, "mode %s", modes[i].name);
                progress_add(x->progress, nb);
            }
        }
    for (int i = 0; i < n_modes && !s; i++)
        for (int k = 0; k < nk; k++) {
            if (!eval_mine(x, k)) continue;
            outs[i].sec[k] = time_median(t + ((size_t)i * nk + k) * reps, reps);
            outs[i].attn_sec[k] = time_median(ta + ((size_t)i * nk + k) * reps, reps);
            outs[i].decision_sec[k] = time_median(td + ((size_t)i * nk + k) * reps, reps);
            if (modes[i].kind == EVAL_POLICY && x->deploy)
                outs[i].policy_sec[k] = time_median(tp + ((size_t)i * nk + k) * reps, reps);
        }
    free(ids), free(mask), free(rk), free(t), free(ta), free(td), free(tp), free(ord);
    free(x->lm_full);
    x->lm_full = NULL;
    return s;
}
