/* test_bert_config.c: the BERT classifier's (model/bert.h) configuration checks and
 * initialisation: every invalid configuration refused with its message (heads not dividing
 * the width, too many layers, dropout 1, max_N > max_pos with learned positions, an even conv
 * kernel, a kernel with learned positions, an unknown position kind); conv positions: the
 * tensors (names, dims, decay, order), taps ~ N(0, 1/k), a plan of 4000 tokens; BERT's
 * initialisation (LayerNorm 1, biases 0, embeddings ~ N(0, 0.02), decay flags, dims). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/bert.h"
#include "tests/check.h"
#include "tests/model/bert_fixture.h"

/* the invalid configurations: tiny (tiny_conv for case 4) with one field changed, the max_N
   planned, the status and a part of the message bert_init must give */
static const struct {
    int max_N;
    Status st;
    const char *msg;
} bad[] = {
    {4, ST_CONFIG, "n_heads: expected a divisor of d_model (8), found 3"},
    {4, ST_CONFIG, "n_layers: expected 1..24, found 25"},
    {4, ST_CONFIG, "dropout: expected"},
    {11, ST_INVALID, "max_N <= max_pos (10)"},
    {4, ST_CONFIG, "conv_kernel: expected an odd width in 1..255, found 4"},
    {4, ST_CONFIG, "conv_kernel: expected 0 with learned positions, found 3"},
    {4, ST_CONFIG, "position: expected"},
};

/* bad_config: the configuration of bad[i] */
static BertConfig bad_config(int i) {
    BertConfig c = i == 4 ? tiny_conv : tiny;
    switch (i) {
    case 0: c.n_heads = 3; break;                   /* heads not dividing the width */
    case 1: c.n_layers = BERT_MAX_LAYERS + 1; break; /* too many layers */
    case 2: c.dropout = 1.0f; break;                /* dropout 1 */
    case 4: c.conv_kernel = 4; break;               /* an even conv kernel */
    case 5: c.conv_kernel = 3; break;               /* a kernel with learned positions */
    case 6: c.position = 2; break;                  /* an unknown position kind */
    default: break;                                 /* 3: max_N > max_pos */
    }
    return c;
}

static void test_config_errors(void) {
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        Bert m;
        Err e;
        BertConfig c = bad_config(i);
        CHECK(bert_init(&m, &c, 2, bad[i].max_N, 1, &e) == bad[i].st && strstr(e.msg, bad[i].msg),
              "case %d: expected '%s', got: %s", i, bad[i].msg, e.msg);
        bert_free(&m);
    }
}

/* param_sd: sqrt(mean of the squares) of a tensor's values (its sd about 0) */
static double param_sd(const BertTensor *t) {
    double s2 = 0;
    for (size_t i = 0; i < t->count; i++) s2 += (double)t->param[i] * t->param[i];
    return sqrt(s2 / (double)t->count);
}

/* conv: the taps start at N(0, 1/k), no position table, a long plan is fine */
static void test_conv_init(void) {
    Bert m;
    Err e;
    CHECK(bert_init(&m, &tiny_conv, 2, 4000, 1, &e) == ST_OK, "conv, max_N 4000: %s", e.msg);
    if (!e.status) {
        Rng rc;
        rng_init(&rc, 2, 1);
        bert_init_weights(&m, &rc);
        const BertTensor *cw = bert_find_tensor(&m, "bert.embeddings.position_conv.weight");
        const BertTensor *cb = bert_find_tensor(&m, "bert.embeddings.position_conv.bias");
        CHECK(cw && cb && cw->dims[0] == 5 && cw->dims[1] == 8 && cw->decay && cb->count == 8 &&
                  !cb->decay && cb->param[0] == 0.0f && &m.tensor[1] == cw &&
                  !bert_find_tensor(&m, "bert.embeddings.position_embeddings.weight") &&
                  m.p.pos == NULL,
              "conv tensors: names, dims, decay, order");
        if (cw) CHECK(param_sd(cw) > 0.3 && param_sd(cw) < 0.6, "conv taps N(0, 1/5): sd %.4f",
                      param_sd(cw));
    }
    bert_free(&m);
}

/* BERT's initialisation */
static void test_init_weights(void) {
    Bert m;
    Err e;
    CHECK(bert_init(&m, &tiny, 2, 4, 1, &e) == ST_OK, "init");
    Rng r;
    rng_init(&r, 1, 1);
    bert_init_weights(&m, &r);
    const BertTensor *g = bert_find_tensor(&m, "bert.encoder.layer.1.output.LayerNorm.weight");
    const BertTensor *b = bert_find_tensor(&m, "bert.encoder.layer.1.intermediate.dense.bias");
    const BertTensor *w = bert_find_tensor(&m, "bert.embeddings.word_embeddings.weight");
    CHECK(g && b && w && g->param[0] == 1.0f && b->param[3] == 0.0f && !g->decay && !b->decay &&
              w->decay && w->dims[0] == 13 && w->dims[1] == 8,
          "init values, decay flags and dims");
    if (w) CHECK(param_sd(w) > 0.015 && param_sd(w) < 0.025, "word embeddings N(0, 0.02): sd %.4f",
                 param_sd(w));
    CHECK(bert_find_tensor(&m, "classifier.bias") == &m.tensor[m.n_tensors - 1], "last tensor");
    bert_free(&m);
}

int main(void) {
    test_config_errors();
    test_conv_init();
    test_init_weights();
    return check_exit("test_bert_config");
}
