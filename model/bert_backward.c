/* bert_backward.c: bert_backward and bert_zero_grad of bert.h, the backward pass of the
 * BERT-style encoder classifier (the forward is in bert_forward.c). Per layer, from dx'
 * (held in dA):
 *   dr2 = LN2'(dx');  dy = dr2 + W1-path;  df = drop'(dr2);  dg = df W2;  dh = gelu'(h) dg
 *   dy += dh W1;  dr1 = LN1'(dy);  dx = dr1 + attention-path(drop'(dr1))
 * and the parameter gradients of every linear / layer norm / embedding on the way; the
 * word-embedding gradient is a scatter-add over the batch's ids and is zeroed sparsely.
 * Embeddings, from demb = LN_e'(drop'(dx0)): learned positions: d tok[id] = d type[tid] =
 * d pos[n] += demb; conv positions (emb = conv(m * e) + e): de = demb + conv'(demb) (masked
 * tokens get only demb), d conv weight and bias from conv1d_dw_backward, then the scatter
 * of de into tok and type. */
#include "model/bert.h"
#include "model/bert_internal.h"

#include <assert.h>
#include <string.h>

#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/conv1d.h"
#include "nn/dropout.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/loss.h"

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

void bert_act_backward(const BertConfig *c, float *dinp, const float *dout, const float *inp,
                       size_t n) {
    if (c->act == BERT_ACT_GELU_TANH) gelu_tanh_backward(dinp, dout, inp, n);
    else gelu_backward(dinp, dout, inp, n);
}

void bert_zero_grad(Bert *m) {
    if (!m->train) return;
    memset(m->grad_plan.base, 0, m->grad_plan.bytes);
    m->n_prev_ids = 0;
}

/* attention sub-layer backward: dx += d/dx, parameter gradients += , from dout (B, N, C) */
void bert_attn_backward(float *dx, MhsaParams *gw, MhsaGradActs *g, const float *dout,
                        const float *x, const BertLayerActs *la, int dropped,
                        const MhsaParams *w, int B, int N, int C, int H) {
    const int M = B * N, dh = C / H;
    const size_t MC = (size_t)M * C;
    const MhsaActs *s = &la->mh;
    zero(g->da, MC);
    zero(g->dq, MC);
    zero(g->dk, MC);
    zero(g->dv, MC);
    /* output projection: dA = dY Wo, dWo += dY^T A, dbo += colsum dY */
    linear_backward(g->da, gw->wo, gw->bo, dout, s->a, w->wo, M, C, C);
    if (dropped)
        attention_backward_dropout(g->dq, g->dk, g->dv, s->scratch, s->scratch_len, g->da,
                                   s->att, la->att_drop, s->q, s->k, s->v, B, N, H, dh);
    else
        attention_backward(g->dq, g->dk, g->dv, s->scratch, s->scratch_len, g->da, s->att, s->q,
                           s->k, s->v, B, N, H, dh);
    linear_backward(dx, gw->wq, gw->bq, g->dq, x, w->wq, M, C, C);
    linear_backward(dx, gw->wk, gw->bk, g->dk, x, w->wk, M, C, C);
    linear_backward(dx, gw->wv, gw->bv, g->dv, x, w->wv, M, C, C);
}

/* a residual block's output out = LN(r), r = res + drop(sub), backward from dA = dL/dout
   (M, C): dB = dL/dr = LN'(dA) (LN weight and bias gradients += dw, db), dC = dL/dsub =
   drop'(dB), and dA = dB, the residual path's dL/dres, for the sub-layer's backward to add to */
static void residual_ln_backward(BertActs *a, float *dw, float *db, const float *r,
                                 const float *w, const float *mean, const float *rstd,
                                 const uint8_t *drop, float pd, int M, int C) {
    const size_t MC = (size_t)M * C;
    zero(a->dB, MC);
    layernorm_backward(a->dB, dw, db, a->dA, r, w, mean, rstd, M, C);
    zero(a->dC, MC);
    dropout_backward(a->dC, a->dB, drop, pd, MC);
    memcpy(a->dA, a->dB, MC * sizeof(float));
}

void bert_backward(Bert *m, const int32_t *ids, const int32_t *type_ids, const int32_t *labels,
                   int B, int N) {
    const BertConfig *c = &m->c;
    const BertParams *p = &m->p;
    BertParams *g = &m->g;
    BertActs *a = &m->a;
    assert(m->train && B == m->B && N == m->N && labels);
    if (!m->train) return;
    const int C = c->d_model, H = c->n_heads, F = c->d_ff, K = c->n_classes, M = B * N;
    const size_t MC = (size_t)M * C, MF = (size_t)M * F, BC = (size_t)B * C;
    const float pd = c->dropout;
    const int dropped = m->attn_dropped;

    /* zero the gradients: the word-embedding table only where the last backward wrote */
    for (int i = 0; i < m->n_prev_ids; i++)
        zero(g->tok + (size_t)a->prev_ids[i] * C, (size_t)C);
    for (int i = 1; i < m->n_tensors; i++) zero(m->tensor[i].grad, m->tensor[i].count);

    /* head: CE -> classifier -> dropout -> tanh -> pooler -> token 0 of the last layer */
    zero(a->dlogits, (size_t)B * K);
    crossentropy_backward(a->dlogits, a->probs, labels, 1.0f, B, K);
    zero(a->dpooled_d, BC);
    linear_backward(a->dpooled_d, g->cls_w, g->cls_b, a->dlogits, a->pooled_d, p->cls_w, B, C,
                    K);
    zero(a->dpooled, BC);
    dropout_backward(a->dpooled, a->dpooled_d, a->drop_p, pd, BC);
    zero(a->dpre, BC);
    tanh_backward(a->dpre, a->dpooled, a->pooled, BC);
    zero(a->dcls, BC);
    linear_backward(a->dcls, g->pool_w, g->pool_b, a->dpre, a->cls_in, p->pool_w, B, C, C);
    zero(a->dA, MC); /* dA: gradient w.r.t. the current layer's output */
    for (int b = 0; b < B; b++)
        memcpy(a->dA + (size_t)b * N * C, a->dcls + (size_t)b * C, (size_t)C * sizeof(float));

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const BertLayerParams *lp = &p->layer[l];
        BertLayerParams *lg = &g->layer[l];
        const BertLayerActs *la = &a->layer[l];
        const float *x = l ? a->layer[l - 1].out : a->x0;
        /* out = LN2(r2), r2 = y + drop(f); dA then accumulates dL/dy */
        residual_ln_backward(a, lg->ln2_w, lg->ln2_b, la->r2, lp->ln2_w, la->ln2_mean,
                             la->ln2_rstd, la->drop2, pd, M, C);
        /* f = W2 g + b2, g = gelu(h), h = W1 y + b1 */
        zero(a->dF1, MF);
        linear_backward(a->dF1, lg->w2, lg->b2, a->dC, la->g, lp->w2, M, F, C);
        zero(a->dF2, MF);
        bert_act_backward(c, a->dF2, a->dF1, la->h, MF);
        linear_backward(a->dA, lg->w1, lg->b1, a->dF2, la->y, lp->w1, M, C, F);
        /* y = LN1(r1), r1 = x + drop(attn); dA then accumulates dL/dx */
        residual_ln_backward(a, lg->ln1_w, lg->ln1_b, la->r1, lp->ln1_w, la->ln1_mean,
                             la->ln1_rstd, la->drop1, pd, M, C);
        bert_attn_backward(a->dA, &lg->attn, &a->mg, a->dC, x, la, dropped, &lp->attn, B, N, C, H);
    }

    /* x0 = drop(LN_e(emb)), emb = tok[ids] + type[type_ids] + pos[n] (learned) or
       emb = conv(m * e0) + e0, e0 = tok[ids] + type[type_ids] (conv) */
    zero(a->dC, MC);
    dropout_backward(a->dC, a->dA, a->drop_e, pd, MC);
    zero(a->dB, MC);
    layernorm_backward(a->dB, g->ln_e_w, g->ln_e_b, a->dC, a->emb, p->ln_e_w, a->lne_mean,
                       a->lne_rstd, M, C);
    const int conv = c->position == BERT_POS_CONV;
    const float *de = a->dB; /* (B, N, C) dL/d(tok[id] + type[tid] (+ pos[n])) */
    if (conv) {
        memcpy(a->dC, a->dB, MC * sizeof(float)); /* the residual path, then the conv's */
        conv1d_dw_backward(a->dC, g->conv_w, g->conv_b, a->dB, a->e0, a->mask, p->conv_w, B, N,
                           C, c->conv_kernel, 0);
        de = a->dC;
    }
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            size_t bn = (size_t)b * N + n;
            const float *d = de + bn * C;
            float *gt = g->tok + (size_t)ids[bn] * C;
            float *gy = g->type + (size_t)(type_ids ? type_ids[bn] : 0) * C;
            for (int i = 0; i < C; i++) {
                gt[i] += d[i];
                gy[i] += d[i];
            }
            if (conv) continue;
            float *gp = g->pos + (size_t)n * C;
            for (int i = 0; i < C; i++) gp[i] += d[i];
        }
    memcpy(a->prev_ids, ids, (size_t)M * sizeof(int32_t));
    m->n_prev_ids = M;
}
