/* baseline_layer.c: the layer shell of the static baselines (see baseline_layer.h):
 * projections Q, K, V = X W^T + b and Y = A Wo^T + bo, real-token lists, thread team. */
#include "attention/baseline_layer.h"

#include "nn/linear.h"

#ifdef _OPENMP
#include <omp.h>
#endif

Status baseline_check_plan(const char *who, int max_B, int max_N, int max_m, int C, int H,
                           Err *e) {
    if (max_B < 1 || max_N < 1 || max_m < 1 || C < 1 || H < 1 || C % H != 0)
        return err_set(e, ST_INVALID, "%s: expected max_B, max_N, max_m >= 1 and H dividing C, "
                       "found max_B=%d max_N=%d max_m=%d C=%d H=%d", who, max_B, max_N, max_m, C,
                       H);
    return ST_OK;
}

Status baseline_check(const char *who, int B, int N, int m, int max_B, int max_N, int max_m,
                      int C, int H, Err *e) {
    if (B < 1 || B > max_B || N < 1 || N > max_N)
        return err_set(e, ST_INVALID, "%s: expected 1 <= B <= %d and 1 <= N <= %d (planned), "
                       "found B=%d N=%d", who, max_B, max_N, B, N);
    if (m < 1 || m > max_m)
        return err_set(e, ST_INVALID, "%s: expected 1 <= m <= %d (planned), found m=%d", who,
                       max_m, m);
    if (C < 1 || H < 1 || C % H != 0)
        return err_set(e, ST_INVALID, "%s: width C=%d is not a positive multiple of heads H=%d",
                       who, C, H);
    return ST_OK;
}

int baseline_real_tokens(int32_t *idx, uint8_t *keep_out, AttnMask key_mask, int b, int N) {
    int n = 0;
    const size_t row = (size_t)b * (size_t)N;
    for (int j = 0; j < N; j++) {
        int keep = 1;
        if (key_mask.type == ATTN_MASK_I32) keep = ((const int32_t *)key_mask.data)[row + j] != 0;
        if (key_mask.type == ATTN_MASK_U8) keep = ((const uint8_t *)key_mask.data)[row + j] != 0;
        if (keep_out) keep_out[j] = (uint8_t)keep;
        if (keep && idx) idx[n] = j;
        n += keep;
    }
    return n;
}

int64_t baseline_project(float *q, float *k, float *v, const float *inp, const MhsaParams *p,
                         int M, int C) {
    linear_forward(q, inp, p->wq, p->bq, M, C, C);
    linear_forward(k, inp, p->wk, p->bk, M, C, C);
    linear_forward(v, inp, p->wv, p->bv, M, C, C);
    return 3 * (linear_flops(M, C, C) + linear_bias_flops(M, C));
}

int64_t baseline_output(float *out, const float *a, const MhsaParams *p, int M, int C) {
    linear_forward(out, a, p->wo, p->bo, M, C, C);
    return linear_flops(M, C, C) + linear_bias_flops(M, C);
}

int baseline_team(int pairs, int slices) {
#ifdef _OPENMP
    int nt = omp_get_max_threads();
#else
    int nt = 1;
#endif
    if (nt > slices) nt = slices;
    if (pairs < nt) nt = 1;
    return nt < 1 ? 1 : nt;
}

void baseline_pairs(BaselinePairFn fn, const void *ctx, float *work, size_t work_len, int slices,
                    int B, int H, AttnFlops *f) {
    const int pairs = B * H, nt = baseline_team(pairs, slices);
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
#ifdef _OPENMP
        float *mine = work + (size_t)omp_get_thread_num() * work_len;
#else
        float *mine = work;
#endif
        AttnFlops tf; /* this thread's count */
        attn_flops_zero(&tf);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int bh = 0; bh < pairs; bh++) fn(ctx, mine, bh / H, bh % H, &tf);
#ifdef _OPENMP
#pragma omp critical(baseline_pairs_flops)
#endif
        attn_flops_add(f, &tf);
    }
    (void)nt;
}
