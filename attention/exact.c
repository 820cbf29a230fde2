/* exact.c: exact MHSA layer forward (projections, blocked masked attention, output
 * projection) on buffers planned once; the math and the FLOP count are in exact.h. */
#include "attention/exact.h"

#include <math.h>
#include <string.h>

#include "attention/kernel.h"
#include "nn/linear.h"

Status attn_exact_init(AttnExact *x, int max_B, int max_N, int d, int H, Err *e) {
    memset(x, 0, sizeof *x);
    Status st = mhsa_check(max_B, max_N, d, H, e);
    if (st) return err_prefix(e, "attn_exact_init");
    x->max_B = max_B;
    x->max_N = max_N;
    x->d = d;
    x->H = H;
    x->dh = d / H;
    x->threads = attn_kernel_threads();
    const size_t bnd = (size_t)max_B * max_N * d;
    mem_plan_init(&x->plan);
    mem_plan_f32(&x->plan, &x->q, bnd, "attn_exact.q");
    mem_plan_f32(&x->plan, &x->k, bnd, "attn_exact.k");
    mem_plan_f32(&x->plan, &x->v, bnd, "attn_exact.v");
    mem_plan_f32(&x->plan, &x->a, bnd, "attn_exact.a");
    x->scratch_len = attn_kernel_scratch_size(max_N, x->threads);
    mem_plan_f32(&x->plan, &x->scratch, x->scratch_len, "attn_exact.scratch");
    return mem_plan_alloc(&x->plan, e);
}

void attn_exact_free(AttnExact *x) {
    mem_plan_free(&x->plan);
    memset(x, 0, sizeof *x);
}

AttnFlops attn_exact_flops(int64_t B, int64_t N, int64_t d, int64_t H) {
    AttnFlops f;
    const int64_t M = B * N, dh = d / H;
    f.proj = 3 * (2 * M * d * d + M * d);
    f.factor = 0;
    f.scores = 2 * B * H * N * N * dh;
    f.softmax = B * H * ((int64_t)ATTN_SOFTMAX_FLOPS * N * N + (int64_t)ATTN_NORM_FLOPS * N * dh);
    f.values = 2 * B * H * N * N * dh;
    f.out = 2 * M * d * d + M * d;
    return f;
}

AttnFlops attn_exact_flops_causal(int64_t B, int64_t N, int64_t d, int64_t H, AttnVariant v) {
    AttnFlops f;
    attn_flops_zero(&f);
    const int64_t M = B * N, dh = d / H;
    f.proj = 3 * (2 * M * d * d + M * d);
    attn_variant_flops_causal(&f, v, B * H, 0, N, N, dh, dh);
    f.out = 2 * M * d * d + M * d;
    return f;
}

Status attn_exact_forward(float *y, AttnExact *x, const float *inp, AttnMask key_mask,
                          const MhsaParams *p, int B, int N, AttnFlops *fl, Err *e) {
    if (B < 1 || N < 1 || B > x->max_B || N > x->max_N)
        return err_set(e, ST_INVALID,
                       "attn_exact_forward: expected 1 <= B <= %d and 1 <= N <= %d, found B=%d "
                       "N=%d",
                       x->max_B, x->max_N, B, N);
    const int M = B * N, d = x->d, H = x->H, dh = x->dh;
    linear_forward(x->q, inp, p->wq, p->bq, M, d, d);
    linear_forward(x->k, inp, p->wk, p->bk, M, d, d);
    linear_forward(x->v, inp, p->wv, p->bv, M, d, d);
    AttnFlops f;
    attn_flops_zero(&f);
    f.proj += 3 * (linear_flops(M, d, d) + linear_bias_flops(M, d));
    /* one segment of all N query rows from position 0 (a causal mask in key_mask applies to
       it as it is); head h at columns [h dh, (h+1) dh) with row stride d */
    const size_t bs = (size_t)N * d;
    AttnSegment seg = {{x->q, bs, d, dh}, {x->a, bs, d, dh}, N, dh, dh, 0};
    AttnView kv = {x->k, bs, d, dh}, vv = {x->v, bs, d, dh};
    attn_kernel_forward(&seg, 1, kv, vv, key_mask, B, H, N, 1.0f / sqrtf((float)dh), x->scratch,
                        x->scratch_len, &f);
    linear_forward(y, x->a, p->wo, p->bo, M, d, d);
    f.out += linear_flops(M, d, d) + linear_bias_flops(M, d);
    if (fl) attn_flops_add(fl, &f);
    return ST_OK;
}
