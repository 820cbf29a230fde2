/* lm_backward.c: lm_backward of model/lm.h, the decoder's backward pass (the forward is in
 * lm_forward.c). From the loss:
 *   dlogits = (probs - onehot(t)) / #targets;  dzf = dlogits wte;  dwte += dlogits^T zf
 *   dx_L = LN_f'(dzf)
 * per layer, from dx' = dL/dx' (held in dA), with x' = r1 + drop(f):
 *   df = drop'(dx');  dg = df W2;  dh = act'(h) dg;  dz = dh W1;  dr1 = dx' + LN2'(dz)
 *   da = drop'(dr1);  dy = attention-backward(da);  dx = dr1 + LN1'(dy)
 * and every parameter gradient on the way; then demb = drop'(dx0) and the embeddings:
 * learned positions: dwte[id] += demb, dwpe[n] += demb; conv (emb = e + CConv(m * e)):
 * de = demb + CConv'(demb), dwte[id] += de. The word embedding gets both the head's dense
 * gradient and this scatter, so every gradient is zeroed in full first. */
#include <assert.h>
#include <string.h>

#include "model/bert_internal.h"
#include "model/lm.h"
#include "nn/conv1d.h"
#include "nn/dropout.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/loss.h"

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

/* the embeddings' backward from dA = dL/dx0 */
static void embed_backward(Bert *m, const int32_t *ids, int B, int N) {
    const BertConfig *c = &m->c;
    BertParams *g = &m->g;
    BertActs *a = &m->a;
    const int C = c->d_model;
    const size_t MC = (size_t)B * N * C;
    zero(a->dC, MC);
    dropout_backward(a->dC, a->dA, a->drop_e, c->dropout, MC);
    const float *de = a->dC; /* (B, N, C) dL/d(wte[id] (+ wpe[n])) */
    if (c->position == BERT_POS_CONV) {
        memcpy(a->dB, a->dC, MC * sizeof(float)); /* the residual path, then the conv's */
        conv1d_dw_backward(a->dB, g->conv_w, g->conv_b, a->dC, a->e0, a->mask, m->p.conv_w, B,
                           N, C, c->conv_kernel, 1);
        de = a->dB;
    }
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            const size_t bn = (size_t)b * N + n;
            const float *d = de + bn * C;
            float *gt = g->tok + (size_t)ids[bn] * C;
            for (int i = 0; i < C; i++) gt[i] += d[i];
            if (c->position == BERT_POS_CONV) continue;
            float *gp = g->pos + (size_t)n * C;
            for (int i = 0; i < C; i++) gp[i] += d[i];
        }
}

void lm_backward(Bert *m, const int32_t *ids, const int32_t *targets, int B, int N) {
    const BertConfig *c = &m->c;
    const BertParams *p = &m->p;
    BertParams *g = &m->g;
    BertActs *a = &m->a;
    assert(m->train && c->arch == BERT_ARCH_DECODER && B == m->B && N == m->N && targets);
    if (!m->train) return;
    const int C = c->d_model, H = c->n_heads, F = c->d_ff, V = c->vocab, M = B * N;
    const size_t MC = (size_t)M * C, MF = (size_t)M * F;
    const float pd = c->dropout;
    bert_zero_grad(m);

    /* head: CE -> tied projection -> LN_f */
    zero(a->dlogits, (size_t)M * V);
    crossentropy_backward(a->dlogits, a->probs, targets, 1.0f, M, V);
    zero(a->dB, MC);
    linear_backward(a->dB, g->tok, NULL, a->dlogits, a->zf, p->tok, M, C, V);
    const float *xL = c->n_layers ? a->layer[c->n_layers - 1].out : a->x0;
    zero(a->dA, MC); /* dA: dL/d(the current layer's output) */
    layernorm_backward(a->dA, g->lnf_w, g->lnf_b, a->dB, xL, p->lnf_w, a->lnf_mean,
                       a->lnf_rstd, M, C);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const BertLayerParams *lp = &p->layer[l];
        BertLayerParams *lg = &g->layer[l];
        const BertLayerActs *la = &a->layer[l];
        const float *x = l ? a->layer[l - 1].out : a->x0;
        /* x' = r1 + drop(W2 act(h) + b2), h = W1 z + b1, z = LN2(r1): dA += LN2'(dz) */
        zero(a->dC, MC);
        dropout_backward(a->dC, a->dA, la->drop2, pd, MC);
        zero(a->dF1, MF);
        linear_backward(a->dF1, lg->w2, lg->b2, a->dC, la->g, lp->w2, M, F, C);
        zero(a->dF2, MF);
        bert_act_backward(c, a->dF2, a->dF1, la->h, MF);
        zero(a->dB, MC);
        linear_backward(a->dB, lg->w1, lg->b1, a->dF2, la->z, lp->w1, M, C, F);
        layernorm_backward(a->dA, lg->ln2_w, lg->ln2_b, a->dB, la->r1, lp->ln2_w, la->ln2_mean,
                           la->ln2_rstd, M, C);
        /* r1 = x + drop(a), a = attention(y), y = LN1(x): dA += LN1'(dy) */
        zero(a->dC, MC);
        dropout_backward(a->dC, a->dA, la->drop1, pd, MC);
        zero(a->dB, MC);
        bert_attn_backward(a->dB, &lg->attn, &a->mg, a->dC, la->y, la, m->attn_dropped,
                           &lp->attn, B, N, C, H);
        layernorm_backward(a->dA, lg->ln1_w, lg->ln1_b, a->dB, x, lp->ln1_w, la->ln1_mean,
                           la->ln1_rstd, M, C);
    }
    embed_backward(m, ids, B, N);
}
