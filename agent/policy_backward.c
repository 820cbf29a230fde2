/* policy_backward.c: policy_backward and policy_zero_grad of agent/policy.h, the backward pass
 * of the transformer policy (the forward is in policy.c). Given dlogits (M, nh, A) and dvalue
 * (M), ACCUMULATING into the gradient buffer:
 *     dlg = dlogits at allowed choices of active heads, 0 elsewhere (never read there)
 *     d pi_in = dlg W_pi,  dW_pi += dlg^T pi_in,  db_pi += colsum dlg;  same for the value head
 *     dz = scatter-add of d pi_in (head token rows) and d v_in (value token rows)
 *     dh = LN_out'(dz)
 *     block l, from the top (dh = d loss / d h'):
 *         dg = dh W2;  df = gelu'(f1) dg;  dxf = df W1;  dh += LN_f'(dxf)   -> d loss / d r1
 *         dxa = MHSA'(dh);  dh += LN_a'(dxa)                               -> d loss / d h
 *     dW_in += dh^T x0,  db_in += colsum dh
 * Rows of masked-off tokens get zero gradient (they are not read by the heads and are masked
 * keys), so they contribute nothing. */
#include <assert.h>
#include <string.h>

#include "agent/policy_internal.h"
#include "nn/activation.h"
#include "nn/layernorm.h"
#include "nn/linear.h"

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

void policy_zero_grad(Policy *P) { zero(P->grads, P->n_params); }

void policy_backward(Policy *P, const float *dlogits, const float *dvalue) {
    assert(P && P->M > 0);
    if (!P || P->M <= 0) return; /* no successful forward to differentiate */
    const PolicyConfig *c = &P->c;
    const int M = P->M, T = c->n_tokens, D = c->token_dim, W = c->width, F = c->ffn;
    const int H = c->attn_heads, nh = c->n_heads, A = c->n_actions, R = M * T;
    const size_t RW = (size_t)R * W, RF = (size_t)R * F;
    const PolicyWeights *p = &P->p;
    PolicyWeights *g = &P->g;

    /* heads: dlg keeps only the allowed choices of active heads (others may hold anything,
       even NaN: they are not read, not multiplied by 0) */
    for (int m = 0; m < M; m++)
        for (int k = 0; k < nh; k++) {
            const size_t mk = (size_t)m * nh + k;
            const int active = P->tok_mask[(size_t)m * T + c->head_token0 + k];
            for (int a = 0; a < A; a++)
                P->dlg[mk * A + a] =
                    dlogits && active && P->act_mask[mk * A + a] ? dlogits[mk * A + a] : 0.0f;
        }
    zero(P->dpi_in, (size_t)M * nh * W);
    linear_backward(P->dpi_in, g->pi_w, g->pi_b, P->dlg, P->pi_in, p->pi_w, M * nh, W, A);
    zero(P->dv_in, (size_t)M * W);
    if (dvalue) linear_backward(P->dv_in, g->v_w, g->v_b, dvalue, P->v_in, p->v_w, M, W, 1);
    zero(P->dz, RW);
    for (int m = 0; m < M; m++) {
        for (int k = 0; k < nh; k++) {
            float *dz = P->dz + ((size_t)m * T + c->head_token0 + k) * W;
            const float *d = P->dpi_in + ((size_t)m * nh + k) * W;
            for (int i = 0; i < W; i++) dz[i] += d[i];
        }
        float *dz = P->dz + ((size_t)m * T + c->value_token) * W;
        const float *d = P->dv_in + (size_t)m * W;
        for (int i = 0; i < W; i++) dz[i] += d[i];
    }

    /* z = LN_out(h_L) */
    const float *hL = c->layers ? P->blk[c->layers - 1].out : P->h0;
    zero(P->dh, RW);
    layernorm_backward(P->dh, g->ln_o_w, g->ln_o_b, P->dz, hL, p->ln_o_w, P->mean_o, P->rstd_o,
                       R, W);

    for (int l = c->layers - 1; l >= 0; l--) {
        const PolicyBlock *b = &p->blk[l];
        PolicyBlock *gb = &g->blk[l];
        const PolicyBlockActs *a = &P->blk[l];
        const float *h = l ? P->blk[l - 1].out : P->h0;
        /* out = r1 + W2 gelu(W1 LN_f(r1) + b1) + b2: dh already carries the residual path */
        zero(P->dg, RF);
        linear_backward(P->dg, gb->w2, gb->b2, P->dh, a->g, b->w2, R, F, W);
        zero(P->df, RF);
        gelu_backward(P->df, P->dg, a->f1, RF);
        zero(P->dx, RW);
        linear_backward(P->dx, gb->w1, gb->b1, P->df, a->xf, b->w1, R, W, F);
        layernorm_backward(P->dh, gb->ln_f_w, gb->ln_f_b, P->dx, a->r1, b->ln_f_w, a->mean_f,
                           a->rstd_f, R, W);
        /* r1 = h + MHSA(LN_a(h)) */
        zero(P->dx, RW);
        mhsa_backward(P->dx, &gb->attn, &P->mg, P->dh, a->xa, &a->mh, &b->attn, M, T, W, H);
        layernorm_backward(P->dh, gb->ln_a_w, gb->ln_a_b, P->dx, h, b->ln_a_w, a->mean_a,
                           a->rstd_a, R, W);
    }

    /* h0 = x0 W_in^T + b_in */
    linear_backward(NULL, g->emb_w, g->emb_b, P->dh, P->x0, p->emb_w, R, D, W);
}
