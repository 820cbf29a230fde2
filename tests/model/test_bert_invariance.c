/* test_bert_invariance.c: properties of the BERT classifier (model/bert.h) that need no
 * reference model, for both position kinds (learned, conv), on the tiny model and batch of
 * bert_fixture.h:
 *   - padding invariance (padded ids and type ids changed: logits bit-identical), batch
 *     invariance (a sentence alone vs inside a padded batch: logits within 1e-5), dropout on
 *     vs off in eval mode (bit-identical), training with rates 0 == eval, probabilities a
 *     softmax of the logits, an inference-only model (train = 0) with a lean plan giving the
 *     same logits bit for bit, the sparse zeroing of the word-embedding gradient, and
 *     bert_forward_flops against its closed form;
 *   - conv positions only: a model planned past max_pos runs, and a sentence padded to
 *     twice max_pos gives its logits alone within 1e-5 (the conv applies at any length).
 * Against the double reference: test_bert_grad.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/bert.h"
#include "tests/check.h"
#include "tests/model/bert_fixture.h"

static int same_floats(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static void test_invariances(const BertConfig *cf) {
    BertConfig c = *cf;
    c.dropout = 0.3f, c.attn_dropout = 0.3f;
    Bert m, inf;
    Err e;
    CHECK(bert_init(&m, &c, TB, TN, 1, &e) == ST_OK, "bert_init: %s", e.msg);
    CHECK(bert_init(&inf, &c, TB, TN, 0, &e) == ST_OK, "bert_init (inference): %s", e.msg);
    CHECK(inf.act_plan.bytes < m.act_plan.bytes / 2 && inf.grad_plan.base == NULL &&
              inf.a.layer[0].mh.att == NULL && inf.tensor[0].grad == NULL,
          "inference plan is lean: %zu vs %zu bytes of activations, no gradients",
          inf.act_plan.bytes, m.act_plan.bytes);
    Rng r, dr;
    rng_init(&r, 13, 0);
    rng_init(&dr, 13, 1);
    fill_test_weights(&m, &r);
    memcpy(inf.param_plan.base, m.param_plan.base, m.param_plan.bytes);
    const int K = c.n_classes;
    float ref[TB * 3], got[TB * 3];
    bert_forward(&m, t_ids, t_tids, t_mask, NULL, TB, TN, 0, NULL);
    memcpy(ref, bert_logits(&m), sizeof ref);

    /* padding invariance: other ids / type ids at padded positions */
    int32_t ids2[TB * TN], tids2[TB * TN];
    for (int i = 0; i < TB * TN; i++) {
        ids2[i] = t_mask[i] ? t_ids[i] : (int32_t)((7 * i + 3) % c.vocab);
        tids2[i] = t_mask[i] ? t_tids[i] : 1;
    }
    bert_forward(&m, ids2, tids2, t_mask, NULL, TB, TN, 0, NULL);
    CHECK(same_floats(ref, bert_logits(&m), TB * 3), "padding invariance: logits changed");

    /* batch invariance: each sentence alone, at its own length, with B = 1 */
    double worst = 0;
    for (int b = 0; b < TB; b++) {
        int len = 0;
        while (len < TN && t_mask[b * TN + len]) len++;
        bert_forward(&m, t_ids + b * TN, t_tids + b * TN, t_mask + b * TN, NULL, 1, len, 0, NULL);
        for (int j = 0; j < K; j++) {
            double d = fabs(bert_logits(&m)[j] - ref[b * K + j]);
            worst = fmax(worst, d);
            CHECK(d <= 1e-5, "batch invariance: sentence %d logit %d: alone %.9g, in batch %.9g",
                  b, j, (double)bert_logits(&m)[j], (double)ref[b * K + j]);
        }
    }
    printf("batch invariance (%s): worst |alone - in batch| %.2e\n",
           bert_position_name(c.position), worst);

    /* eval mode ignores the dropout rates; training with rates 0 is eval too */
    bert_forward(&m, t_ids, t_tids, t_mask, NULL, TB, TN, 0, &dr);
    CHECK(same_floats(ref, bert_logits(&m), TB * 3), "eval with dropout 0.3 is deterministic");
    m.c.dropout = 0.0f, m.c.attn_dropout = 0.0f;
    bert_forward(&m, t_ids, t_tids, t_mask, NULL, TB, TN, 1, &dr);
    CHECK(same_floats(ref, bert_logits(&m), TB * 3), "training with rates 0 == eval");
    m.c.dropout = 0.3f, m.c.attn_dropout = 0.3f;
    bert_forward(&m, t_ids, t_tids, t_mask, NULL, TB, TN, 1, &dr);
    memcpy(got, bert_logits(&m), sizeof got);
    CHECK(!same_floats(ref, got, TB * 3), "training with dropout 0.3 changes the logits");
    /* probabilities are a softmax of the logits */
    bert_forward(&m, t_ids, t_tids, t_mask, NULL, TB, TN, 0, NULL);
    double ps = 0;
    for (int j = 0; j < K; j++) ps += bert_probs(&m)[j];
    CHECK(fabs(ps - 1.0) < 1e-6, "probs sum to 1 (%.9g)", ps);

    /* the inference-only model: same logits, bit for bit, even if asked to train */
    bert_forward(&inf, t_ids, t_tids, t_mask, NULL, TB, TN, 1, &dr);
    CHECK(same_floats(ref, bert_logits(&inf), TB * 3), "inference model == training model (eval)");

    /* sparse zeroing of the word-embedding gradient: rows of the previous batch only */
    int32_t idsA[TB * TN], idsB[TB * TN];
    for (int i = 0; i < TB * TN; i++) idsA[i] = 1 + i % 6, idsB[i] = 7 + i % 6;
    bert_forward(&m, idsA, NULL, t_mask, t_labels, TB, TN, 0, NULL);
    bert_backward(&m, idsA, NULL, t_labels, TB, TN);
    bert_forward(&m, idsB, NULL, t_mask, t_labels, TB, TN, 0, NULL);
    bert_backward(&m, idsB, NULL, t_labels, TB, TN);
    int nz = 0, nzB = 0;
    for (int v = 0; v < c.vocab; v++)
        for (int j = 0; j < c.d_model; j++) {
            float gv = m.tensor[0].grad[(size_t)v * c.d_model + j];
            if (v < 7) nz += gv != 0.0f;
            else nzB += gv != 0.0f;
        }
    CHECK(nz == 0, "rows of the previous batch were not cleared: %d nonzero", nz);
    CHECK(nzB > 0, "rows of this batch carry gradient");

    /* flops */
    int64_t M = (int64_t)TB * TN, C = c.d_model, F = c.d_ff, H = c.n_heads;
    int64_t want = c.n_layers * (4 * (2 * M * C * C + M * C) +
                                 (int64_t)TB * H * (4 * TN * TN * (C / H) + 5LL * TN * TN) +
                                 2 * M * C * F + M * F + 2 * M * F * C + M * C) +
                   2LL * TB * C * C + TB * C + 2LL * TB * C * K + TB * K;
    CHECK(bert_forward_flops(&c, TB, TN) == want, "bert_forward_flops %lld, closed form %lld",
          (long long)bert_forward_flops(&c, TB, TN), (long long)want);
    bert_free(&m);
    bert_free(&inf);
}

/* conv positions: the model runs past max_pos, and padding a batch to 2 max_pos changes no
   logit beyond float rounding (the conv's outputs at real tokens are bit-identical; the
   attention sums over more masked keys) */
static void test_conv_length(void) {
    enum { LN = 2 * 10 }; /* twice tiny_conv.max_pos */
    Bert m, big;
    Err e;
    CHECK(bert_init(&m, &tiny_conv, TB, TN, 0, &e) == ST_OK, "bert_init: %s", e.msg);
    CHECK(bert_init(&big, &tiny_conv, TB, LN, 0, &e) == ST_OK,
          "conv model planned for %d > max_pos tokens: %s", LN, e.msg);
    CHECK(bert_max_len(&tiny_conv) == BERT_CONV_MAX_LEN && bert_max_len(&tiny) == tiny.max_pos,
          "bert_max_len");
    Rng r;
    rng_init(&r, 14, 0);
    fill_test_weights(&m, &r);
    memcpy(big.param_plan.base, m.param_plan.base, m.param_plan.bytes);
    int32_t ids[TB * LN] = {0}, tids[TB * LN] = {0};
    uint8_t mask[TB * LN] = {0};
    for (int b = 0; b < TB; b++)
        for (int n = 0; n < TN; n++) {
            ids[b * LN + n] = t_ids[b * TN + n];
            tids[b * LN + n] = t_tids[b * TN + n];
            mask[b * LN + n] = t_mask[b * TN + n];
        }
    float ref[TB * 3];
    bert_forward(&m, t_ids, t_tids, t_mask, NULL, TB, TN, 0, NULL);
    memcpy(ref, bert_logits(&m), sizeof ref);
    bert_forward(&big, ids, tids, mask, NULL, TB, LN, 0, NULL);
    double worst = 0;
    for (int i = 0; i < TB * 3; i++) worst = fmax(worst, fabs(bert_logits(&big)[i] - ref[i]));
    CHECK(worst <= 1e-5, "conv: padded to %d tokens, logits moved by %.3g", LN, worst);
    printf("conv positions at 2 max_pos: worst |logit(N=%d) - logit(N=%d)| %.2e\n", LN, TN,
           worst);
    bert_free(&m);
    bert_free(&big);
}

int main(void) {
    test_invariances(&tiny);
    test_invariances(&tiny_conv);
    test_conv_length();
    return check_exit("test_bert_invariance");
}
