/* bert_fixture.h: what the tests of the BERT classifier (test_bert_grad.c,
 * test_bert_invariance.c, test_bert_config.c) share: the tiny configurations (V=13, P=10,
 * T=2, C=8, H=2, F=12, L=2, K=3, learned positions or a conv position encoding of width 5), a
 * batch of B=3, N=6 with 6, 4 and 2 real tokens (type ids not all 0; labels, and labels with
 * one -1), and test weights large enough that every path carries signal. Header-only
 * (static), test code only. */
#ifndef DRRL_TESTS_MODEL_BERT_FIXTURE_H
#define DRRL_TESTS_MODEL_BERT_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/rng.h"
#include "model/bert.h"

static const BertConfig tiny = {
    .vocab = 13, .max_pos = 10, .type_vocab = 2, .d_model = 8, .n_heads = 2, .d_ff = 12,
    .n_layers = 2, .n_classes = 3, .ln_eps = 1e-12f, .dropout = 0.1f, .attn_dropout = 0.1f};
/* the same with the convolutional position encoding, k = 5 (rows of 6, 4 and 2 tokens) */
static const BertConfig tiny_conv = {
    .vocab = 13, .max_pos = 10, .type_vocab = 2, .d_model = 8, .n_heads = 2, .d_ff = 12,
    .n_layers = 2, .n_classes = 3, .ln_eps = 1e-12f, .dropout = 0.1f, .attn_dropout = 0.1f,
    .position = BERT_POS_CONV, .conv_kernel = 5};

enum { TB = 3, TN = 6 };
static const int32_t t_ids[TB * TN] = {1, 5, 7, 2, 9, 3, 1, 4, 4, 12, 0, 0, 1, 11, 0, 0, 0, 0};
static const int32_t t_tids[TB * TN] = {0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0};
static const uint8_t t_mask[TB * TN] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0};
static const int32_t t_labels[TB] = {2, 0, 1};
static const int32_t t_labels_ign[TB] = {2, -1, 1};

/* weights large enough that attention is not uniform and every path carries signal */
static inline void fill_test_weights(Bert *m, Rng *r) {
    for (int i = 0; i < m->n_tensors; i++) {
        BertTensor *t = &m->tensor[i];
        int gain = strstr(t->name, "LayerNorm.weight") != NULL;
        double sd = t->ndim == 2 ? (strstr(t->name, "position_conv") ? 0.5
                                    : strstr(t->name, "embeddings") ? 1.0
                                                                    : 1.0 / sqrt((double)t->dims[1]))
                                 : 0.2;
        for (size_t j = 0; j < t->count; j++)
            t->param[j] = (float)((gain ? 1.0 : 0.0) + sd * rng_normal(r));
    }
}

#endif
