/* test_lm_cache.c: incremental decoding with the key/value cache (model/lm_cache.h) on a
 * small random decoder (V=30, C=32, H=4 (dh=8), F=64, L=2, attention made to matter), for
 * causal conv positions (k = 4) and learned ones:
 *   - full cache: the logits of every step equal lm_forward's at that position of the whole
 *     row (1e-4 of the logits' scale);
 *   - rank-r cache (plain factors, r = 2 and 4, and mixed: one layer full, one at 2): every
 *     step's logits equal the ranked forward's (model/ranked.h, every layer one segment at the
 *     same rank) at that position;
 *   - greedy decoding with the cache (a prompt of 5 tokens, 11 generated) equals the argmax of
 *     the uncached forward of the whole generated row, token for token;
 *   - cache bytes per token are 2 * 4 H w per layer (w = dh full, r low-rank);
 *   - errors: an id out of range, a full cache, a rank not in the grid, an encoder. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/bert.h"
#include "model/lm.h"
#include "model/lm_cache.h"
#include "model/ranked.h"
#include "nn/logits.h"
#include "tests/check.h"

enum { N = 16, V = 30, C = 32, H = 4, DH = C / H, PROMPT = 5 };

static void make_model(Bert *m, int conv) {
    const BertConfig cfg = {.vocab = V, .max_pos = N, .type_vocab = 1, .d_model = C,
                            .n_heads = H, .d_ff = 64, .n_layers = 2, .n_classes = V,
                            .ln_eps = 1e-5f, .position = conv ? BERT_POS_CONV : BERT_POS_LEARNED,
                            .conv_kernel = conv ? 4 : 0, .arch = BERT_ARCH_DECODER,
                            .act = BERT_ACT_GELU_TANH};
    Err e;
    err_clear(&e);
    CHECK(bert_init(m, &cfg, 1, N, 0, &e) == ST_OK, "init: %s", e.msg);
    Rng r;
    rng_init(&r, 20261207 + conv, 1);
    bert_init_weights(m, &r);
    for (int l = 0; l < cfg.n_layers; l++) {
        MhsaParams *w = &m->p.layer[l].attn;
        for (int i = 0; i < C * C; i++) {
            w->wq[i] = (float)(0.3 * rng_normal(&r)), w->wk[i] = (float)(0.3 * rng_normal(&r));
            w->wv[i] = (float)(0.15 * rng_normal(&r)), w->wo[i] = (float)(0.15 * rng_normal(&r));
        }
    }
}

/* the uncached logits (N, V) of one full row: lm_forward (rank NULL) or the ranked forward
   with plain rank[l] (0: exact) per layer */
static void uncached(Bert *m, Ranked *R, const int *rank, const int32_t *ids, float *out) {
    uint8_t mask[N];
    memset(mask, 1, sizeof mask);
    Err e;
    err_clear(&e);
    if (!rank) {
        lm_forward(m, ids, mask, NULL, 1, N, 0, NULL);
        memcpy(out, lm_logits(m), sizeof(float) * N * V);
        return;
    }
    Status s = ranked_begin(R, ids, NULL, mask, 1, N, &e);
    for (int l = 0; l < R->L && !s; l++) {
        RankSpec sp = rank[l] ? rank_spec(RANK_PLAIN, rank[l]) : rank_spec(RANK_EXACT, 0);
        s = ranked_layer(R, &sp, &e);
    }
    if (!s) s = ranked_end(R, &e);
    CHECK(s == ST_OK, "ranked pass: %s", e.msg);
    memcpy(out, R->logits, sizeof(float) * N * V);
}

/* the cache at rank (NULL: full) against the uncached forward, step by step, then greedy */
static void check_case(Bert *m, Ranked *R, const int *rank, const char *what) {
    Err e;
    err_clear(&e);
    LmCache c;
    CHECK(lm_cache_init(&c, m, R, RANK_PLAIN, rank, N, &e) == ST_OK, "%s init: %s", what, e.msg);
    int32_t ids[N];
    Rng g;
    rng_init(&g, 5, 0);
    for (int i = 0; i < N; i++) ids[i] = (int32_t)rng_below(&g, V);
    float ref[N * V];
    uncached(m, R, rank, ids, ref);
    double worst = 0, scale = 0;
    for (int i = 0; i < N * V; i++) scale = fmax(scale, fabs(ref[i]));
    for (int t = 0; t < N; t++) {
        CHECK(lm_cache_step(&c, ids[t], &e) == ST_OK, "%s step %d: %s", what, t, e.msg);
        for (int v = 0; v < V; v++) worst = fmax(worst, fabs(c.logits[v] - ref[t * V + v]));
    }
    printf("%-28s steps vs uncached: max |diff| %.3g (scale %.3g), %zu cache bytes/token\n", what,
           worst, scale, lm_cache_bytes_per_token(&c));
    CHECK(worst <= 1e-4 * scale, "%s: step logits differ from the uncached forward by %.3g",
          what, worst);
    size_t want = 0;
    for (int l = 0; l < m->c.n_layers; l++) want += 2 * 4 * H * (rank && rank[l] ? rank[l] : DH);
    CHECK(lm_cache_bytes_per_token(&c) == want, "%s: %zu bytes per token, expected %zu", what,
          lm_cache_bytes_per_token(&c), want);
    CHECK(lm_cache_step(&c, 0, &e) == ST_INVALID && strstr(e.msg, "full"), "%s: full cache: %s",
          what, e.msg);
    /* greedy: prompt, then the argmax of each step, against the uncached argmax */
    lm_cache_reset(&c);
    int32_t gen[N];
    for (int t = 0; t < N; t++) {
        gen[t] = t < PROMPT ? ids[t] : logits_argmax(c.logits, V);
        CHECK(lm_cache_step(&c, gen[t], &e) == ST_OK, "%s greedy %d: %s", what, t, e.msg);
    }
    uncached(m, R, rank, gen, ref);
    int bad = 0;
    for (int t = PROMPT; t < N; t++) bad += logits_argmax(ref + (t - 1) * V, V) != gen[t];
    CHECK(bad == 0, "%s: %d greedy tokens differ from the uncached argmax", what, bad);
    CHECK(lm_cache_step(&c, V, &e) == ST_INVALID, "%s: id out of range accepted", what);
    lm_cache_free(&c);
}

int main(void) {
    for (int conv = 1; conv >= 0; conv--) {
        Bert m;
        make_model(&m, conv);
        static Ranked R;
        const int grid[] = {2, 4};
        RankedOptions o = {.max_B = 1, .max_N = N, .ranks = grid, .n_ranks = 2};
        Err e;
        err_clear(&e);
        CHECK(ranked_init(&R, &m, &o, &e) == ST_OK, "ranked_init: %s", e.msg);
        char what[64];
        const int r2[] = {2, 2}, r4[] = {4, 4}, mixed[] = {0, 2}, bad[] = {3, 3};
        snprintf(what, sizeof what, "%s full", conv ? "conv" : "learned");
        check_case(&m, &R, NULL, what);
        snprintf(what, sizeof what, "%s rank 2", conv ? "conv" : "learned");
        check_case(&m, &R, r2, what);
        snprintf(what, sizeof what, "%s rank 4", conv ? "conv" : "learned");
        check_case(&m, &R, r4, what);
        snprintf(what, sizeof what, "%s full + rank 2", conv ? "conv" : "learned");
        check_case(&m, &R, mixed, what);
        LmCache c;
        CHECK(lm_cache_init(&c, &m, &R, RANK_PLAIN, bad, N, &e) == ST_INVALID &&
                  strstr(e.msg, "layer 0"), "rank 3 (not in the grid): %s", e.msg);
        lm_cache_free(&c);
        ranked_free(&R);
        bert_free(&m);
    }
    return check_exit("test_lm_cache");
}
