/* test_rankenv_lm.c: the rank environment on a causal decoder (model/lm.h): a small random
 * GPT-2-layout model (V=30, C=32, H=4 (dh=8), F=64, L=2, causal conv positions; attention
 * made to matter) and a set of 24 rows of 6..16 tokens, plain factors, grid {2, 4} + full,
 * live latency, batches of B = 4, segments of T = 4. Checks:
 *   - an all-full episode has KL exactly 0 at the last layer (its pass is the exact pass);
 *   - an episode at rank 2 everywhere: the info kl of each sequence equals an independent
 *     double-precision computation from the ranked forward's logits (the same ranks, one
 *     sequence alone): the mean over its positions i with a real next token of
 *     sum_v p_full(v) (log p_full(v) - log p_r(v)), within 1e-5 relative (float logits of
 *     passes of other shapes; measured 6e-8);
 *   - the reward's KL term is -lambda kl;
 *   - per head (env per_head, 16 action heads): rank 2 on every head reproduces the
 *     per-segment episode's info (bound aside) and rewards (gamma 0) bit for bit; with head 0 of each segment at rank
 *     2 and the others full, each sequence's counted attention FLOPs (info flops_ratio x the
 *     teacher's) equal attn_lowrank_flops_heads (causal) and no bound is violated;
 *   - head features and a latency table of the wrong kind (not causal) are refused. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "env/rankenv.h"
#include "model/bert.h"
#include "model/ranked.h"
#include "tests/check.h"

enum { B = 4, NMAX = 16, ROWS = 24, V = 30, C = 32, H = 4, T = 4, SMAX = NMAX / T };
enum { L = 2, G = 2, A = G + 1, NI = RANKENV_N_INFO, TD = RANKENV_TOKEN_DIM };
static const BertConfig cfg = {.vocab = V, .max_pos = NMAX, .type_vocab = 1, .d_model = C,
                               .n_heads = H, .d_ff = 64, .n_layers = L, .n_classes = V,
                               .ln_eps = 1e-5f, .position = BERT_POS_CONV, .conv_kernel = 3,
                               .arch = BERT_ARCH_DECODER, .act = BERT_ACT_GELU};
static const int grid[G] = {2, 4};
static Bert m;
static Ranked R;
static EncodedSet set;

static void die_if(Status s, const Err *e) {
    if (s) {
        fprintf(stderr, "fatal: %s\n", e->msg);
        exit(1);
    }
}

static void setup(Err *e) {
    die_if(bert_init(&m, &cfg, B, NMAX, 0, e), e);
    Rng r;
    rng_init(&r, 23, 1);
    bert_init_weights(&m, &r);
    for (int l = 0; l < L; l++) {
        MhsaParams *p = &m.p.layer[l].attn;
        for (int i = 0; i < C * C; i++) {
            p->wq[i] = (float)(0.3 * rng_normal(&r)), p->wk[i] = (float)(0.3 * rng_normal(&r));
            p->wv[i] = (float)(0.15 * rng_normal(&r)), p->wo[i] = (float)(0.15 * rng_normal(&r));
        }
    }
    set.n = ROWS, set.max_len = NMAX;
    set.ids = calloc((size_t)ROWS * NMAX, sizeof(int32_t));
    set.len = calloc(ROWS, sizeof(int32_t));
    for (int i = 0; i < ROWS; i++) {
        set.len[i] = 6 + (int)rng_below(&r, NMAX - 5);
        for (int n = 0; n < set.len[i]; n++) set.ids[i * NMAX + n] = (int)rng_below(&r, V);
        set.n_tokens += set.len[i];
    }
    RankedOptions o = {.max_B = B, .max_N = NMAX, .ranks = grid, .n_ranks = G, .bounds = 1};
    die_if(ranked_init(&R, &m, &o, e), e);
}

/* KL(p || q) of logits zp, zq (V) in double, computed here */
static double kl_ref(const float *zp, const float *zq) {
    double mp = zp[0], mq = zq[0], sp = 0, sq = 0, kl = 0;
    for (int v = 1; v < V; v++) mp = fmax(mp, zp[v]), mq = fmax(mq, zq[v]);
    for (int v = 0; v < V; v++) sp += exp(zp[v] - mp), sq += exp(zq[v] - mq);
    for (int v = 0; v < V; v++) {
        const double lp = zp[v] - mp - log(sp), lq = zq[v] - mq - log(sq);
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

/* one sequence alone through the ranked forward at plain rank r (0: exact) into z (n, V) */
static void alone(const int32_t *ids, int n, int r, float *z, Err *e) {
    uint8_t ones[NMAX];
    memset(ones, 1, sizeof ones);
    die_if(ranked_begin(&R, ids, NULL, ones, 1, n, e), e);
    for (int l = 0; l < L; l++) {
        RankSpec sp = r ? rank_spec(RANK_PLAIN, r) : rank_spec(RANK_EXACT, 0);
        die_if(ranked_layer(&R, &sp, e), e);
    }
    die_if(ranked_end(&R, e), e);
    memcpy(z, R.logits, sizeof(float) * (size_t)n * V);
}

/* an episode on rows 0 .. B-1 over SMAX P action heads (P = 1: per segment; P = H: per
   (segment, head)), head h of every segment at action a0 (h = 0) or a1 (h > 0); info and
   rewards of the last step */
static void episode_heads(RankEnv *E, int P, int a0, int a1, float *info, float *rew, Err *e) {
    enum { NHMAX = SMAX * H };
    static float obs[B * (4 + NHMAX) * TD];
    uint8_t tm[B * (4 + NHMAX)], am[B * NHMAX * A], done[B];
    const int32_t rows[B] = {0, 1, 2, 3};
    int32_t act[B * NHMAX];
    die_if(rankenv_reset_rows(E, rows, B, obs, tm, am, e), e);
    for (int l = 0; l < L; l++) {
        for (int i = 0; i < B * SMAX * P; i++) act[i] = i % P ? a1 : a0;
        die_if(rankenv_step(E, act, obs, tm, am, rew, done, info, e), e);
    }
}

/* an episode with action a everywhere, one head per segment */
static void episode(RankEnv *E, int a, float *info, float *rew, Err *e) {
    episode_heads(E, 1, a, a, info, rew, e);
}

static void test_heads(const RankEnvConfig *c0, Err *e) {
    static RankEnv Es, Eh;
    RankEnvConfig c = *c0;
    c.latency = RANKENV_LAT_TABLE; /* deterministic (live latency is measured) */
    c.gamma = 0; /* the bound term differs by design: per head it sums the heads' bounds */
    static LatencyTable lt;
    lt.d = C, lt.H = H, lt.B = 1, lt.reps = 1, lt.n_buckets = 1, lt.n_ranks = G;
    lt.buckets[0] = NMAX, lt.full[0] = 1e-5, lt.ranks[0] = 2, lt.ranks[1] = 4;
    lt.lat[0][0] = 5e-6, lt.lat[0][1] = 7e-6, lt.causal = 1;
    die_if(rankenv_init(&Es, &R, &set, &lt, &c, e), e);
    c.per_head = 1;
    die_if(rankenv_init(&Eh, &R, &set, &lt, &c, e), e);
    float is[B * NI], ih[B * NI], rs[B], rh[B];
    episode(&Es, 0, is, rs, e);
    episode_heads(&Eh, H, 0, 0, ih, rh, e);
    int diff = memcmp(rs, rh, sizeof rs) != 0;
    for (int i = 0; i < B * NI; i++) /* the bound columns differ by design (sum over heads) */
        if (i % NI != RANKENV_I_BOUND && i % NI != RANKENV_I_RBOUND)
            diff += memcmp(&is[i], &ih[i], sizeof(float)) != 0;
    CHECK(diff == 0, "per head: rank 2 on every head: %d values differ", diff);
    episode_heads(&Eh, H, 0, G, ih, rh, e);
    for (int b = 0; b < B; b++) {
        const int n = Eh.len[b], ns = (n + T - 1) / T;
        int hr[SMAX * H];
        for (int k = 0; k < ns * H; k++) hr[k] = k % H ? C / H : grid[0];
        const AttnFlops f = attn_lowrank_flops_heads(1, n, C, H, T, hr, 1,
                                                     attn_variant_default());
        CHECK(attn_flops_total(&Eh.afl[b]) == attn_flops_total(&f),
              "per head, causal, sequence %d: counted FLOPs %lld, closed form %lld", b,
              (long long)attn_flops_total(&Eh.afl[b]), (long long)attn_flops_total(&f));
    }
    CHECK(Eh.violations == 0 && Es.violations == 0, "per head: %lld violations",
          (long long)Eh.violations);
    rankenv_free(&Es), rankenv_free(&Eh);
}

int main(void) {
    Err e;
    err_clear(&e);
    setup(&e);
    RankEnvConfig c;
    rankenv_config_default(&c);
    c.kind = RANK_PLAIN, c.n_ranks = G, c.ranks[0] = 2, c.ranks[1] = 4, c.T = T;
    c.batch = B, c.latency = RANKENV_LAT_LIVE, c.epsilon = 1e9, c.lambda = 3.0;
    static RankEnv E;
    die_if(rankenv_init(&E, &R, &set, NULL, &c, &e), &e);
    float info[B * NI], rew[B];
    episode(&E, G, info, rew, &e); /* all full */
    int nz = 0;
    for (int b = 0; b < B; b++) nz += info[b * NI + RANKENV_I_KL] != 0.0f;
    CHECK(nz == 0, "all-full episode: %d sequences with KL != 0", nz);
    episode(&E, 0, info, rew, &e); /* rank 2 everywhere */
    double worst = 0;
    for (int b = 0; b < B; b++) {
        const int n = set.len[b];
        static float zf[NMAX * V], zr[NMAX * V];
        alone(set.ids + b * NMAX, n, 0, zf, &e);
        alone(set.ids + b * NMAX, n, 2, zr, &e);
        double s = 0;
        for (int i = 0; i + 1 < n; i++) s += kl_ref(zf + i * V, zr + i * V);
        const double want = s / (n - 1), got = info[b * NI + RANKENV_I_KL];
        worst = fmax(worst, fabs(got - want) / want);
        CHECK(fabs(got - want) <= 1e-5 * want, "sequence %d: kl %.9g, reference %.9g", b, got,
              want);
        CHECK(fabs(info[b * NI + RANKENV_I_RKL] + c.lambda * got) <= 1e-6 * c.lambda * got,
              "sequence %d: r_kl %.9g, expected -lambda kl", b, info[b * NI + RANKENV_I_RKL]);
    }
    printf("rank 2 everywhere: per-token KL vs the reference, worst relative error %.3g\n", worst);
    rankenv_free(&E);
    test_heads(&c, &e);
    /* refusals */
    c.head_features = 1;
    Status s = rankenv_init(&E, &R, &set, NULL, &c, &e);
    CHECK(s == ST_INVALID && strstr(e.msg, "head features"), "head features: %s", e.msg);
    c.head_features = 0, c.latency = RANKENV_LAT_TABLE;
    static LatencyTable lt;
    lt.d = C, lt.H = H, lt.B = 1, lt.reps = 1, lt.n_buckets = 1, lt.n_ranks = G;
    lt.buckets[0] = NMAX, lt.full[0] = 1e-5, lt.ranks[0] = 2, lt.ranks[1] = 4;
    lt.lat[0][0] = 5e-6, lt.lat[0][1] = 7e-6, lt.causal = 0;
    s = rankenv_init(&E, &R, &set, &lt, &c, &e);
    CHECK(s == ST_INVALID && strstr(e.msg, "causal"), "a non-causal table: %s", e.msg);
    lt.causal = 1;
    s = rankenv_init(&E, &R, &set, &lt, &c, &e);
    CHECK(s == ST_OK, "a causal table: %s", e.msg);
    rankenv_free(&E);
    ranked_free(&R);
    bert_free(&m);
    free(set.ids), free(set.len);
    return check_exit("test_rankenv_lm");
}
