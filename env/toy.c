/* toy.c: the toy rank environment with a known optimal policy (the model is in toy.h).
 * Scales s_{l,c} of fidelity = 1 - exp(-r / s) per (layer, difficulty): for a doubling rank
 * grid and a cost of TOY_COST per grid step, s = 1.7 * 2^a* puts the best action at a*
 * with a margin of 0.063 (s = 1 and s = 40 for the ends); see the table below. */
#include "env/toy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* s_{l,c}: the rank scale at which layer l's attention on an input of difficulty c saturates
   (best action per layer: c = 0: 0 1 2 0(masked -> 1); c = 1: 2 3 4 2) */
static const double toy_scale[2][TOY_LAYERS] = {{1.0, 3.4, 6.8, 1.0}, {6.8, 13.6, 40.0, 6.8}};

int toy_rank(int a) { return 4 << a; }

int toy_allowed(int layer, int c, int a) { return !(a == 0 && (c == 1 || layer % 2 == 1)); }

double toy_fidelity(int layer, int c, int a) {
    return 1.0 - exp(-(double)toy_rank(a) / toy_scale[c][layer]);
}

double toy_reward(int layer, int c, int a) { return toy_fidelity(layer, c, a) - TOY_COST * a; }

int toy_optimal(int layer, int c) {
    int best = -1;
    for (int a = 0; a < TOY_ACTIONS; a++)
        if (toy_allowed(layer, c, a) &&
            (best < 0 || toy_reward(layer, c, a) > toy_reward(layer, c, best)))
            best = a;
    return best;
}

Status toy_init(ToyEnv *t, const ToyConfig *c, Err *e) {
    memset(t, 0, sizeof *t);
    if (c->n_envs < 1 || c->n_envs > (1 << 20))
        return err_set(e, ST_INVALID, "toy_init: n_envs: expected 1..%d, found %d", 1 << 20,
                       c->n_envs);
    if (c->n_segments < 1 || c->n_segments > TOY_MAX_SEGMENTS)
        return err_set(e, ST_INVALID, "toy_init: n_segments: expected 1..%d, found %d",
                       TOY_MAX_SEGMENTS, c->n_segments);
    if (!(c->noise >= 0.0f))
        return err_set(e, ST_INVALID, "toy_init: noise: expected >= 0, found %g",
                       (double)c->noise);
    t->cfg = *c;
    t->n_envs = c->n_envs;
    t->n_tokens = 3 + c->n_segments;
    t->token_dim = TOY_TOKEN_DIM;
    t->n_heads = c->n_segments;
    t->head_token0 = 3;
    t->value_token = 0;
    t->n_actions = TOY_ACTIONS;
    t->max_steps = TOY_LAYERS;
    t->n_info = TOY_N_INFO;
    t->info_names[0] = "optimal";
    t->info_names[1] = "rank";
    t->info_names[2] = "fidelity";
    t->info_names[3] = "cost";
    size_t ns = (size_t)c->n_envs * (size_t)c->n_segments;
    /* one allocation: rng (n_envs) | prev (n_envs) | diff (ns) | present (ns) */
    size_t off = (size_t)c->n_envs * sizeof(Rng);
    uint8_t *block = calloc(off + (size_t)c->n_envs * sizeof(int32_t) + 2 * ns, 1);
    if (!block) return err_set(e, ST_NOMEM, "toy_init: out of memory");
    t->rng = (Rng *)(void *)block;
    t->prev = (int32_t *)(void *)(block + off);
    t->diff = block + off + (size_t)c->n_envs * sizeof(int32_t);
    t->present = t->diff + ns;
    for (int i = 0; i < c->n_envs; i++) /* slot g's stream: TOY_STREAM, then g in the high bits */
        rng_init(&t->rng[i], c->seed, TOY_STREAM | (uint64_t)(c->first_slot + i) << 32);
    t->layer = -1;
    return ST_OK;
}

void toy_free(ToyEnv *t) {
    if (!t) return;
    free(t->rng); /* the block */
    memset(t, 0, sizeof *t);
}

/* observe: the tokens and masks of every slot at the current layer */
static void observe(ToyEnv *t, float *obs, uint8_t *tok_mask, uint8_t *act_mask) {
    const int T = t->n_tokens, D = TOY_TOKEN_DIM, NS = t->cfg.n_segments, A = TOY_ACTIONS;
    const int l = t->layer;
    memset(obs, 0, (size_t)t->n_envs * T * D * sizeof *obs);
    for (int i = 0; i < t->n_envs; i++) {
        float *o = obs + (size_t)i * T * D;
        uint8_t *tm = tok_mask + (size_t)i * T;
        o[0 * D + 0] = 1.0f;                                        /* CLS */
        o[1 * D + 1] = 1.0f;                                        /* layer */
        o[1 * D + 4 + l] = 1.0f;
        o[1 * D + 8] = (float)l / (float)(TOY_LAYERS - 1);
        o[2 * D + 2] = 1.0f;                                        /* previous action */
        if (t->prev[i] >= 0) o[2 * D + 4 + t->prev[i]] = 1.0f;
        else o[2 * D + 9] = 1.0f;
        tm[0] = tm[1] = tm[2] = 1;
        for (int s = 0; s < NS; s++) {
            float *seg = o + (size_t)(3 + s) * D;
            int c = t->diff[i * NS + s], here = t->present[i * NS + s];
            seg[3] = 1.0f;
            seg[4] = 2.0f * (float)c - 1.0f;
            seg[5] = (float)s / (float)NS;
            for (int j = 6; j < D; j++) seg[j] = t->cfg.noise * (float)rng_normal(&t->rng[i]);
            tm[3 + s] = (uint8_t)here;
            uint8_t *am = act_mask + ((size_t)i * NS + s) * A;
            for (int a = 0; a < A; a++) am[a] = here ? (uint8_t)toy_allowed(l, c, a) : 1;
        }
    }
}

Status toy_reset(void *self, float *obs, uint8_t *tok_mask, uint8_t *act_mask, Err *e) {
    ToyEnv *t = self;
    (void)e;
    const int NS = t->cfg.n_segments;
    for (int i = 0; i < t->n_envs; i++) {
        for (int s = 0; s < NS; s++) t->diff[i * NS + s] = (uint8_t)rng_below(&t->rng[i], 2);
        for (int s = 0; s < NS; s++)
            t->present[i * NS + s] = (uint8_t)(s == 0 ? 1 : rng_below(&t->rng[i], 2));
        t->prev[i] = -1;
    }
    t->layer = 0;
    observe(t, obs, tok_mask, act_mask);
    return ST_OK;
}

Status toy_step(void *self, const int32_t *action, float *obs, uint8_t *tok_mask,
                uint8_t *act_mask, float *reward, uint8_t *done, float *info, Err *e) {
    ToyEnv *t = self;
    const int NS = t->cfg.n_segments, l = t->layer;
    if (l < 0) return err_set(e, ST_INVALID, "toy_step: called before toy_reset (or after "
                              "the episodes ended without a reset)");
    /* check every action first: a failed step changes nothing */
    for (int i = 0; i < t->n_envs; i++)
        for (int s = 0; s < NS; s++) {
            int a = action[i * NS + s], c = t->diff[i * NS + s];
            if (t->present[i * NS + s] && (a < 0 || a >= TOY_ACTIONS || !toy_allowed(l, c, a)))
                return err_set(e, ST_INVALID, "toy_step: episode %d segment %d layer %d: "
                               "expected an allowed action, found %d", i, s, l, a);
        }
    for (int i = 0; i < t->n_envs; i++) {
        double r = 0.0, opt = 0.0, rank = 0.0, fid = 0.0, cost = 0.0;
        int n = 0;
        for (int s = 0; s < NS; s++) {
            if (!t->present[i * NS + s]) continue;
            int a = action[i * NS + s], c = t->diff[i * NS + s];
            r += toy_reward(l, c, a);
            opt += a == toy_optimal(l, c) ? 1.0 : 0.0;
            rank += toy_rank(a);
            fid += toy_fidelity(l, c, a);
            cost += TOY_COST * a;
            n++;
        }
        reward[i] = (float)(r / n);
        float *inf = info + (size_t)i * TOY_N_INFO;
        inf[0] = (float)(opt / n);
        inf[1] = (float)(rank / n);
        inf[2] = (float)(fid / n);
        inf[3] = (float)(cost / n);
        done[i] = (uint8_t)(l + 1 == TOY_LAYERS);
        t->prev[i] = action[i * NS];
    }
    if (l + 1 == TOY_LAYERS) {
        t->episodes += t->n_envs;
        t->layer = -1;
        return ST_OK;
    }
    t->layer = l + 1;
    observe(t, obs, tok_mask, act_mask);
    return ST_OK;
}

/* name: group + "/" + leaf (group e.g. "/env"; not the root "/") */
static void name(char *buf, size_t cap, const char *group, const char *leaf) {
    snprintf(buf, cap, "%s/%s", group, leaf);
}

Status toy_save(void *self, Store *st, const char *group, Err *e) {
    ToyEnv *t = self;
    char nm[512];
    int64_t one = 1, two = 2;
    int64_t shape[2] = {t->n_envs, t->cfg.n_segments};
    Status s = ST_OK;
    for (int i = 0; i < t->n_envs && !s; i++) { /* each slot's stream under its global index */
        snprintf(nm, sizeof nm, "%s/rng/%d", group, t->cfg.first_slot + i);
        s = store_write_rng(st, nm, &t->rng[i], e);
    }
    name(nm, sizeof nm, group, "episodes");
    if (!s) s = store_write(st, nm, DT_I64, &t->episodes, 1, &one, e);
    name(nm, sizeof nm, group, "dims");
    if (!s) s = store_write(st, nm, DT_I64, shape, 1, &two, e);
    return s;
}

Status toy_load(void *self, Store *st, const char *group, Err *e) {
    ToyEnv *t = self;
    char nm[512];
    int64_t one = 1, two = 2, shape[2], episodes;
    name(nm, sizeof nm, group, "dims");
    Status s = store_read(st, nm, DT_I64, shape, 1, &two, e);
    if (s) return s;
    if (shape[0] != t->n_envs || shape[1] != t->cfg.n_segments)
        return err_set(e, ST_SHAPE, "%s: %s: expected n_envs %d, n_segments %d, found %lld, "
                       "%lld", store_path(st), nm, t->n_envs, t->cfg.n_segments,
                       (long long)shape[0], (long long)shape[1]);
    for (int i = 0; i < t->n_envs && !s; i++) {
        snprintf(nm, sizeof nm, "%s/rng/%d", group, t->cfg.first_slot + i);
        s = store_read_rng(st, nm, &t->rng[i], e);
    }
    name(nm, sizeof nm, group, "episodes");
    if (!s) s = store_read(st, nm, DT_I64, &episodes, 1, &one, e);
    if (s) return s;
    t->episodes = episodes;
    t->layer = -1;
    return ST_OK;
}
