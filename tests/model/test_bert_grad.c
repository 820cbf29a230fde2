/* test_bert_grad.c: the BERT classifier (model/bert.h) against an independent, naive
 * double-precision forward of the whole model written out here, for both position kinds:
 * learned absolute positions, and the convolutional position encoding (emb = e + conv(m e),
 * a depthwise conv of width 5 along the sequence, wider than the shortest real row):
 *   - logits and loss vs the double forward (the tiny model and batch of bert_fixture.h:
 *     V=13, P=10, T=2, C=8, H=2, F=12, L=2, K=3; B=3, N=6 with 6, 4 and 2 real tokens, type
 *     ids not all 0, one label -1);
 *   - every parameter's gradient vs central finite differences of the double forward
 *     (tests/fd.h), in eval mode, and again in a training forward with dropout 0.2 on the
 *     hidden states and 0.2 on the attention probabilities, the reference applying the
 *     same masks (read back from the model's activations); the padding id's word-embedding
 *     gradient is exactly 0 and a second backward gives the same gradients.
 * Invariances, FLOPs and long conv inputs: test_bert_invariance.c; configuration errors and
 * initialisation: test_bert_config.c.
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
#include "tests/model/bert_fixture.h"
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

int main(void) {
    test_grad_eval(&tiny, "learned");
    test_grad_eval(&tiny_conv, "conv");
    test_grad_dropout(&tiny, "learned");
    test_grad_dropout(&tiny_conv, "conv");
    return check_exit("test_bert_grad");
}
