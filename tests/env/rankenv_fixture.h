/* rankenv_fixture.h: what tests/env/test_rankenv.c and test_rankenv_state.c share: the
 * small random model of test_ranked.c (V=50, P=24, C=32, H=4 (dh=8), F=64, L=2, K=2;
 * attention weights N(0, 0.3^2) / N(0, 0.15^2), biases N(0, 0.1^2): peaked, biased attention
 * that matters), a set of 40 random sentences of 3..17 tokens, whitened factors calibrated
 * on it, a made-up latency table, the env grid {1, 2, 4} + full, batches of B = 6, and an
 * episode runner recording actions, masks, rewards and info. Static: one copy per test. */
#ifndef DRRL_TESTS_ENV_RANKENV_FIXTURE_H
#define DRRL_TESTS_ENV_RANKENV_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "model/bert.h"
#include "model/ranked.h"
#include "model/ranked_calib.h"
#include "env/rankenv.h"
#include "tests/check.h"

enum { B = 6, NMAX = 17, ROWS = 40, G = 3, A = G + 1, NI = RANKENV_N_INFO, SMAX = 4 };
static const BertConfig cfg = {.vocab = 50, .max_pos = 24, .type_vocab = 2, .d_model = 32,
                               .n_heads = 4, .d_ff = 64, .n_layers = 2, .n_classes = 2,
                               .ln_eps = 1e-12f, .dropout = 0.1f, .attn_dropout = 0.1f};
enum { L = 2, C = 32, H = 4, DH = 8, K = 2, TD = RANKENV_TOKEN_DIM };
static const int grid[G] = {1, 2, 4};
/* epsilon: the relative tight bounds of this small model at ranks 1, 2, 4 of dh = 8 lie
   around 5..9 (geometric means), so 7 masks some and allows others */
static const double EPS = 7.0;
static Bert m;
static Ranked R;
static EncodedSet set;
static LatencyTable lt;

static void die_if(Status s, const Err *e) {
    if (s) {
        fprintf(stderr, "fatal: %s\n", e->msg);
        exit(1);
    }
}

static void setup(Err *e) {
    die_if(bert_init(&m, &cfg, 1, 1, 0, e), e);
    Rng r;
    rng_init(&r, 11, 1);
    bert_init_weights(&m, &r);
    for (int l = 0; l < L; l++) { /* peaked, biased attention that matters (test_ranked.c) */
        MhsaParams *p = &m.p.layer[l].attn;
        float *w[4] = {p->wq, p->wk, p->wv, p->wo}, *b[4] = {p->bq, p->bk, p->bv, p->bo};
        const double sd[4] = {0.3, 0.3, 0.15, 0.15};
        for (int t = 0; t < 4; t++) {
            for (int i = 0; i < C * C; i++)
                w[t][i] = (float)(rng_normal(&r) * sd[t]);
            for (int i = 0; i < C; i++)
                b[t][i] = (float)(rng_normal(&r) * 0.1);
        }
    }
    set.n = ROWS, set.max_len = NMAX;
    set.ids = calloc((size_t)ROWS * NMAX, sizeof(int32_t));
    set.len = calloc(ROWS, sizeof(int32_t));
    for (int i = 0; i < ROWS; i++) {
        set.len[i] = i == 0 ? NMAX : 3 + (int)rng_below(&r, NMAX - 2);
        for (int n = 0; n < set.len[i]; n++)
            set.ids[i * NMAX + n] = n == 0 ? 1 : 2 + (int)rng_below(&r, cfg.vocab - 2);
        set.n_tokens += set.len[i];
    }
    RankedOptions o = {.max_B = B, .max_N = NMAX, .ranks = grid, .n_ranks = G, .bounds = 1};
    die_if(ranked_init(&R, &m, &o, e), e);
    RankedCalib cal = {.rows = ROWS, .batch = B, .ridge = ATTN_RIDGE_DEFAULT};
    die_if(ranked_calibrate(&R, &set, &cal, NULL, e), e);
    memset(&lt, 0, sizeof lt); /* a made-up table: ratios 0.3 + 0.15 g + 0.05 bucket */
    lt.d = C, lt.H = H, lt.B = 1, lt.reps = 1, lt.n_buckets = 3, lt.n_ranks = G;
    const int bk[3] = {8, 12, 17};
    for (int i = 0; i < 3; i++) {
        lt.buckets[i] = bk[i], lt.full[i] = 1e-5 * (i + 1);
        for (int j = 0; j < G; j++)
            lt.ranks[j] = grid[j], lt.lat[i][j] = lt.full[i] * (0.3 + 0.15 * j + 0.05 * i);
    }
}

typedef struct {
    int32_t rows[B];
    int n;
    int32_t act[L][B * SMAX];
    uint8_t amask[L][B * SMAX * A], tmask[L][B * (4 + SMAX)];
    float info[L][B * NI], rew[L][B];
    float obs[L][B * (4 + SMAX) * TD]; /* the observation each step decided from */
} Episode;

/* policy: 0 random allowed, 1 all full, 2 lowest allowed */
static void run(RankEnv *E, int policy, const int32_t *rows, int n, Rng *r, Episode *ep,
                float *obs0, Err *e) {
    static float obs[B * (4 + SMAX) * TD];
    const RankEnvDims *d = &E->dims;
    uint8_t tm[B * (4 + SMAX)], am[B * SMAX * A], done[B];
    if (rows)
        die_if(rankenv_reset_rows(E, rows, n, obs, tm, am, e), e);
    else
        die_if(rankenv_reset(E, obs, tm, am, e), e);
    if (obs0) memcpy(obs0, obs, sizeof(float) * B * d->n_tokens * TD);
    memcpy(ep->rows, E->rows, sizeof ep->rows);
    ep->n = E->n_active;
    for (int l = 0; l < L; l++) {
        memcpy(ep->amask[l], am, sizeof am), memcpy(ep->tmask[l], tm, sizeof tm);
        memcpy(ep->obs[l], obs, sizeof(float) * B * d->n_tokens * TD);
        for (int h = 0; h < B * d->n_heads; h++) {
            const uint8_t *ok = am + h * d->n_actions;
            int a = G; /* policy 1 */
            if (policy == 0) {
                do a = (int)rng_below(r, A);
                while (!ok[a]);
            } else if (policy == 2) {
                a = 0;
                while (!ok[a]) a++;
            }
            ep->act[l][h] = a;
        }
        die_if(rankenv_step(E, ep->act[l], obs, tm, am, ep->rew[l], done, ep->info[l], e), e);
        for (int b = 0; b < B; b++)
            CHECK(done[b] == (l == L - 1), "done at layer %d", l);
    }
}

static void config(RankEnvConfig *c, RankKind kind, int T, double eps) {
    rankenv_config_default(c);
    c->kind = kind, c->n_ranks = G, c->T = T, c->batch = B, c->epsilon = eps;
    memcpy(c->ranks, grid, sizeof grid);
    c->beta = 0.3, c->gamma = 0.2, c->lambda = 5, c->bucket_pool = 2, c->seed = 42;
}

#endif
