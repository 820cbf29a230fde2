/* bert_forward.c: bert_forward of bert.h, the forward pass of the BERT-style encoder
 * classifier (post-LN BERT) on the buffers bert_init planned:
 *   emb = tok[ids] + type[type_ids] + pos[n]                  (learned positions)
 *   e = tok[ids] + type[type_ids];  emb = conv(m * e) + e     (conv positions, nn/conv1d.h)
 *   x0 = drop(LN_e(emb))
 *   layer:  q, k, v = x Wq^T + bq, ...;  P = softmax_masked(q_h k_h^T / sqrt(dh));
 *           P' = drop(P);  a = (P' v_h) Wo^T + bo;  r1 = x + drop(a);  y = LN1(r1)
 *           h = y W1^T + b1;  g = gelu(h);  r2 = y + drop(g W2^T + b2);  x' = LN2(r2)
 *   pooled = tanh(x_L[:, 0] Wp^T + bp);  logits = drop(pooled) Wc^T + bc;  CE loss.
 * An inference-only model runs every step in place on shared buffers (see alias_acts in
 * bert.c); nothing allocates here. */
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
#include "nn/softmax.h"

/* draw the attention dropout keep mask: keep[i] = u_i >= p, u_i uniform, in index order */
void bert_draw_keep(uint8_t *keep, size_t n, float p, Rng *rng) {
    for (size_t i = 0; i < n; i++) keep[i] = rng_uniformf(rng) >= p;
}

/* attention sub-layer: out (B, N, C) = Wo (attention(x Wq, x Wk, x Wv) with optional
   dropout on P) + bo, the nn/mhsa.h layer with attention dropout inserted */
void bert_attn_forward(float *out, BertLayerActs *la, const uint8_t *keep, float p_attn,
                       int dropped, const float *x, AttnMask km, const MhsaParams *w, int B,
                       int N, int C, int H) {
    const int M = B * N, dh = C / H;
    MhsaActs *s = &la->mh;
    linear_forward(s->q, x, w->wq, w->bq, M, C, C);
    linear_forward(s->k, x, w->wk, w->bk, M, C, C);
    linear_forward(s->v, x, w->wv, w->bv, M, C, C);
    if (dropped)
        attention_forward_dropout(s->a, s->att, la->att_drop, keep, p_attn, s->q, s->k, s->v,
                                  km, B, N, H, dh);
    else
        attention_forward(s->a, s->att, s->scratch, s->scratch_len, s->q, s->k, s->v, km, B, N,
                          H, dh);
    linear_forward(out, s->a, w->wo, w->bo, M, C, C);
}

void bert_add_inplace(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void bert_act_forward(const BertConfig *c, float *out, const float *inp, size_t n) {
    if (c->act == BERT_ACT_GELU_TANH) gelu_tanh_forward(out, inp, n);
    else gelu_forward(out, inp, n);
}

void bert_embed(const Bert *m, float *emb, float *e0, const int32_t *ids,
                const int32_t *type_ids, const uint8_t *mask, int B, int N) {
    const BertConfig *c = &m->c;
    const BertParams *p = &m->p;
    const int C = c->d_model;
    const int conv = c->position == BERT_POS_CONV;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            size_t bn = (size_t)b * N + n;
            int32_t id = ids[bn], tid = type_ids ? type_ids[bn] : 0;
            assert(id >= 0 && id < c->vocab && tid >= 0 && tid < c->type_vocab);
            const float *tw = p->tok + (size_t)id * C;
            float *o = conv ? e0 + bn * C : emb + bn * C;
            if (!p->type) { /* a decoder: no token types */
                if (conv) memcpy(o, tw, (size_t)C * sizeof(float));
                else
                    for (int i = 0; i < C; i++) o[i] = tw[i] + p->pos[(size_t)n * C + i];
                continue;
            }
            const float *ty = p->type + (size_t)tid * C;
            if (conv) {
                for (int i = 0; i < C; i++) o[i] = tw[i] + ty[i];
            } else {
                const float *ps = p->pos + (size_t)n * C;
                for (int i = 0; i < C; i++) o[i] = (tw[i] + ty[i]) + ps[i];
            }
        }
    if (conv) {
        /* a decoder's convolution is causal (model/lm.h) */
        conv1d_dw_forward(emb, e0, mask, p->conv_w, p->conv_b, B, N, C, c->conv_kernel,
                          c->arch == BERT_ARCH_DECODER);
        bert_add_inplace(emb, e0, (size_t)B * N * C);
    }
}

float bert_forward(Bert *m, const int32_t *ids, const int32_t *type_ids, const uint8_t *mask,
                   const int32_t *labels, int B, int N, int training, Rng *rng) {
    const BertConfig *c = &m->c;
    const BertParams *p = &m->p;
    BertActs *a = &m->a;
    assert(B >= 1 && B <= m->max_B && N >= 1 && N <= m->max_N);
    const int C = c->d_model, H = c->n_heads, F = c->d_ff, K = c->n_classes, M = B * N;
    const size_t MC = (size_t)M * C, MF = (size_t)M * F, BC = (size_t)B * C;
    training = training && m->train;
    const float pd = c->dropout;
    const int dropped = training && c->attn_dropout > 0.0f && a->att_keep != NULL;
    m->B = B, m->N = N, m->fwd_training = training, m->attn_dropped = dropped;
    AttnMask km = attn_mask_u8(mask);

    bert_embed(m, a->emb, a->e0, ids, type_ids, mask, B, N);
    if (c->position == BERT_POS_CONV && a->mask)
        memcpy(a->mask, mask, (size_t)M); /* for the conv's backward */
    layernorm_forward(a->lne, a->lne_mean, a->lne_rstd, a->emb, p->ln_e_w, p->ln_e_b, M, C,
                      c->ln_eps);
    dropout_forward(a->x0, a->drop_e, a->lne, pd, training, rng, MC);

    const float *x = a->x0;
    for (int l = 0; l < c->n_layers; l++) {
        const BertLayerParams *lp = &p->layer[l];
        BertLayerActs *la = &a->layer[l];
        if (dropped) bert_draw_keep(a->att_keep, (size_t)B * H * N * N, c->attn_dropout, rng);
        bert_attn_forward(a->tmp, la, a->att_keep, c->attn_dropout, dropped, x, km, &lp->attn, B,
                     N, C, H);
        /* r1 = x + drop(a); y = LN1(r1) */
        dropout_forward(la->r1, la->drop1, a->tmp, pd, training, rng, MC);
        bert_add_inplace(la->r1, x, MC);
        layernorm_forward(la->y, la->ln1_mean, la->ln1_rstd, la->r1, lp->ln1_w, lp->ln1_b, M, C,
                          c->ln_eps);
        /* feed-forward: h = W1 y + b1; g = gelu(h); tmp = W2 g + b2 */
        linear_forward(la->h, la->y, lp->w1, lp->b1, M, C, F);
        bert_act_forward(c, la->g, la->h, MF);
        linear_forward(a->tmp, la->g, lp->w2, lp->b2, M, F, C);
        /* r2 = y + drop(tmp); out = LN2(r2) */
        dropout_forward(la->r2, la->drop2, a->tmp, pd, training, rng, MC);
        bert_add_inplace(la->r2, la->y, MC);
        layernorm_forward(la->out, la->ln2_mean, la->ln2_rstd, la->r2, lp->ln2_w, lp->ln2_b, M,
                          C, c->ln_eps);
        x = la->out;
    }

    /* pooler on token 0, dropout, classifier */
    for (int b = 0; b < B; b++)
        memcpy(a->cls_in + (size_t)b * C, x + (size_t)b * N * C, (size_t)C * sizeof(float));
    linear_forward(a->pre, a->cls_in, p->pool_w, p->pool_b, B, C, C);
    tanh_forward(a->pooled, a->pre, BC);
    dropout_forward(a->pooled_d, a->drop_p, a->pooled, pd, training, rng, BC);
    linear_forward(a->logits, a->pooled_d, p->cls_w, p->cls_b, B, C, K);
    if (!labels) {
        softmax_forward(a->probs, a->logits, NULL, B, K, 1);
        return 0.0f;
    }
    return crossentropy_forward(a->losses, a->probs, a->logits, labels, B, K);
}
