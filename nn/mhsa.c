/* mhsa.c: multi-head self-attention layer = Q/K/V projections (linear.h) + attention block
 * (attention.h) + output projection, forward and backward on explicit buffers. Math:
 *     Q = X Wq^T + bq, K = X Wk^T + bk, V = X Wv^T + bv
 *     A = softmax_masked(Q_h K_h^T / sqrt(dh)) V_h per head;  Y = A Wo^T + bo
 *     dA = dY Wo, dWo += dY^T A, dbo += colsum dY
 *     (dQ, dK, dV) = attention backward of dA
 *     dX += dQ Wq + dK Wk + dV Wv, dW* += d*^T X, db* += colsum d*
 * No allocation: every buffer comes from the caller (mhsa_plan / mhsa_buffer_sizes). */
#include "nn/mhsa.h"

#include <string.h>

#include "nn/linear.h"

const char *const mhsa_param_names[MHSA_NPARAMS] = {
    "attention.self.query.weight", "attention.self.query.bias",
    "attention.self.key.weight",   "attention.self.key.bias",
    "attention.self.value.weight", "attention.self.value.bias",
    "attention.output.dense.weight", "attention.output.dense.bias",
};

size_t mhsa_param_sizes(size_t sizes[MHSA_NPARAMS], int C) {
    size_t cc = (size_t)C * (size_t)C, total = 0;
    for (int i = 0; i < MHSA_NPARAMS; i++) {
        sizes[i] = (i % 2 == 0) ? cc : (size_t)C;
        total += sizes[i];
    }
    return total;
}

void mhsa_params_point(MhsaParams *p, float *base, int C) {
    size_t sizes[MHSA_NPARAMS];
    mhsa_param_sizes(sizes, C);
    float **field[MHSA_NPARAMS] = {&p->wq, &p->bq, &p->wk, &p->bk,
                                   &p->wv, &p->bv, &p->wo, &p->bo};
    for (int i = 0; i < MHSA_NPARAMS; i++) {
        *field[i] = base;
        base += sizes[i];
    }
}

MhsaSizes mhsa_buffer_sizes(int B, int N, int C, int H, int threads, int train) {
    MhsaSizes s;
    size_t bnc = (size_t)B * N * C;
    if (threads < 1) threads = 1;
    s.q = s.k = s.v = s.a = bnc;
    s.att = train ? (size_t)B * H * N * N : 0;
    s.scratch = attention_scratch_size(N, threads);
    s.dq = s.dk = s.dv = s.da = train ? bnc : 0;
    return s;
}

void mhsa_plan(MemPlan *plan, MhsaActs *acts, MhsaGradActs *g, const char *prefix, int B,
               int N, int C, int H, int threads, int train) {
    MhsaSizes s = mhsa_buffer_sizes(B, N, C, H, threads, train);
    /* MemPlan keeps the name pointer only, so every buffer of the layer carries prefix */
    memset(acts, 0, sizeof *acts);
    mem_plan_f32(plan, &acts->q, s.q, prefix);
    mem_plan_f32(plan, &acts->k, s.k, prefix);
    mem_plan_f32(plan, &acts->v, s.v, prefix);
    if (train) mem_plan_f32(plan, &acts->att, s.att, prefix);
    mem_plan_f32(plan, &acts->a, s.a, prefix);
    mem_plan_f32(plan, &acts->scratch, s.scratch, prefix);
    acts->scratch_len = s.scratch;
    if (g) {
        memset(g, 0, sizeof *g);
        if (train) {
            mem_plan_f32(plan, &g->dq, s.dq, prefix);
            mem_plan_f32(plan, &g->dk, s.dk, prefix);
            mem_plan_f32(plan, &g->dv, s.dv, prefix);
            mem_plan_f32(plan, &g->da, s.da, prefix);
        }
    }
}

Status mhsa_check(int B, int N, int C, int H, Err *e) {
    if (B < 1 || N < 1 || C < 1 || H < 1)
        return err_set(e, ST_INVALID, "mhsa: sizes must be >= 1, got B=%d N=%d C=%d H=%d", B,
                       N, C, H);
    if (C % H != 0)
        return err_set(e, ST_INVALID, "mhsa: width C=%d is not a multiple of heads H=%d", C,
                       H);
    return ST_OK;
}

void mhsa_forward(float *out, MhsaActs *acts, const float *inp, AttnMask key_mask,
                  const MhsaParams *p, int B, int N, int C, int H) {
    const int M = B * N, dh = C / H;
    linear_forward(acts->q, inp, p->wq, p->bq, M, C, C);
    linear_forward(acts->k, inp, p->wk, p->bk, M, C, C);
    linear_forward(acts->v, inp, p->wv, p->bv, M, C, C);
    attention_forward(acts->a, acts->att, acts->scratch, acts->scratch_len, acts->q, acts->k,
                      acts->v, key_mask, B, N, H, dh);
    linear_forward(out, acts->a, p->wo, p->bo, M, C, C);
}

void mhsa_backward(float *dinp, MhsaParams *grads, MhsaGradActs *g, const float *dout,
                   const float *inp, const MhsaActs *acts, const MhsaParams *p, int B, int N,
                   int C, int H) {
    const int M = B * N, dh = C / H;
    const size_t bnc = (size_t)M * C;
    MhsaParams none = {0};
    if (!grads) grads = &none;
    memset(g->da, 0, bnc * sizeof(float));
    memset(g->dq, 0, bnc * sizeof(float));
    memset(g->dk, 0, bnc * sizeof(float));
    memset(g->dv, 0, bnc * sizeof(float));
    /* output projection: dA = dY Wo, dWo += dY^T A, dbo += colsum dY */
    linear_backward(g->da, grads->wo, grads->bo, dout, acts->a, p->wo, M, C, C);
    /* attention block */
    attention_backward(g->dq, g->dk, g->dv, acts->scratch, acts->scratch_len, g->da, acts->att,
                       acts->q, acts->k, acts->v, B, N, H, dh);
    /* projections: dX += dQ Wq + dK Wk + dV Wv and the weight/bias gradients */
    linear_backward(dinp, grads->wq, grads->bq, g->dq, inp, p->wq, M, C, C);
    linear_backward(dinp, grads->wk, grads->bk, g->dk, inp, p->wk, M, C, C);
    linear_backward(dinp, grads->wv, grads->bv, g->dv, inp, p->wv, M, C, C);
}

int64_t mhsa_flops(int64_t B, int64_t N, int64_t C, int64_t H) {
    int64_t M = B * N;
    return 4 * (linear_flops(M, C, C) + linear_bias_flops(M, C)) +
           attention_flops(B, N, H, C / H);
}
