/* lm_forward.c: lm_forward of model/lm.h, the decoder's forward pass (math there) on the
 * buffers bert_init planned (model/lm_plan.c), and the small accessors. Per layer:
 *   y = LN1(x);  a = Wo attention_causal(y Wq, y Wk, y Wv) + bo;  r1 = x + drop(a)
 *   z = LN2(r1);  x' = r1 + drop(W2 act(W1 z + b1) + b2)
 * then zf = LN_f(x_L), logits = zf wte^T, and the cross-entropy over the targets. An
 * inference-only model adds the branches into the residual stream in place (emb); nothing
 * allocates here. */
#include <assert.h>
#include <string.h>

#include "model/bert_internal.h"
#include "model/lm.h"
#include "nn/dropout.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/loss.h"

void lm_targets(int32_t *targets, const int32_t *ids, const uint8_t *mask, int B, int N) {
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            const size_t bn = (size_t)b * N + n;
            targets[bn] = n + 1 < N && mask[bn + 1] ? ids[bn + 1] : CE_IGNORE;
        }
}

/* out = x + drop(branch) (the residual add; out == x only in an inference model, where the
   dropout is the identity and the branch is added in place) */
static void residual(float *out, const float *x, const float *branch, uint8_t *drop, float p,
                     int training, Rng *rng, size_t n) {
    if (out == x) {
        assert(!training);
        bert_add_inplace(out, branch, n);
        return;
    }
    dropout_forward(out, drop, branch, p, training, rng, n);
    bert_add_inplace(out, x, n);
}

float lm_forward(Bert *m, const int32_t *ids, const uint8_t *mask, const int32_t *targets,
                 int B, int N, int training, Rng *rng) {
    const BertConfig *c = &m->c;
    const BertParams *p = &m->p;
    BertActs *a = &m->a;
    assert(c->arch == BERT_ARCH_DECODER);
    assert(B >= 1 && B <= m->max_B && N >= 1 && N <= m->max_N);
    const int C = c->d_model, H = c->n_heads, F = c->d_ff, V = c->vocab, M = B * N;
    const size_t MC = (size_t)M * C, MF = (size_t)M * F;
    training = training && m->train;
    const float pd = c->dropout;
    const int dropped = training && c->attn_dropout > 0.0f && a->att_keep != NULL;
    m->B = B, m->N = N, m->fwd_training = training, m->attn_dropped = dropped;
    const AttnMask km = attn_mask_causal(attn_mask_u8(mask));

    bert_embed(m, a->emb, a->e0, ids, NULL, mask, B, N);
    if (c->position == BERT_POS_CONV && a->mask)
        memcpy(a->mask, mask, (size_t)M); /* for the conv's backward */
    if (a->x0 != a->emb) dropout_forward(a->x0, a->drop_e, a->emb, pd, training, rng, MC);

    const float *x = a->x0;
    for (int l = 0; l < c->n_layers; l++) {
        const BertLayerParams *lp = &p->layer[l];
        BertLayerActs *la = &a->layer[l];
        layernorm_forward(la->y, la->ln1_mean, la->ln1_rstd, x, lp->ln1_w, lp->ln1_b, M, C,
                          c->ln_eps);
        if (dropped) bert_draw_keep(a->att_keep, (size_t)B * H * N * N, c->attn_dropout, rng);
        bert_attn_forward(a->tmp, la, a->att_keep, c->attn_dropout, dropped, la->y, km,
                          &lp->attn, B, N, C, H);
        residual(la->r1, x, a->tmp, la->drop1, pd, training, rng, MC);
        layernorm_forward(la->z, la->ln2_mean, la->ln2_rstd, la->r1, lp->ln2_w, lp->ln2_b, M,
                          C, c->ln_eps);
        linear_forward(la->h, la->z, lp->w1, lp->b1, M, C, F);
        bert_act_forward(c, la->g, la->h, MF);
        linear_forward(a->tmp, la->g, lp->w2, lp->b2, M, F, C);
        residual(la->out, la->r1, a->tmp, la->drop2, pd, training, rng, MC);
        x = la->out;
    }
    layernorm_forward(a->zf, a->lnf_mean, a->lnf_rstd, x, p->lnf_w, p->lnf_b, M, C, c->ln_eps);
    linear_forward(a->logits, a->zf, p->tok, NULL, M, C, V); /* the tied head: zf wte^T */
    if (!targets) return 0.0f;
    return crossentropy_forward(a->losses, a->probs, a->logits, targets, M, V);
}

const float *lm_logits(const Bert *m) { return m->a.logits; }
const float *lm_losses(const Bert *m) { return m->a.losses; }

int64_t lm_forward_flops(const BertConfig *c, int B, int N) {
    const int64_t M = (int64_t)B * N, C = c->d_model, F = c->d_ff;
    int64_t layer = mhsa_flops(B, N, C, c->n_heads) + linear_flops(M, C, F) +
                    linear_bias_flops(M, F) + linear_flops(M, F, C) + linear_bias_flops(M, C);
    return c->n_layers * layer + linear_flops(M, C, c->vocab);
}
