/* rankenv.c: the rank environment's configuration, memory, batch order, reset and saved
 * state (rankenv.h). The step and reward are in rankenv_step.c, the observation in
 * rankenv_obs.c. */
#include "env/rankenv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RNG_STREAM 0x52414e4b4f524452ull /* the batch order's stream of the config seed */

_Static_assert(_Generic((int32_t)0, int: 1, default: 0), "int32_t must be int (rank grid)");

static const char *const info_names[RANKENV_N_INFO] = {RANKENV_INFO_NAMES};

void rankenv_config_default(RankEnvConfig *c) {
    memset(c, 0, sizeof *c);
    static const int r[] = {4, 8, 16, 32};
    c->kind = RANK_WHITENED;
    c->n_ranks = 4;
    memcpy(c->ranks, r, sizeof r);
    c->batch = 32;
    c->alpha = 1, c->beta = 0.05, c->gamma = 0.1, c->lambda = 1, c->epsilon = 1;
    c->latency = RANKENV_LAT_TABLE;
    c->guard = RANKENV_GUARD_OUTPUT, c->bound = BOUND_TIGHT;
    c->bucket = 1, c->bucket_pool = 50, c->seed = 1;
}

static int in_grid(const Ranked *R, int r) {
    for (int i = 0; i < R->n_ranks; i++)
        if (R->ranks[i] == r) return 1;
    return 0;
}

/* the config against R, the set and the table; *S = the number of heads */
static Status check(const Ranked *R, const EncodedSet *set, const LatencyTable *lt,
                    const RankEnvConfig *c, int *S, Err *e) {
    if (c->kind != RANK_PLAIN && c->kind != RANK_WHITENED)
        return err_set(e, ST_INVALID, "rankenv: kind: expected plain or whitened, found %s",
                       rank_kind_name(c->kind));
    if (c->kind == RANK_WHITENED && !R->whitened)
        return err_set(e, ST_INVALID, "rankenv: kind whitened: the factors are not calibrated");
    if (!R->has_bounds)
        return err_set(e, ST_INVALID, "rankenv: the ranked forward was planned without bounds");
    if (c->n_ranks < 1 || c->n_ranks > RANKENV_MAX_GRID)
        return err_set(e, ST_INVALID, "rankenv: ranks: expected 1..%d ranks, found %d",
                       RANKENV_MAX_GRID, c->n_ranks);
    for (int g = 0; g < c->n_ranks; g++) {
        const int r = c->ranks[g];
        if (r < 1 || r >= R->dh || (g && r <= c->ranks[g - 1]) || !in_grid(R, r))
            return err_set(e, ST_INVALID,
                           "rankenv: ranks[%d] = %d: expected increasing ranks in 1..%d that "
                           "the ranked forward's grid holds (full is added as the last action)",
                           g, r, R->dh - 1);
    }
    const int parts = c->parts < 1 ? 1 : c->parts;
    if (c->batch < 1 || c->batch > R->max_B || (int64_t)c->batch * parts > set->n)
        return err_set(e, ST_INVALID,
                       "rankenv: batch: expected 1..%d (ranked max_B) and at most the set's %d "
                       "rows over the %d processes, found %d", R->max_B, set->n, parts,
                       c->batch);
    if (c->part < 0 || c->part >= parts)
        return err_set(e, ST_INVALID, "rankenv: part: expected 0..%d, found %d", parts - 1,
                       c->part);
    if (set->max_len > R->max_N)
        return err_set(e, ST_INVALID, "rankenv: set max_len %d exceeds the ranked max_N %d",
                       set->max_len, R->max_N);
    if (c->T < 0) return err_set(e, ST_INVALID, "rankenv: T: expected >= 0, found %d", c->T);
    const int need = ranked_segments(set->max_len, c->T);
    *S = c->max_segments > 0 ? c->max_segments : need;
    if (*S < need || *S > ATTN_MAX_SEGS)
        return err_set(e, ST_INVALID,
                       "rankenv: max_segments: expected %d..%d (ceil(max_len %d / T %d)), found %d",
                       need, ATTN_MAX_SEGS, set->max_len, c->T, c->max_segments);
    if (c->per_head != 0 && c->per_head != 1)
        return err_set(e, ST_INVALID, "rankenv: per_head: expected 0 or 1, found %d",
                       c->per_head);
    const int64_t nt = RANKENV_HEAD_TOKEN0 + (int64_t)*S * (c->per_head ? R->H : 1);
    if (nt > RANKENV_MAX_TOKENS)
        return err_set(e, ST_INVALID,
                       "rankenv: per_head: %d segments x %d heads give %lld observation tokens, "
                       "expected at most %d (the policy's limit): raise T or drop per_head",
                       *S, c->per_head ? R->H : 1, (long long)nt, RANKENV_MAX_TOKENS);
    const double w[5] = {c->alpha, c->beta, c->gamma, c->lambda, c->epsilon};
    static const char *const wn[5] = {"alpha", "beta", "gamma", "lambda", "epsilon"};
    for (int i = 0; i < 5; i++)
        if (!(w[i] >= 0) || !isfinite(w[i]))
            return err_set(e, ST_INVALID, "rankenv: %s: expected a finite value >= 0, found %g",
                           wn[i], w[i]);
    if (c->latency != RANKENV_LAT_TABLE && c->latency != RANKENV_LAT_LIVE)
        return err_set(e, ST_INVALID, "rankenv: latency: expected table or live");
    if (c->guard != RANKENV_GUARD_OUTPUT && c->guard != RANKENV_GUARD_INPUT &&
        c->guard != RANKENV_GUARD_NONE)
        return err_set(e, ST_INVALID, "rankenv: guard: expected output, input or none, found %d",
                       (int)c->guard);
    if (c->bound != BOUND_TIGHT && c->bound != BOUND_CHEAP)
        return err_set(e, ST_INVALID, "rankenv: bound: expected tight or cheap, found %d",
                       (int)c->bound);
    if (c->probe_layers < 0)
        return err_set(e, ST_INVALID, "rankenv: probe_layers: expected >= 0, found %d",
                       c->probe_layers);
    if (c->probe_features && c->n_ranks < 2)
        return err_set(e, ST_INVALID, "rankenv: probe features: expected at least 2 grid ranks "
                       "(the probe runs ranks[0] and ranks[1]), found %d", c->n_ranks);
    if (c->latency == RANKENV_LAT_TABLE && !lt)
        return err_set(e, ST_INVALID, "rankenv: latency table: required in table mode");
    if (R->dec && c->head_features)
        return err_set(e, ST_INVALID, "rankenv: head features: expected none on a decoder (they "
                       "read the classifier's head), found them on");
    if (c->latency == RANKENV_LAT_TABLE && lt->causal != R->dec)
        return err_set(e, ST_INVALID, "rankenv: latency table: expected one measured %s (the "
                       "model is %s), found one measured %s", R->dec ? "under a causal mask" :
                       "without a causal mask", R->dec ? "a causal decoder" : "an encoder",
                       lt->causal ? "under a causal mask" : "without one");
    if (c->latency == RANKENV_LAT_TABLE) {
        Status s = latency_table_check(lt, R->C, R->H, e);
        if (s) return err_prefix(e, "rankenv");
    }
    if ((c->bucket != 0 && c->bucket != 1) || c->bucket_pool < 1)
        return err_set(e, ST_INVALID,
                       "rankenv: bucket: expected 0 or 1 and bucket_pool >= 1, found %d, %d",
                       c->bucket, c->bucket_pool);
    return ST_OK;
}

static void plan(RankEnv *E) {
    const size_t B = (size_t)E->B, S = (size_t)E->S, G = (size_t)E->G,
                 NM = (size_t)E->set->max_len, P = (size_t)E->P, NA = (size_t)E->NA;
    MemPlan *p = &E->mem;
    mem_plan_init(p);
    mem_plan_i32(p, &E->rows, B, "rankenv.rows");
    mem_plan_i32(p, &E->ids, B * NM, "rankenv.ids");
    mem_plan_u8(p, &E->mask, B * NM, "rankenv.mask");
    mem_plan_i32(p, &E->len, B, "rankenv.len");
    mem_plan_i32(p, &E->nseg, B, "rankenv.nseg");
    mem_plan_i32(p, &E->seg_rows, B * S, "rankenv.seg_rows");
    /* p_full's logits: (B, K), or a decoder's per position (B, max_len, K) */
    mem_plan_f32(p, &E->full_logits, B * (E->R->dec ? NM : 1) * (size_t)E->K,
                 "rankenv.full_logits");
    mem_plan_i32(p, &E->rank, B * NA, "rankenv.rank");
    mem_plan_i32(p, &E->act, B * NA, "rankenv.act");
    mem_plan_i32(p, &E->prev, B * NA, "rankenv.prev");
    mem_plan_f64(p, &E->brow, B * P * G * NM, "rankenv.brow");
    mem_plan_f64(p, &E->bfro, B * NA * G, "rankenv.bfro");
    mem_plan_f64(p, &E->yseg, B * S, "rankenv.yseg");
    mem_plan_f64(p, &E->den, B * S, "rankenv.den");
    mem_plan_f64(p, &E->rho, B * NA * G, "rankenv.rho");
    mem_plan_u8(p, &E->allow, B * NA * G, "rankenv.allow");
    mem_plan_f64(p, &E->masked, B, "rankenv.masked");
    mem_plan_f64(p, &E->cosv, S * B, "rankenv.cosv");
    mem_plan_f64(p, &E->relv, S * B, "rankenv.relv");
    mem_plan_f64(p, &E->tsec, B, "rankenv.tsec");
    mem_plan_f64(p, &E->asec, B, "rankenv.asec");
    mem_plan_f32(p, &E->layer_tok, (size_t)E->L * RANKENV_TOKEN_DIM, "rankenv.layer_tok");
    mem_plan_f32(p, &E->conv_w, (size_t)E->C * 3 * RANKENV_CONV, "rankenv.conv_w");
    mem_plan_f32(p, &E->conv_p, B * NM * 3 * RANKENV_CONV, "rankenv.conv_p");
    mem_plan_f32(p, &E->hd_in, B * (size_t)E->C, "rankenv.hd_in");
    mem_plan_f32(p, &E->hd_pre, B * (size_t)E->C, "rankenv.hd_pre");
    mem_plan_f32(p, &E->hd_z, B * (size_t)E->K, "rankenv.hd_z");
    mem_plan_f64(p, &E->hd_stat, 3 * B, "rankenv.hd_stat");
    const size_t pr = E->c.probe_features ? B * NM * (size_t)E->C : 1;
    mem_plan_f32(p, &E->pa, pr, "rankenv.pa");
    mem_plan_f32(p, &E->pb, pr, "rankenv.pb");
    mem_plan_f64(p, &E->pchg, B * S, "rankenv.pchg");
}

Status rankenv_init(RankEnv *E, Ranked *R, const EncodedSet *set, const LatencyTable *lt,
                    const RankEnvConfig *c, Err *e) {
    memset(E, 0, sizeof *E);
    E->layer = -1;
    int S = 0;
    Status s = check(R, set, lt, c, &S, e);
    if (s) return s;
    E->c = *c, E->R = R, E->set = set, E->lt = c->latency == RANKENV_LAT_TABLE ? lt : NULL;
    if (E->c.parts < 1) E->c.parts = 1, E->c.part = 0;
    E->L = R->L, E->C = R->C, E->H = R->H, E->dh = R->dh, E->K = R->K;
    E->G = c->n_ranks, E->B = c->batch, E->S = S, E->max_pos = R->m->c.max_pos;
    E->P = c->per_head ? R->H : 1, E->NA = S * E->P;
    RankEnvDims *d = &E->dims;
    d->n_envs = E->B, d->n_heads = E->NA, d->n_tokens = RANKENV_HEAD_TOKEN0 + E->NA;
    d->token_dim = RANKENV_TOKEN_DIM, d->head_token0 = RANKENV_HEAD_TOKEN0, d->value_token = 0;
    d->n_actions = E->G + 1, d->max_steps = E->L, d->n_info = RANKENV_N_INFO;
    for (int i = 0; i < RANKENV_N_INFO; i++) d->info_names[i] = info_names[i];
    rng_init(&E->rng, c->seed, RNG_STREAM);
    s = batch_plan_init(&E->plan, set->n, E->B * E->c.parts, e); /* every process's rows */
    if (!s) {
        E->tfl = calloc((size_t)E->B, sizeof *E->tfl);
        E->afl = calloc((size_t)E->B, sizeof *E->afl);
        E->pfl = calloc((size_t)E->B, sizeof *E->pfl);
        if (!E->tfl || !E->afl || !E->pfl) s = err_set(e, ST_NOMEM, "rankenv: out of memory");
    }
    if (!s) {
        plan(E);
        s = mem_plan_alloc(&E->mem, e);
    }
    if (!s) s = rankenv_obs_prepare(E, e);
    if (s) rankenv_free(E);
    return s;
}

void rankenv_free(RankEnv *E) {
    batch_plan_free(&E->plan);
    mem_plan_free(&E->mem);
    free(E->tfl), free(E->afl), free(E->pfl);
    E->tfl = E->afl = E->pfl = NULL;
    E->layer = -1;
}

/* the exact pass (kept: p_full's logits), then the ranked pass begun at layer 0 */
static Status begin_rows(RankEnv *E, const int32_t *rows, int n, float *obs, uint8_t *tok_mask,
                         uint8_t *act_mask, Err *e) {
    Ranked *R = E->R;
    const EncodedSet *set = E->set;
    E->layer = -1, E->deploy = 0;
    for (int i = 0; i < n; i++)
        if (rows[i] < 0 || rows[i] >= set->n)
            return err_set(e, ST_INVALID, "rankenv: row %d: expected 0..%d", rows[i],
                           set->n - 1);
    memcpy(E->rows, rows, sizeof(int32_t) * (size_t)n);
    const int N = encoded_max_len(set, rows, n);
    encoded_gather(set, rows, n, N, E->ids, E->mask, NULL);
    E->Sr = ranked_segments(N, E->c.T);
    for (size_t i = 0; i < (size_t)n * E->Sr * E->P; i++) E->rank[i] = RANKED_FULL;
    /* the exact model: every sequence full through ranked_layer_each, the same calls an
       all-full episode makes, so its logits are p_full's bit for bit */
    Status s = ranked_begin(R, E->ids, NULL, E->mask, n, N, e);
    for (int l = 0; l < E->L && !s; l++)
        s = ranked_layer_each(R, E->c.kind, E->c.T, E->rank, NULL, NULL, e);
    if (!s) s = ranked_end(R, e);
    if (s) return err_prefix(e, "rankenv: reset");
    memcpy(E->full_logits, R->logits, sizeof(float) * (size_t)n * (R->dec ? N : 1) * E->K);
    memset(&E->cost, 0, sizeof E->cost);
    return rankenv_start_pass(E, n, N, obs, tok_mask, act_mask, e);
}

Status rankenv_start_pass(RankEnv *E, int n, int N, float *obs, uint8_t *tok_mask,
                          uint8_t *act_mask, Err *e) {
    Ranked *R = E->R;
    E->n_active = n, E->N = N, E->Sr = ranked_segments(N, E->c.T);
    Status s = ranked_begin(R, E->ids, NULL, E->mask, n, N, e);
    if (s) return err_prefix(e, "rankenv: reset");
    for (int b = 0; b < n; b++) {
        const int nb = ranked_seq_len(R, b);
        E->len[b] = nb, E->nseg[b] = ranked_segments(nb, E->c.T);
        for (int sg = 0; sg < E->S; sg++) {
            const int i0 = E->c.T > 0 ? sg * E->c.T : 0;
            const int i1 = E->c.T > 0 && (sg + 1) * E->c.T < nb ? (sg + 1) * E->c.T : nb;
            int w = 0;
            for (int i = i0; i < i1; i++) w += E->mask[(size_t)b * N + i];
            E->seg_rows[(size_t)b * E->S + sg] = sg < E->nseg[b] ? w : 0;
        }
    }
    for (size_t i = 0; i < (size_t)E->B * E->NA; i++) E->prev[i] = -1;
    E->layer = 0;
    s = rankenv_observe(E, obs, tok_mask, act_mask, e);
    if (s) E->layer = -1;
    return s;
}

Status rankenv_reset_rows(RankEnv *E, const int32_t *rows, int n, float *obs,
                          uint8_t *tok_mask, uint8_t *act_mask, Err *e) {
    if (n < 1 || n > E->B)
        return err_set(e, ST_INVALID, "rankenv_reset_rows: expected 1..%d rows, found %d", E->B,
                       n);
    return begin_rows(E, rows, n, obs, tok_mask, act_mask, e);
}

Status rankenv_reset(void *self, float *obs, uint8_t *tok_mask, uint8_t *act_mask, Err *e) {
    RankEnv *E = self;
    const BatchPlan *bp = &E->plan;
    for (;;) { /* the next full batch of the epoch order (short ones skipped) */
        if (E->epoch == 0 || E->next_batch >= bp->n_batches) {
            rng_save(&E->rng, E->rng_epoch);
            batch_plan_make(&E->plan, E->set->len, E->c.bucket, E->c.bucket_pool, &E->rng);
            E->epoch++, E->next_batch = 0;
        }
        const int k = (int)E->next_batch++, Bg = E->B * E->c.parts;
        if (bp->start[k + 1] - bp->start[k] == Bg) /* this process's rows of it */
            return begin_rows(E, bp->idx + bp->start[k] + E->c.part * E->B, E->B, obs, tok_mask,
                              act_mask, e);
    }
}

/* ---- saved state ---- */

enum { CFG_N = 14 };
static const char *const cfg_names[CFG_N] = {
    "state_version", "n_envs", "n_tokens", "token_dim", "n_heads", "n_actions", "max_steps",
    "kind", "T", "set_rows", "bucket", "bucket_pool", "seed", "n_ranks"};

static void cfg_words(const RankEnv *E, int64_t w[CFG_N]) {
    const RankEnvDims *d = &E->dims;
    const int64_t v[CFG_N] = {RANKENV_STATE_VERSION, d->n_envs, d->n_tokens, d->token_dim,
                              d->n_heads, d->n_actions, d->max_steps, E->c.kind, E->c.T,
                              E->set->n, E->c.bucket, E->c.bucket_pool, (int64_t)E->c.seed,
                              E->G};
    memcpy(w, v, sizeof v);
}

static void path_of(char *out, size_t cap, const char *group, const char *name) {
    const size_t n = strlen(group);
    snprintf(out, cap, "%s%s%s", group, n && group[n - 1] == '/' ? "" : "/", name);
}

Status rankenv_save(void *self, Store *st, const char *group, Err *e) {
    RankEnv *E = self;
    char p[512];
    int64_t cfg[CFG_N], ranks[RANKENV_MAX_GRID];
    cfg_words(E, cfg);
    for (int g = 0; g < E->G; g++) ranks[g] = E->c.ranks[g];
    uint64_t rng[RNG_STATE_WORDS];
    rng_save(&E->rng, rng);
    const int64_t cnt[5] = {E->epoch, E->next_batch, E->episodes, E->steps, E->violations};
    const int64_t dc = CFG_N, dg = E->G, dr = RNG_STATE_WORDS, dn = 5;
    path_of(p, sizeof p, group, "config");
    Status s = store_write(st, p, DT_I64, cfg, 1, &dc, e);
    path_of(p, sizeof p, group, "ranks");
    if (!s) s = store_write(st, p, DT_I64, ranks, 1, &dg, e);
    path_of(p, sizeof p, group, "rng");
    if (!s) s = store_write(st, p, DT_U64, rng, 1, &dr, e);
    path_of(p, sizeof p, group, "rng_epoch");
    if (!s) s = store_write(st, p, DT_U64, E->rng_epoch, 1, &dr, e);
    path_of(p, sizeof p, group, "counters");
    if (!s) s = store_write(st, p, DT_I64, cnt, 1, &dn, e);
    return s ? err_prefix(e, "rankenv_save") : ST_OK;
}

Status rankenv_load(void *self, Store *st, const char *group, Err *e) {
    RankEnv *E = self;
    char p[512];
    int64_t want[CFG_N], got[CFG_N], ranks[RANKENV_MAX_GRID], cnt[5];
    uint64_t rng[RNG_STATE_WORDS], rng_ep[RNG_STATE_WORDS];
    cfg_words(E, want);
    const int64_t dc = CFG_N, dr = RNG_STATE_WORDS, dn = 5;
    path_of(p, sizeof p, group, "config");
    Status s = store_read(st, p, DT_I64, got, 1, &dc, e);
    if (s) return err_prefix(e, "rankenv_load");
    for (int i = 0; i < CFG_N; i++)
        if (got[i] != want[i])
            return err_set(e, ST_SHAPE,
                           "rankenv_load: %s: %s: the saved environment has %lld, this one %lld",
                           p, cfg_names[i], (long long)got[i], (long long)want[i]);
    const int64_t dg = E->G;
    path_of(p, sizeof p, group, "ranks");
    s = store_read(st, p, DT_I64, ranks, 1, &dg, e);
    for (int g = 0; !s && g < E->G; g++)
        if (ranks[g] != E->c.ranks[g])
            return err_set(e, ST_SHAPE,
                           "rankenv_load: %s: ranks[%d]: the saved environment has %lld, this "
                           "one %d", p, g, (long long)ranks[g], E->c.ranks[g]);
    path_of(p, sizeof p, group, "rng");
    if (!s) s = store_read(st, p, DT_U64, rng, 1, &dr, e);
    path_of(p, sizeof p, group, "rng_epoch");
    if (!s) s = store_read(st, p, DT_U64, rng_ep, 1, &dr, e);
    path_of(p, sizeof p, group, "counters");
    if (!s) s = store_read(st, p, DT_I64, cnt, 1, &dn, e);
    if (s) return err_prefix(e, "rankenv_load");
    if (cnt[0] < 0 || cnt[1] < 0 || cnt[1] > E->plan.n_batches)
        return err_set(e, ST_FORMAT, "rankenv_load: %s: epoch %lld, batch %lld of %d", p,
                       (long long)cnt[0], (long long)cnt[1], E->plan.n_batches);
    /* the epoch's order is a function of the Rng at its start: redraw it, then continue */
    memcpy(E->rng_epoch, rng_ep, sizeof rng_ep);
    if (cnt[0] > 0) {
        rng_load(&E->rng, rng_ep);
        batch_plan_make(&E->plan, E->set->len, E->c.bucket, E->c.bucket_pool, &E->rng);
    }
    rng_load(&E->rng, rng);
    E->epoch = cnt[0], E->next_batch = cnt[1], E->episodes = cnt[2], E->steps = cnt[3];
    E->violations = cnt[4];
    E->layer = -1;
    return ST_OK;
}
