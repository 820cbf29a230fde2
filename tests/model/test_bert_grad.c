/* test_bert_grad.c: the BERT classifier (model/bert.h) against an independent, naive
 * double-precision forward of the whole model written out here, for both position kinds:
 * learned absolute positions, and the convolutional position encoding (emb = e + conv(m e),
 * a depthwise conv of width 5 along the sequence, wider than the shortest real row):
 *   - logits and loss vs the double forward (tiny model: V=13, P=10, T=2, C=8, H=2, F=12,
 *     L=2, K=3; B=3, N=6 with 6, 4 and 2 real tokens, type ids not all 0, one label -1);
 *   - every parameter's gradient vs central finite differences of the double forward
 *     (tests/fd.h), in eval mode, and again in a training forward with dropout 0.2 on the
 *     hidden states and 0.2 on the attention probabilities, the reference applying the
 *     same masks (read back from the model's activations);
 *   - padding invariance (padded ids and type ids changed: logits bit-identical), batch
 *     invariance (a sentence alone vs inside a padded batch: logits within 1e-5), dropout on
 *     vs off in eval mode (bit-identical), an inference-only model (train = 0) giving the
 *     same logits bit for bit, the sparse zeroing of the word-embedding gradient, and
 *     bert_forward_flops against its closed form;
 *   - conv positions only: a model planned past max_pos runs, and a sentence padded to
 *     twice max_pos gives its logits alone within 1e-5 (the conv applies at any length);
 *     a learned model refuses max_N > max_pos.
 *
 * Gradient tolerance: |ours - fd| <= GRAD_TOL * max(|fd|, scale), scale = the largest |fd| of
 * that tensor (for the key bias, whose exact gradient is 0 because q_i . bk is constant along
 * the keys and cancels in the softmax, the scale of the key weight's gradient). The finite
 * differences are exact to ~1e-10 (double, h = 1e-5), so this measures our float32 error:
 * sums of at most a few dozen terms through two layers, measured at <= 1e-5 of the scale;
 * GRAD_TOL = 1e-4 keeps a margin while any wrong or missing term (O(scale)) fails.
 * Forward: |ours - ref| <= 1e-5 + 1e-5 |ref|. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/bert.h"
#include "nn/dropout.h"
#include "tests/check.h"
#include "tests/fd.h"
#include "tests/ref.h"

#define GRAD_TOL 1e-4
#define FWD_TOL 1e-5

/* ---------------------------------------------------------------- double reference */

typedef struct {
    BertConfig c;
    int B, N;
    const int32_t *ids, *tids, *labels;
    const uint8_t *mask;
    double *theta;                  /* all parameters, tensor-table order, no padding */
    size_t off[BERT_MAX_TENSORS + 1];
    /* dropout multipliers (NULL: identity): (B,N,C) embeddings, per layer (B,N,C) x2,
       per layer (B,H,N,N) on P, (B,C) pooled */
    const double *me, *m1[BERT_MAX_LAYERS], *m2[BERT_MAX_LAYERS], *mp_att[BERT_MAX_LAYERS];
    const double *mpool;
    /* work */
    double *x, *q, *k, *v, *a, *t, *y, *h, *s, *pooled, *logits;
} Ref;

static const double *W(const Ref *r, int idx) { return r->theta + r->off[idx]; }

static void mul_mask(double *x, const double *mk, size_t n) {
    if (mk)
        for (size_t i = 0; i < n; i++) x[i] *= mk[i];
}

/* the whole model in double; returns the mean cross-entropy over labelled rows */
static double ref_forward(Ref *r) {
    const BertConfig *c = &r->c;
    const int B = r->B, N = r->N, C = c->d_model, H = c->n_heads, F = c->d_ff,
              K = c->n_classes, M = B * N;
    const size_t MC = (size_t)M * C;
    const double eps = c->ln_eps;
    /* table: word 0, then learned: pos 1, type 2, LN 3 4; conv: taps 1 (k, C), bias 2,
       type 3, LN 4 5 */
    const int conv = c->position == BERT_POS_CONV, E = conv ? 6 : 5, T = conv ? 3 : 2;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            int id = r->ids[b * N + n], tid = r->tids ? r->tids[b * N + n] : 0;
            for (int i = 0; i < C; i++)
                r->t[((size_t)b * N + n) * C + i] =
                    W(r, 0)[(size_t)id * C + i] + W(r, T)[(size_t)tid * C + i] +
                    (conv ? 0.0 : W(r, 1)[(size_t)n * C + i]);
        }
    if (conv) { /* emb[b, n, i] = e[b, n, i] + bias[i] + sum_j w[j, i] m[b, t] e[b, t, i] */
        const int k = c->conv_kernel, h = (k - 1) / 2;
        for (int b = 0; b < B; b++)
            for (int n = 0; n < N; n++)
                for (int i = 0; i < C; i++) {
                    double acc = r->t[((size_t)b * N + n) * C + i] + W(r, 2)[i];
                    for (int j = 0; j < k; j++) {
                        int t = n + j - h;
                        if (t >= 0 && t < N && r->mask[b * N + t])
                            acc += W(r, 1)[(size_t)j * C + i] * r->t[((size_t)b * N + t) * C + i];
                    }
                    r->y[((size_t)b * N + n) * C + i] = acc;
                }
        memcpy(r->t, r->y, MC * sizeof(double));
    }
    ref_layernorm(r->x, r->t, W(r, E - 2), W(r, E - 1), M, C, eps);
    mul_mask(r->x, r->me, MC);
    for (int l = 0; l < c->n_layers; l++) {
        int L0 = E + BERT_TENSORS_PER_LAYER * l;
        ref_linear(r->q, r->x, W(r, L0 + 0), W(r, L0 + 1), M, C, C);
        ref_linear(r->k, r->x, W(r, L0 + 2), W(r, L0 + 3), M, C, C);
        ref_linear(r->v, r->x, W(r, L0 + 4), W(r, L0 + 5), M, C, C);
        ref_attention(r->a, NULL, r->q, r->k, r->v, r->mask, r->mp_att[l], r->s, B, N, H, C / H);
        ref_linear(r->t, r->a, W(r, L0 + 6), W(r, L0 + 7), M, C, C);
        mul_mask(r->t, r->m1[l], MC);
        for (size_t i = 0; i < MC; i++) r->t[i] += r->x[i];
        ref_layernorm(r->y, r->t, W(r, L0 + 8), W(r, L0 + 9), M, C, eps);
        ref_linear(r->h, r->y, W(r, L0 + 10), W(r, L0 + 11), M, C, F);
        for (size_t i = 0; i < (size_t)M * F; i++)
            r->h[i] = 0.5 * r->h[i] * (1.0 + erf(r->h[i] / sqrt(2.0)));
        ref_linear(r->t, r->h, W(r, L0 + 12), W(r, L0 + 13), M, F, C);
        mul_mask(r->t, r->m2[l], MC);
        for (size_t i = 0; i < MC; i++) r->t[i] += r->y[i];
        ref_layernorm(r->x, r->t, W(r, L0 + 14), W(r, L0 + 15), M, C, eps);
    }
    int P0 = E + BERT_TENSORS_PER_LAYER * c->n_layers;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < C; i++) r->t[(size_t)b * C + i] = r->x[(size_t)b * N * C + i];
    ref_linear(r->pooled, r->t, W(r, P0), W(r, P0 + 1), B, C, C);
    for (int i = 0; i < B * C; i++) r->pooled[i] = tanh(r->pooled[i]);
    mul_mask(r->pooled, r->mpool, (size_t)B * C);
    ref_linear(r->logits, r->pooled, W(r, P0 + 2), W(r, P0 + 3), B, C, K);
    double loss = 0;
    int n = 0;
    for (int b = 0; b < B; b++) {
        if (r->labels[b] < 0) continue;
        const double *z = r->logits + (size_t)b * K;
        double mx = z[0], se = 0;
        for (int j = 1; j < K; j++) mx = z[j] > mx ? z[j] : mx;
        for (int j = 0; j < K; j++) se += exp(z[j] - mx);
        loss += log(se) + mx - z[r->labels[b]];
        n++;
    }
    return n ? loss / n : 0.0;
}

static double ref_loss_fd(void *ctx) { return ref_forward(ctx); }

static void ref_init(Ref *r, const Bert *m, int B, int N, const int32_t *ids,
                     const int32_t *tids, const uint8_t *mask, const int32_t *labels) {
    memset(r, 0, sizeof *r);
    r->c = m->c, r->B = B, r->N = N, r->ids = ids, r->tids = tids, r->mask = mask;
    r->labels = labels;
    r->off[0] = 0;
    for (int i = 0; i < m->n_tensors; i++) r->off[i + 1] = r->off[i] + m->tensor[i].count;
    r->theta = malloc(sizeof(double) * r->off[m->n_tensors]);
    for (int i = 0; i < m->n_tensors; i++)
        for (size_t j = 0; j < m->tensor[i].count; j++)
            r->theta[r->off[i] + j] = m->tensor[i].param[j];
    size_t MC = (size_t)B * N * m->c.d_model, MF = (size_t)B * N * m->c.d_ff;
    r->x = malloc(sizeof(double) * MC), r->q = malloc(sizeof(double) * MC);
    r->k = malloc(sizeof(double) * MC), r->v = malloc(sizeof(double) * MC);
    r->a = malloc(sizeof(double) * MC), r->t = malloc(sizeof(double) * MC);
    r->y = malloc(sizeof(double) * MC), r->h = malloc(sizeof(double) * MF);
    r->s = malloc(sizeof(double) * (size_t)N);
    r->pooled = malloc(sizeof(double) * (size_t)B * m->c.d_model);
    r->logits = malloc(sizeof(double) * (size_t)B * m->c.n_classes);
}

static void ref_free(Ref *r) {
    free(r->theta), free(r->x), free(r->q), free(r->k), free(r->v), free(r->a), free(r->t);
    free(r->y), free(r->h), free(r->s), free(r->pooled), free(r->logits);
}

/* ---------------------------------------------------------------- helpers */

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
static void fill_test_weights(Bert *m, Rng *r) {
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

/* compare every gradient tensor of m with fd (tensor-table order); returns worst error */
static double check_all_grads(const Bert *m, const Ref *r, const double *fd, const char *tag) {
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m->n_tensors; i++) {
        const BertTensor *t = &m->tensor[i];
        const double *want = fd + r->off[i];
        double scale = ref_max_abs(want, t->count);
        if (strstr(t->name, "attention.self.key.bias")) /* exact gradient 0: see the top */
            scale = fmax(scale, ref_max_abs(fd + r->off[i - 1], m->tensor[i - 1].count));
        int bad = 0;
        for (size_t j = 0; j < t->count; j++) {
            double den = fmax(fabs(want[j]), scale);
            double err = den > 0 ? fabs((double)t->grad[j] - want[j]) / den
                                 : fabs((double)t->grad[j]);
            if (err > worst) worst = err, worst_name = t->name;
            if (err > GRAD_TOL && bad++ < 3)
                CHECK(0, "%s: %s[%zu]: got %.9g, expected %.9g (scale %.3g)", tag, t->name, j,
                      (double)t->grad[j], want[j], scale);
        }
        CHECK(bad == 0, "%s: %s: %d of %zu elements off", tag, t->name, bad, t->count);
    }
    printf("%s: worst scaled gradient error %.2e (%s)\n", tag, worst, worst_name);
    return worst;
}

static void check_logits(const float *got, const double *want, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        CHECK(fabs(got[i] - want[i]) <= FWD_TOL + FWD_TOL * fabs(want[i]),
              "%s[%zu]: got %.9g, expected %.9g", what, i, (double)got[i], want[i]);
}

/* ---------------------------------------------------------------- tests */

/* eval-mode forward and backward vs the double reference and finite differences */
static void test_grad_eval(const BertConfig *cf, const char *kind) {
    char tag[64];
    Bert m;
    Err e;
    CHECK(bert_init(&m, cf, TB, TN, 1, &e) == ST_OK, "bert_init: %s", e.msg);
    CHECK(m.n_tensors == bert_embedding_tensors(cf) + 16 * cf->n_layers + 4 &&
              bert_embedding_tensors(cf) == (cf->position == BERT_POS_CONV ? 6 : 5),
          "tensor count %d", m.n_tensors);
    Rng r;
    rng_init(&r, 11, 0);
    fill_test_weights(&m, &r);
    float loss = bert_forward(&m, t_ids, t_tids, t_mask, t_labels_ign, TB, TN, 0, NULL);
    Ref R;
    ref_init(&R, &m, TB, TN, t_ids, t_tids, t_mask, t_labels_ign);
    double rl = ref_forward(&R);
    snprintf(tag, sizeof tag, "loss (eval, %s)", kind);
    CHECK_CLOSE(loss, rl, FWD_TOL, FWD_TOL, tag);
    snprintf(tag, sizeof tag, "logits (eval, %s)", kind);
    check_logits(bert_logits(&m), R.logits, TB * 3, tag);
    printf("eval (%s): loss %.7f (ref %.7f)\n", kind, (double)loss, rl);
    bert_backward(&m, t_ids, t_tids, t_labels_ign, TB, TN);
    double *fd = malloc(sizeof(double) * R.off[m.n_tensors]);
    fd_grad(fd, R.theta, R.off[m.n_tensors], ref_loss_fd, &R);
    snprintf(tag, sizeof tag, "eval gradients (%s)", kind);
    check_all_grads(&m, &R, fd, tag);
    /* ids that appear only at padded positions (0 here, 12 is real) get exactly 0 */
    const BertTensor *tok = &m.tensor[0];
    int nz = 0;
    for (int c = 0; c < cf->d_model; c++) nz += tok->grad[0 * cf->d_model + c] != 0.0f;
    CHECK(nz == 0, "word-embedding gradient of the padding id: %d nonzero", nz);
    /* a second backward of the same forward gives the same gradients (zeroing works) */
    float *g1 = malloc(sizeof(float) * m.n_params);
    size_t at = 0;
    for (int i = 0; i < m.n_tensors; i++, at += m.tensor[i - 1].count)
        memcpy(g1 + at, m.tensor[i].grad, sizeof(float) * m.tensor[i].count);
    bert_backward(&m, t_ids, t_tids, t_labels_ign, TB, TN);
    at = 0;
    int diff = 0;
    for (int i = 0; i < m.n_tensors; i++, at += m.tensor[i - 1].count)
        diff += memcmp(g1 + at, m.tensor[i].grad, sizeof(float) * m.tensor[i].count) != 0;
    CHECK(diff == 0, "second backward: %d tensors differ", diff);
    free(g1), free(fd);
    ref_free(&R);
    bert_free(&m);
}

/* training forward with dropout on: the reference applies the same masks */
static void test_grad_dropout(const BertConfig *cf, const char *kind) {
    char tag[64];
    BertConfig c = *cf;
    c.dropout = 0.2f, c.attn_dropout = 0.2f;
    Bert m;
    Err e;
    CHECK(bert_init(&m, &c, TB, TN, 1, &e) == ST_OK, "bert_init: %s", e.msg);
    Rng r, dr;
    rng_init(&r, 12, 0);
    rng_init(&dr, 12, 1);
    fill_test_weights(&m, &r);
    float loss = bert_forward(&m, t_ids, t_tids, t_mask, t_labels, TB, TN, 1, &dr);
    CHECK(m.attn_dropped == 1, "attention dropout used");
    bert_backward(&m, t_ids, t_tids, t_labels, TB, TN);
    const int C = c.d_model, H = c.n_heads, M = TB * TN;
    const size_t MC = (size_t)M * C, HNN = (size_t)TB * H * TN * TN;
    double scale = 1.0 / (1.0 - (double)c.dropout), ascale = 1.0 / (1.0 - (double)c.attn_dropout);
    double *me = malloc(sizeof(double) * MC), *mp = malloc(sizeof(double) * TB * C);
    double *m1[2], *m2[2], *pa[2];
    int dropped = 0, kept = 0;
#define MASKV(u) ((u) == DROPOUT_KEEP ? scale : (u) == DROPOUT_PASS ? 1.0 : 0.0)
    for (size_t i = 0; i < MC; i++) me[i] = MASKV(m.a.drop_e[i]);
    for (int i = 0; i < TB * C; i++) mp[i] = MASKV(m.a.drop_p[i]);
    Ref R;
    ref_init(&R, &m, TB, TN, t_ids, t_tids, t_mask, t_labels);
    for (int l = 0; l < 2; l++) {
        m1[l] = malloc(sizeof(double) * MC), m2[l] = malloc(sizeof(double) * MC);
        pa[l] = malloc(sizeof(double) * HNN);
        for (size_t i = 0; i < MC; i++) {
            m1[l][i] = MASKV(m.a.layer[l].drop1[i]);
            m2[l][i] = MASKV(m.a.layer[l].drop2[i]);
            dropped += m.a.layer[l].drop1[i] == DROPOUT_DROP;
        }
        /* keep_ij = (P'_ij != 0): P > 0 at every real key, and masked keys have P = 0 */
        for (size_t i = 0; i < HNN; i++) {
            pa[l][i] = m.a.layer[l].att_drop[i] != 0.0f ? ascale : 0.0;
            kept += m.a.layer[l].mh.att[i] != 0.0f && m.a.layer[l].att_drop[i] != 0.0f;
        }
        R.m1[l] = m1[l], R.m2[l] = m2[l], R.mp_att[l] = pa[l];
    }
#undef MASKV
    CHECK(dropped > 0 && kept > 0, "dropout dropped %d hidden units, kept %d probabilities",
          dropped, kept);
    R.me = me, R.mpool = mp;
    double rl = ref_forward(&R);
    snprintf(tag, sizeof tag, "loss (dropout, %s)", kind);
    CHECK_CLOSE(loss, rl, FWD_TOL, FWD_TOL, tag);
    snprintf(tag, sizeof tag, "logits (dropout, %s)", kind);
    check_logits(bert_logits(&m), R.logits, TB * 3, tag);
    double *fd = malloc(sizeof(double) * R.off[m.n_tensors]);
    fd_grad(fd, R.theta, R.off[m.n_tensors], ref_loss_fd, &R);
    snprintf(tag, sizeof tag, "dropout gradients (%s)", kind);
    check_all_grads(&m, &R, fd, tag);
    free(fd), free(me), free(mp);
    for (int l = 0; l < 2; l++) free(m1[l]), free(m2[l]), free(pa[l]);
    ref_free(&R);
    bert_free(&m);
}

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

static void test_config_errors(void) {
    Bert m;
    Err e;
    BertConfig c = tiny;
    c.n_heads = 3;
    CHECK(bert_init(&m, &c, 2, 4, 1, &e) == ST_CONFIG &&
              strstr(e.msg, "n_heads: expected a divisor of d_model (8), found 3"),
          "heads not dividing width: %s", e.msg);
    bert_free(&m);
    c = tiny;
    c.n_layers = BERT_MAX_LAYERS + 1;
    CHECK(bert_init(&m, &c, 2, 4, 1, &e) == ST_CONFIG && strstr(e.msg, "n_layers: expected 1..24, found 25"),
          "too many layers: %s", e.msg);
    bert_free(&m);
    c = tiny;
    c.dropout = 1.0f;
    CHECK(bert_init(&m, &c, 2, 4, 1, &e) == ST_CONFIG && strstr(e.msg, "dropout: expected"),
          "dropout 1: %s", e.msg);
    bert_free(&m);
    CHECK(bert_init(&m, &tiny, 2, 11, 1, &e) == ST_INVALID && strstr(e.msg, "max_N <= max_pos (10)"),
          "max_N > max_pos: %s", e.msg);
    bert_free(&m);
    c = tiny_conv;
    c.conv_kernel = 4;
    CHECK(bert_init(&m, &c, 2, 4, 1, &e) == ST_CONFIG &&
              strstr(e.msg, "conv_kernel: expected an odd width in 1..255, found 4"),
          "even conv kernel: %s", e.msg);
    bert_free(&m);
    c = tiny;
    c.conv_kernel = 3;
    CHECK(bert_init(&m, &c, 2, 4, 1, &e) == ST_CONFIG &&
              strstr(e.msg, "conv_kernel: expected 0 with learned positions, found 3"),
          "kernel with learned positions: %s", e.msg);
    bert_free(&m);
    c = tiny;
    c.position = 2;
    CHECK(bert_init(&m, &c, 2, 4, 1, &e) == ST_CONFIG && strstr(e.msg, "position: expected"),
          "unknown position kind: %s", e.msg);
    bert_free(&m);
    /* conv: the taps start at N(0, 1/k), no position table, a long plan is fine */
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
        if (cw) {
            double s2 = 0;
            for (size_t i = 0; i < cw->count; i++) s2 += (double)cw->param[i] * cw->param[i];
            double sd = sqrt(s2 / (double)cw->count);
            CHECK(sd > 0.3 && sd < 0.6, "conv taps N(0, 1/5): sd %.4f", sd);
        }
    }
    bert_free(&m);
    /* BERT's initialisation */
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
    if (w) {
        double s2 = 0;
        for (size_t i = 0; i < w->count; i++) s2 += (double)w->param[i] * w->param[i];
        double sd = sqrt(s2 / (double)w->count);
        CHECK(sd > 0.015 && sd < 0.025, "word embeddings N(0, 0.02): sd %.4f", sd);
    }
    CHECK(bert_find_tensor(&m, "classifier.bias") == &m.tensor[m.n_tensors - 1], "last tensor");
    bert_free(&m);
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
    test_grad_eval(&tiny, "learned");
    test_grad_eval(&tiny_conv, "conv");
    test_grad_dropout(&tiny, "learned");
    test_grad_dropout(&tiny_conv, "conv");
    test_invariances(&tiny);
    test_invariances(&tiny_conv);
    test_conv_length();
    test_config_errors();
    return check_exit("test_bert_grad");
}
