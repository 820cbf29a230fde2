/* policy.c: the actor-critic transformer policy of agent/policy.h: config check, parameter
 * layout, memory planning, orthogonal init and the forward pass (the backward is in
 * policy_backward.c). With R = M*T rows (every token of every observation, masked or not):
 *     x0 = obs with masked-off tokens zeroed                   (R, D)
 *     h0 = x0 W_in^T + b_in                                    (R, W)
 *     block l:  r1 = h + MHSA(LN_a(h); key mask = tok_mask)    (R, W)
 *               h' = r1 + W2 gelu(W1 LN_f(r1) + b1) + b2       (R, W)
 *     z = LN_out(h_L)                                          (R, W)   (eps 1e-5)
 *     logits[m,k] = z[m, head_token0+k] W_pi^T + b_pi          (M, nh, A)
 *     value[m]    = z[m, value_token] . w_v + b_v              (M)
 *     logp[m,k,a] = logits - mx - log sum_{b allowed} exp(logits[b] - mx), mx = max allowed
 *                   (sum in double); -INFINITY where masked; 0 for every a if the head's
 *                   token is masked off.
 * Masked-off tokens are ignored as keys, so no present token (and no output) depends on
 * them; zeroing their features first makes that hold bitwise even for NaN features (0 * NaN
 * in P V would otherwise leak). Their own rows are computed and never read.
 *
 * Parameters: one flat float buffer in tensor-table order, no padding (policy_tensor gives
 * names, offsets and shapes); the gradient buffer has the same layout. Orthogonal init:
 * per weight matrix (rows, cols), draw rows*cols N(0,1) (core/rng.h, row-major order), then
 * orthonormalise the min(rows, cols) rows (rows <= cols) or columns (rows > cols) by modified
 * Gram-Schmidt run twice, in double, and scale by the gain: Gram-Schmidt of Gaussian vectors
 * is the Q of a QR with positive diag(R), i.e. Haar distributed, as torch.nn.init.orthogonal_.
 * Threads: none of our own; nn/ layers (OpenBLAS, attention's OpenMP loop) parallelise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy_internal.h"
#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/mhsa.h"

/* ------------------------------------------------------------------ configuration */

static Status config_check(const PolicyConfig *c, Err *e) {
    if (!c) return err_set(e, ST_INVALID, "policy: NULL config");
    const struct {
        const char *name;
        int v, lo, hi;
    } ints[] = {
        {"n_tokens", c->n_tokens, 1, 1 << 12}, {"token_dim", c->token_dim, 1, 1 << 16},
        {"n_heads", c->n_heads, 1, 1 << 12},   {"n_actions", c->n_actions, 1, 1 << 16},
        {"width", c->width, 1, 1 << 14},       {"layers", c->layers, 1, POLICY_MAX_LAYERS},
        {"attn_heads", c->attn_heads, 1, 1 << 10}, {"ffn", c->ffn, 1, 1 << 16},
        {"max_batch", c->max_batch, 1, 1 << 20},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].v < ints[i].lo || ints[i].v > ints[i].hi)
            return err_set(e, ST_CONFIG, "policy: %s: expected %d..%d, found %d", ints[i].name,
                           ints[i].lo, ints[i].hi, ints[i].v);
    if (c->width % c->attn_heads != 0)
        return err_set(e, ST_CONFIG, "policy: attn_heads: expected a divisor of width (%d), "
                       "found %d", c->width, c->attn_heads);
    if (c->head_token0 < 0 || c->head_token0 + c->n_heads > c->n_tokens)
        return err_set(e, ST_CONFIG, "policy: head_token0: expected 0..%d (n_tokens %d - "
                       "n_heads %d), found %d", c->n_tokens - c->n_heads, c->n_tokens,
                       c->n_heads, c->head_token0);
    if (c->value_token < 0 || c->value_token >= c->n_tokens)
        return err_set(e, ST_CONFIG, "policy: value_token: expected 0..%d, found %d",
                       c->n_tokens - 1, c->value_token);
    /* BLAS and the attention kernel index with int: keep every buffer below 2^31 */
    const int64_t R = (int64_t)c->max_batch * c->n_tokens, lim = (int64_t)1 << 31;
    int64_t wide = c->width > c->ffn ? c->width : c->ffn;
    if (c->token_dim > wide) wide = c->token_dim;
    if (R * wide >= lim || R * c->attn_heads * c->n_tokens >= lim ||
        (int64_t)c->max_batch * c->n_heads * c->n_actions >= lim)
        return err_set(e, ST_CONFIG, "policy: max_batch %d x n_tokens %d: expected buffers "
                       "below 2^31 elements (width %d, ffn %d, token_dim %d, attn_heads %d)",
                       c->max_batch, c->n_tokens, c->width, c->ffn, c->token_dim,
                       c->attn_heads);
    return ST_OK;
}

/* ------------------------------------------------------------------ layout */

/* add_tensor: next table entry at the current end of the flat buffer; pf, gf: the fields of
   P->p and P->g that will point at it */
static void add_tensor(Policy *P, float **pf, float **gf, const char *name, int64_t d0,
                       int64_t d1, int kind, double gain) {
    int i = P->n_tensors++;
    PolicyTensor *t = &P->tensor[i];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = P->n_params;
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->decay = kind == POLICY_INIT_ORTHO;
    P->init_kind[i] = kind;
    P->init_gain[i] = gain;
    P->pfield[i] = pf;
    P->gfield[i] = gf;
    P->n_params += (size_t)d0 * (size_t)(d1 ? d1 : 1);
}

static void build_table(Policy *P) {
    const PolicyConfig *c = &P->c;
    const int W = c->width, F = c->ffn;
    const double g2 = sqrt(2.0);
    PolicyWeights *p = &P->p, *g = &P->g;
    char nm[48];
#define T(field, name, d0, d1, kind, gain) \
    add_tensor(P, &p->field, &g->field, name, d0, d1, POLICY_INIT_##kind, gain)
    T(emb_w, "embed/w", W, c->token_dim, ORTHO, g2);
    T(emb_b, "embed/b", W, 0, ZERO, 0);
    for (int l = 0; l < c->layers; l++) {
#define B(field, suffix, d0, d1, kind, gain)                            \
    snprintf(nm, sizeof nm, "blocks/%d/%s", l, suffix);                 \
    T(blk[l].field, nm, d0, d1, kind, gain)
        B(ln_a_w, "ln_a/w", W, 0, ONE, 0);
        B(ln_a_b, "ln_a/b", W, 0, ZERO, 0);
        /* MhsaParams order, as mhsa_params_point lays them out */
        B(attn.wq, "attn/w_q", W, W, ORTHO, g2);
        B(attn.bq, "attn/b_q", W, 0, ZERO, 0);
        B(attn.wk, "attn/w_k", W, W, ORTHO, g2);
        B(attn.bk, "attn/b_k", W, 0, ZERO, 0);
        B(attn.wv, "attn/w_v", W, W, ORTHO, g2);
        B(attn.bv, "attn/b_v", W, 0, ZERO, 0);
        B(attn.wo, "attn/w_o", W, W, ORTHO, g2);
        B(attn.bo, "attn/b_o", W, 0, ZERO, 0);
        B(ln_f_w, "ln_f/w", W, 0, ONE, 0);
        B(ln_f_b, "ln_f/b", W, 0, ZERO, 0);
        B(w1, "ffn/w1", F, W, ORTHO, g2);
        B(b1, "ffn/b1", F, 0, ZERO, 0);
        B(w2, "ffn/w2", W, F, ORTHO, g2);
        B(b2, "ffn/b2", W, 0, ZERO, 0);
#undef B
    }
    T(ln_o_w, "ln_out/w", W, 0, ONE, 0);
    T(ln_o_b, "ln_out/b", W, 0, ZERO, 0);
    T(pi_w, "pi/w", c->n_actions, W, ORTHO, 0.01);
    T(pi_b, "pi/b", c->n_actions, 0, ZERO, 0);
    T(v_w, "v/w", 1, W, ORTHO, 1.0);
    T(v_b, "v/b", 1, 0, ZERO, 0);
#undef T
}

static void plan_buffers(Policy *P) {
    const PolicyConfig *c = &P->c;
    const int Mx = c->max_batch, T = c->n_tokens, W = c->width, F = c->ffn;
    const size_t R = (size_t)Mx * T, RW = R * W, RF = R * F;
    const size_t MH = (size_t)Mx * c->n_heads;
    MemPlan *pl = &P->plan;
    mem_plan_f32(pl, &P->params, P->n_params, "policy: params");
    mem_plan_f32(pl, &P->grads, P->n_params, "policy: grads");
    mem_plan_u8(pl, &P->tok_mask, R, "policy: tok_mask");
    mem_plan_u8(pl, &P->act_mask, MH * c->n_actions, "policy: act_mask");
    mem_plan_f32(pl, &P->x0, R * c->token_dim, "policy: x0");
    mem_plan_f32(pl, &P->h0, RW, "policy: h0");
    const int threads = attention_max_threads();
    for (int l = 0; l < c->layers; l++) {
        PolicyBlockActs *a = &P->blk[l];
        mem_plan_f32(pl, &a->xa, RW, "policy: blocks xa");
        mem_plan_f32(pl, &a->mean_a, R, "policy: blocks mean_a");
        mem_plan_f32(pl, &a->rstd_a, R, "policy: blocks rstd_a");
        mhsa_plan(pl, &a->mh, l == 0 ? &P->mg : NULL, "policy: blocks attn", Mx, T, W,
                  c->attn_heads, threads, 1);
        mem_plan_f32(pl, &a->r1, RW, "policy: blocks r1");
        mem_plan_f32(pl, &a->xf, RW, "policy: blocks xf");
        mem_plan_f32(pl, &a->mean_f, R, "policy: blocks mean_f");
        mem_plan_f32(pl, &a->rstd_f, R, "policy: blocks rstd_f");
        mem_plan_f32(pl, &a->f1, RF, "policy: blocks f1");
        mem_plan_f32(pl, &a->g, RF, "policy: blocks g");
        mem_plan_f32(pl, &a->out, RW, "policy: blocks out");
    }
    mem_plan_f32(pl, &P->tmp, RW, "policy: tmp");
    mem_plan_f32(pl, &P->z, RW, "policy: z");
    mem_plan_f32(pl, &P->mean_o, R, "policy: mean_o");
    mem_plan_f32(pl, &P->rstd_o, R, "policy: rstd_o");
    mem_plan_f32(pl, &P->pi_in, MH * W, "policy: pi_in");
    mem_plan_f32(pl, &P->logits, MH * c->n_actions, "policy: logits");
    mem_plan_f32(pl, &P->v_in, (size_t)Mx * W, "policy: v_in");
    mem_plan_f32(pl, &P->dlg, MH * c->n_actions, "policy: dlg");
    mem_plan_f32(pl, &P->dpi_in, MH * W, "policy: dpi_in");
    mem_plan_f32(pl, &P->dv_in, (size_t)Mx * W, "policy: dv_in");
    mem_plan_f32(pl, &P->dz, RW, "policy: dz");
    mem_plan_f32(pl, &P->dh, RW, "policy: dh");
    mem_plan_f32(pl, &P->dx, RW, "policy: dx");
    mem_plan_f32(pl, &P->dg, RF, "policy: dg");
    mem_plan_f32(pl, &P->df, RF, "policy: df");
    size_t work = 0;
    for (int i = 0; i < P->n_tensors; i++)
        if (P->tensor[i].ndim == 2) {
            size_t n = (size_t)(P->tensor[i].shape[0] * P->tensor[i].shape[1]);
            work = n > work ? n : work;
        }
    mem_plan_f64(pl, &P->init_work, work, "policy: init_work");
}

Status policy_init(Policy **out, const PolicyConfig *c, Err *e) {
    if (!out) return err_set(e, ST_INVALID, "policy_init: NULL output pointer");
    *out = NULL;
    Status st = config_check(c, e);
    if (st) return st;
    Policy *P = calloc(1, sizeof *P);
    if (!P) return err_set(e, ST_NOMEM, "policy: cannot allocate %zu bytes", sizeof *P);
    P->c = *c;
    mem_plan_init(&P->plan);
    build_table(P);
    plan_buffers(P);
    st = mem_plan_alloc(&P->plan, e);
    if (st) {
        free(P);
        return err_prefix(e, "policy");
    }
    for (int i = 0; i < P->n_tensors; i++) {
        *P->pfield[i] = P->params + P->tensor[i].offset;
        *P->gfield[i] = P->grads + P->tensor[i].offset;
    }
    *out = P;
    return ST_OK;
}

void policy_free(Policy *P) {
    if (!P) return;
    mem_plan_free(&P->plan);
    free(P);
}

const PolicyConfig *policy_config(const Policy *P) { return &P->c; }
size_t policy_n_params(const Policy *P) { return P->n_params; }
float *policy_params(Policy *P) { return P->params; }
float *policy_grads(Policy *P) { return P->grads; }
int policy_n_tensors(const Policy *P) { return P->n_tensors; }
const PolicyTensor *policy_tensor(const Policy *P, int i) {
    return i >= 0 && i < P->n_tensors ? &P->tensor[i] : NULL;
}

/* ------------------------------------------------------------------ orthogonal init */

/* orthogonal: Wt (rows, cols) = gain * Q, Q with orthonormal rows (rows <= cols) or columns
   (rows > cols), from rows*cols N(0,1) draws in row-major order (see the top of the file).
   work: rows*cols doubles. */
static void orthogonal(float *Wt, int rows, int cols, double gain, double *work, Rng *rng) {
    const size_t n = (size_t)rows * cols;
    const int byrow = rows <= cols, nv = byrow ? rows : cols, len = byrow ? cols : rows;
    const size_t vs = byrow ? (size_t)cols : 1, es = byrow ? 1 : (size_t)cols;
    for (size_t i = 0; i < n; i++) work[i] = rng_normal(rng);
#define E(i, j) work[(size_t)(i) * vs + (size_t)(j) * es] /* element j of vector i */
    for (int i = 0; i < nv; i++) {
        for (;;) {
            for (int pass = 0; pass < 2; pass++)
                for (int k = 0; k < i; k++) {
                    double d = 0;
                    for (int j = 0; j < len; j++) d += E(k, j) * E(i, j);
                    for (int j = 0; j < len; j++) E(i, j) -= d * E(k, j);
                }
            double nrm = 0;
            for (int j = 0; j < len; j++) nrm += E(i, j) * E(i, j);
            nrm = sqrt(nrm);
            if (nrm > 1e-6) { /* a Gaussian residual has norm ~sqrt(len - i) >= 1 */
                for (int j = 0; j < len; j++) E(i, j) /= nrm;
                break;
            }
            for (int j = 0; j < len; j++) E(i, j) = rng_normal(rng); /* (never in practice) */
        }
    }
#undef E
    for (size_t i = 0; i < n; i++) Wt[i] = (float)(gain * work[i]);
}

void policy_init_params(Policy *P, Rng *rng) {
    for (int i = 0; i < P->n_tensors; i++) {
        const PolicyTensor *t = &P->tensor[i];
        float *x = P->params + t->offset;
        size_t n = (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
        if (P->init_kind[i] == POLICY_INIT_ORTHO)
            orthogonal(x, (int)t->shape[0], (int)t->shape[1], P->init_gain[i], P->init_work,
                       rng);
        else
            for (size_t j = 0; j < n; j++) x[j] = P->init_kind[i] == POLICY_INIT_ONE ? 1.0f : 0.0f;
    }
}

/* ------------------------------------------------------------------ forward */

static void add_into(float *y, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* check_masks: copy tok_mask / act_mask as 0/1 and check the documented preconditions */
static Status check_masks(Policy *P, const uint8_t *tok_mask, const uint8_t *act_mask, int M,
                          Err *e) {
    const PolicyConfig *c = &P->c;
    const int T = c->n_tokens, nh = c->n_heads, A = c->n_actions;
    for (size_t i = 0; i < (size_t)M * T; i++) P->tok_mask[i] = tok_mask[i] != 0;
    for (size_t i = 0; i < (size_t)M * nh * A; i++) P->act_mask[i] = act_mask[i] != 0;
    for (int m = 0; m < M; m++) {
        if (!P->tok_mask[(size_t)m * T + c->value_token])
            return err_set(e, ST_INVALID, "policy_forward: observation %d: expected the value "
                           "token %d present, found it masked off", m, c->value_token);
        for (int k = 0; k < nh; k++) {
            if (!P->tok_mask[(size_t)m * T + c->head_token0 + k]) continue;
            int any = 0;
            for (int a = 0; a < A; a++) any |= P->act_mask[((size_t)m * nh + k) * A + a];
            if (!any)
                return err_set(e, ST_INVALID, "policy_forward: observation %d, head %d: "
                               "expected at least one allowed choice, found none", m, k);
        }
    }
    return ST_OK;
}

Status policy_forward(Policy *P, float *logp, float *value, const float *obs,
                      const uint8_t *tok_mask, const uint8_t *act_mask, int M, Err *e) {
    if (!P || !logp || !value || !obs || !tok_mask || !act_mask)
        return err_set(e, ST_INVALID, "policy_forward: NULL argument");
    const PolicyConfig *c = &P->c;
    if (M < 1 || M > c->max_batch)
        return err_set(e, ST_INVALID, "policy_forward: M: expected 1..%d (max_batch), found %d",
                       c->max_batch, M);
    P->M = 0;
    Status st = check_masks(P, tok_mask, act_mask, M, e);
    if (st) return st;
    const int T = c->n_tokens, D = c->token_dim, W = c->width, F = c->ffn, H = c->attn_heads;
    const int nh = c->n_heads, A = c->n_actions, R = M * T;
    const size_t RW = (size_t)R * W;
    const PolicyWeights *p = &P->p;

    /* x0 = obs with masked-off tokens zeroed; h0 = x0 W_in^T + b_in */
    for (int r = 0; r < R; r++) {
        float *x = P->x0 + (size_t)r * D;
        if (P->tok_mask[r]) memcpy(x, obs + (size_t)r * D, (size_t)D * sizeof(float));
        else memset(x, 0, (size_t)D * sizeof(float));
    }
    linear_forward(P->h0, P->x0, p->emb_w, p->emb_b, R, D, W);

    const float *h = P->h0;
    AttnMask km = attn_mask_u8(P->tok_mask);
    for (int l = 0; l < c->layers; l++) {
        const PolicyBlock *b = &p->blk[l];
        PolicyBlockActs *a = &P->blk[l];
        layernorm_forward(a->xa, a->mean_a, a->rstd_a, h, b->ln_a_w, b->ln_a_b, R, W,
                          POLICY_LN_EPS);
        mhsa_forward(P->tmp, &a->mh, a->xa, km, &b->attn, M, T, W, H);
        add_into(a->r1, h, P->tmp, RW);
        layernorm_forward(a->xf, a->mean_f, a->rstd_f, a->r1, b->ln_f_w, b->ln_f_b, R, W,
                          POLICY_LN_EPS);
        linear_forward(a->f1, a->xf, b->w1, b->b1, R, W, F);
        gelu_forward(a->g, a->f1, (size_t)R * F);
        linear_forward(P->tmp, a->g, b->w2, b->b2, R, F, W);
        add_into(a->out, a->r1, P->tmp, RW);
        h = a->out;
    }
    layernorm_forward(P->z, P->mean_o, P->rstd_o, h, p->ln_o_w, p->ln_o_b, R, W, POLICY_LN_EPS);

    /* heads: gather the head tokens' and the value token's rows of z */
    for (int m = 0; m < M; m++) {
        for (int k = 0; k < nh; k++)
            memcpy(P->pi_in + ((size_t)m * nh + k) * W,
                   P->z + ((size_t)m * T + c->head_token0 + k) * W, (size_t)W * sizeof(float));
        memcpy(P->v_in + (size_t)m * W, P->z + ((size_t)m * T + c->value_token) * W,
               (size_t)W * sizeof(float));
    }
    linear_forward(P->logits, P->pi_in, p->pi_w, p->pi_b, M * nh, W, A);
    linear_forward(value, P->v_in, p->v_w, p->v_b, M, W, 1);

    /* masked log-softmax per active head */
    for (int m = 0; m < M; m++) {
        if (!isfinite(value[m]))
            return err_set(e, ST_NUMERIC, "policy_forward: observation %d: value is %g", m,
                           (double)value[m]);
        for (int k = 0; k < nh; k++) {
            const size_t mk = (size_t)m * nh + k;
            const float *lg = P->logits + mk * A;
            const uint8_t *am = P->act_mask + mk * A;
            float *lp = logp + mk * A;
            if (!P->tok_mask[(size_t)m * T + c->head_token0 + k]) {
                for (int a = 0; a < A; a++) lp[a] = 0.0f;
                continue;
            }
            float mx = -INFINITY;
            for (int a = 0; a < A; a++)
                if (am[a] && lg[a] > mx) mx = lg[a];
            double s = 0;
            for (int a = 0; a < A; a++)
                if (am[a]) s += exp((double)lg[a] - (double)mx);
            const double lse = (double)mx + log(s);
            if (!isfinite(lse))
                return err_set(e, ST_NUMERIC, "policy_forward: observation %d, head %d: "
                               "non-finite logits (log-sum-exp %g)", m, k, lse);
            for (int a = 0; a < A; a++)
                lp[a] = am[a] ? (float)((double)lg[a] - lse) : -INFINITY;
        }
    }
    P->M = M;
    return ST_OK;
}

int64_t policy_forward_flops(const PolicyConfig *c, int64_t M) {
    const int64_t T = c->n_tokens, D = c->token_dim, W = c->width, F = c->ffn, R = M * T;
    const int64_t MH = M * c->n_heads, A = c->n_actions;
    int64_t f = linear_flops(R, D, W) + linear_bias_flops(R, W);
    for (int l = 0; l < c->layers; l++)
        f += mhsa_flops(M, T, W, c->attn_heads) + linear_flops(R, W, F) +
             linear_bias_flops(R, F) + linear_flops(R, F, W) + linear_bias_flops(R, W);
    return f + linear_flops(MH, W, A) + linear_bias_flops(MH, A) + linear_flops(M, W, 1) +
           linear_bias_flops(M, 1);
}
