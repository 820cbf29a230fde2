/* test_ranked_lm.c: the ranked forward (model/ranked.h) on a causal decoder (model/lm.h): a
 * small random GPT-2-layout model (V=30, C=32, H=4 (dh=8), F=64, L=2, causal conv positions
 * k=4, tanh GELU) with attention made to matter (query/key weights N(0, 0.3^2), value/output
 * N(0, 0.15^2)); a batch of B=3 rows of N=16 tokens with 16, 11 and 5 real ones. Checks:
 *   - ranked_begin's attention input (ranked_input) is layer 0's LN1 of lm_forward's
 *     embeddings, and every layer exact reproduces lm_forward's logits (B, N, V) (float
 *     tolerance 1e-5 of the logits' scale);
 *   - plain factors at rank dh reproduce the exact pass (1e-4), per sequence
 *     (ranked_layer_each, segments of T = 4 with mixed ranks) and batched;
 *   - causality, for every kind (exact, plain rank 2, per-segment ranks, Performer m = 16):
 *     the ids after position n changed, the logits of positions <= n are bit-identical, for
 *     every n;
 *   - Nystrom and the activation-level kind are refused on a decoder with an error saying why;
 * Logits are compared at real positions (a padded position's are not defined).
 *   - the head's FLOPs are the tied projection's 2 B N C V;
 *   - ranks per head: sharing each segment's rank reproduces the per-segment pass bit for
 *     bit; mixed ones count attn_lowrank_flops_heads (causal) in every layer. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/bert.h"
#include "model/lm.h"
#include "model/ranked.h"
#include "nn/layernorm.h"
#include "tests/check.h"

enum { B = 3, N = 16, V = 30, C = 32, T = 4 };
static const BertConfig cfg = {.vocab = V, .max_pos = N, .type_vocab = 1, .d_model = C,
                               .n_heads = 4, .d_ff = 64, .n_layers = 2, .n_classes = V,
                               .ln_eps = 1e-5f, .position = BERT_POS_CONV, .conv_kernel = 4,
                               .arch = BERT_ARCH_DECODER, .act = BERT_ACT_GELU_TANH};
static const int lens[B] = {16, 11, 5};
static int32_t ids[B * N];
static uint8_t mask[B * N];

/* max |a - b| over the logits of real positions (a padded position's logits depend on how
   its rows were computed: the per-sequence passes give them zero attention) */
static double max_abs_diff(const float *a, const float *b, size_t n, double *scale) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        if (!mask[i / V]) continue;
        d = fmax(d, fabs((double)a[i] - b[i])), s = fmax(s, fabs(b[i]));
    }
    *scale = s;
    return d;
}

/* a pass with one spec for every layer (or per-sequence ranks: seg != NULL) into logits */
static Status pass(Ranked *R, const int32_t *id, RankSpec sp, const int *seg, float *logits,
                   Err *e) {
    Status s = ranked_begin(R, id, NULL, mask, B, N, e);
    for (int l = 0; l < R->L && !s; l++)
        s = seg ? ranked_layer_each(R, RANK_PLAIN, T, seg, NULL, NULL, e) : ranked_layer(R, &sp, e);
    if (!s) s = ranked_end(R, e);
    if (!s) memcpy(logits, R->logits, sizeof(float) * B * N * V);
    return s;
}

/* ranks per head (RankSpec.head_rank): heads sharing their segment's rank give the seg_rank
   pass bit for bit; mixed ones count the per-head closed form (causal) in every layer */
static void check_heads(Ranked *R, float *a, float *b) {
    Err e;
    err_clear(&e);
    enum { S = N / T, HH = 4 };
    const int seg[S] = {4, 2, 8, 4};
    int same[S * HH], mixed[S * HH];
    for (int i = 0; i < S * HH; i++) same[i] = seg[i / HH], mixed[i] = (int[]){2, 4, 8}[i % 3];
    RankSpec ss = {RANK_PLAIN, 0, T, seg, NULL}, sh = {RANK_PLAIN, 0, T, NULL, same};
    RankSpec sm = {RANK_PLAIN, 0, T, NULL, mixed};
    CHECK(pass(R, ids, ss, NULL, a, &e) == ST_OK && pass(R, ids, sh, NULL, b, &e) == ST_OK,
          "head ranks: %s", e.msg);
    CHECK(!memcmp(a, b, sizeof(float) * B * N * V), "head ranks sharing each segment's rank: "
          "logits differ from the per-segment pass");
    CHECK(pass(R, ids, sm, NULL, a, &e) == ST_OK, "mixed head ranks: %s", e.msg);
    const AttnFlops want = attn_lowrank_flops_heads(B, N, C, HH, T, mixed, 1,
                                                    attn_variant_default());
    int bad = 0;
    for (int l = 0; l < R->L; l++) bad += memcmp(&R->attn_fl[l], &want, sizeof want) != 0;
    CHECK(bad == 0, "mixed head ranks: %d layers' FLOPs differ from the closed form", bad);
}

/* the kinds without a causal variant refuse (attention/nystrom.h, activation.h) */
static void check_refused(Ranked *R, float *got) {
    Err e;
    err_clear(&e);
    const RankKind refused[] = {RANK_NYSTROM, RANK_ACTIVATION};
    for (int k = 0; k < 2; k++) {
        Status s = pass(R, ids, rank_spec(refused[k], 3), NULL, got, &e);
        printf("%s on a decoder: %s\n", rank_kind_name(refused[k]), s ? e.msg : "ran");
        CHECK(s == ST_INVALID && strstr(e.msg, "causal"), "%s on a decoder: expected a refusal "
              "naming the causal mask, found %s", rank_kind_name(refused[k]),
              s ? e.msg : "a pass");
    }
}

int main(void) {
    Err e;
    err_clear(&e);
    Bert m;
    CHECK(bert_init(&m, &cfg, B, N, 0, &e) == ST_OK, "init: %s", e.msg);
    Rng r;
    rng_init(&r, 20261207, 1);
    bert_init_weights(&m, &r);
    for (int l = 0; l < cfg.n_layers; l++) {
        MhsaParams *w = &m.p.layer[l].attn;
        for (int i = 0; i < C * C; i++) {
            w->wq[i] = (float)(0.3 * rng_normal(&r)), w->wk[i] = (float)(0.3 * rng_normal(&r));
            w->wv[i] = (float)(0.15 * rng_normal(&r)), w->wo[i] = (float)(0.15 * rng_normal(&r));
        }
    }
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            mask[b * N + n] = n < lens[b];
            ids[b * N + n] = n < lens[b] ? (int32_t)rng_below(&r, V) : 0;
        }
    const size_t NL = (size_t)B * N * V;
    float *ref = malloc(NL * sizeof(float)), *got = malloc(NL * sizeof(float));
    float *base = malloc(NL * sizeof(float));
    lm_forward(&m, ids, mask, NULL, B, N, 0, NULL);
    memcpy(ref, lm_logits(&m), NL * sizeof(float));

    static Ranked R;
    const int grid[] = {2, 4};
    RankedOptions o = {.max_B = B, .max_N = N, .ranks = grid, .n_ranks = 2, .max_m = 16,
                       .activation = 1, .performer_seed = 7};
    CHECK(ranked_init(&R, &m, &o, &e) == ST_OK, "ranked_init: %s", e.msg);

    /* layer 0's attention input */
    CHECK(ranked_begin(&R, ids, NULL, mask, B, N, &e) == ST_OK, "begin: %s", e.msg);
    float *emb = malloc(sizeof(float) * B * N * C), *e0 = malloc(sizeof(float) * B * N * C);
    float *u = malloc(sizeof(float) * B * N * C);
    bert_embed(&m, emb, e0, ids, NULL, mask, B, N);
    layernorm_forward(u, NULL, NULL, emb, m.p.layer[0].ln1_w, m.p.layer[0].ln1_b, B * N, C,
                      cfg.ln_eps);
    CHECK(memcmp(u, ranked_input(&R), sizeof(float) * B * N * C) == 0,
          "ranked_input: layer 0's LN1 of the embeddings");

    double sc, d;
    CHECK(pass(&R, ids, rank_spec(RANK_EXACT, 0), NULL, got, &e) == ST_OK, "exact: %s", e.msg);
    d = max_abs_diff(got, ref, NL, &sc);
    printf("exact pass vs lm_forward: max |diff| %.3g (scale %.3g)\n", d, sc);
    CHECK(d <= 1e-5 * sc, "exact pass vs lm_forward: %.3g", d);
    CHECK(R.head_fl == 2LL * B * N * C * V, "head FLOPs %lld, expected 2 B N C V = %lld",
          (long long)R.head_fl, 2LL * B * N * C * V);
    memcpy(base, got, NL * sizeof(float));

    CHECK(pass(&R, ids, rank_spec(RANK_PLAIN, C / 4), NULL, got, &e) == ST_OK, "dh: %s", e.msg);
    d = max_abs_diff(got, base, NL, &sc);
    CHECK(d <= 1e-4 * sc, "plain rank dh vs exact: %.3g (scale %.3g)", d, sc);
    int seg_full[B * (N / T)];
    for (int i = 0; i < B * (N / T); i++) seg_full[i] = i % 2 ? 0 : C / 4;
    CHECK(pass(&R, ids, rank_spec(RANK_PLAIN, 0), seg_full, got, &e) == ST_OK, "each: %s", e.msg);
    d = max_abs_diff(got, base, NL, &sc);
    CHECK(d <= 1e-4 * sc, "per-sequence rank dh / full segments vs exact: %.3g", d);

    /* causality of every kind */
    int seg_mix[B * (N / T)];
    for (int i = 0; i < B * (N / T); i++) seg_mix[i] = i % 3 == 0 ? 0 : i % 3 == 1 ? 2 : 4;
    struct {
        const char *name;
        RankSpec sp;
        const int *seg;
    } kinds[] = {{"exact", rank_spec(RANK_EXACT, 0), NULL},
                 {"plain r=2", rank_spec(RANK_PLAIN, 2), NULL},
                 {"per-segment ranks", rank_spec(RANK_PLAIN, 0), seg_mix},
                 {"performer m=16", rank_spec(RANK_PERFORMER, 16), NULL}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        Status s = pass(&R, ids, kinds[k].sp, kinds[k].seg, base, &e);
        CHECK(s == ST_OK, "%s: %s", kinds[k].name, e.msg);
        if (s) continue;
        int bad = 0;
        for (int n = 0; n + 1 < N; n++) {
            int32_t id2[B * N];
            memcpy(id2, ids, sizeof id2);
            for (int b = 0; b < B; b++)
                for (int j = n + 1; j < lens[b]; j++) id2[b * N + j] = (id2[b * N + j] + 7) % V;
            if (pass(&R, id2, kinds[k].sp, kinds[k].seg, got, &e)) break;
            for (int b = 0; b < B; b++)
                bad += memcmp(got + (size_t)b * N * V, base + (size_t)b * N * V,
                              sizeof(float) * (size_t)(n + 1) * V) != 0;
        }
        printf("causality %-18s %d rows changed at an earlier position\n", kinds[k].name, bad);
        CHECK(bad == 0, "%s: %d rows' logits changed at positions before a changed id",
              kinds[k].name, bad);
    }
    check_refused(&R, got);
    check_heads(&R, got, base);
    ranked_free(&R);
    bert_free(&m);
    free(ref), free(got), free(base), free(emb), free(e0), free(u);
    return check_exit("test_ranked_lm");
}
