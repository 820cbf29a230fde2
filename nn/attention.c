/* attention.c: exact multi-head scaled-dot-product attention with key padding masks
 * (forward and backward), parallel over (batch, head) pairs. The math is in attention.h:
 *     S = Q K^T / sqrt(dh);  P = masked row softmax(S);  O = P V
 *     dV += P^T dO;  dP = dO V^T;  dS = P .* (dP - rowsum(dP .* P))
 *     dQ += dS K / sqrt(dh);  dK += dS^T Q / sqrt(dh)
 * Q, K, V, O of one (b, h) are (N, dh) views with row stride C = H*dh into the (B, N, C)
 * buffers; cblas_sgemm reads and writes them in place (lda = C), nothing is copied. The
 * 1/sqrt(dh) scale is folded into the GEMMs' alpha.
 * With dropout on the probabilities (attention_forward_dropout): P' = P .* keep / (1 - p),
 *     O = P' V;  dV += P'^T dO;  dP' = dO V^T;  dS = P' .* dP' - P .* rowsum(P' .* dP')
 * (from dP = dP' .* keep / (1 - p) and P .* dP = P' .* dP'), so the backward needs P and P'
 * but not the keep mask. */
#include "nn/attention.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn/fastexp.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int attention_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

size_t attention_scratch_size(int N, int threads) {
    if (threads < 1) threads = 1;
    return (size_t)threads * (size_t)N * (size_t)N;
}

int64_t attention_flops(int64_t B, int64_t N, int64_t H, int64_t dh) {
    return B * H * (2 * 2 * N * N * dh + (int64_t)ATTENTION_SOFTMAX_FLOPS * N * N);
}

int64_t attention_backward_flops(int64_t B, int64_t N, int64_t H, int64_t dh) {
    return B * H * (4 * 2 * N * N * dh + (int64_t)ATTENTION_SOFTMAX_BWD_FLOPS * N * N);
}

/* row_sum: sum of x[0..n) with 16 partial sums (vectorisable without reassociation flags) */
static inline float row_sum(const float *x, int n) {
    float acc[16] = {0};
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int l = 0; l < 16; l++) acc[l] += x[j + l];
    float s = 0.0f;
    for (; j < n; j++) s += x[j];
    for (int l = 0; l < 16; l++) s += acc[l];
    return s;
}

/* row_max: max of x[0..n), n >= 1, with 16 partial maxima (vectorisable) */
static inline float row_max(const float *x, int n) {
    float acc[16];
    for (int l = 0; l < 16; l++) acc[l] = x[0];
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int l = 0; l < 16; l++) acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
    float m = x[0];
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    for (int l = 0; l < 16; l++) m = acc[l] > m ? acc[l] : m;
    return m;
}

/* row_dot: sum of x[j] * y[j] over [0, n) with 16 partial sums */
static inline float row_dot(const float *x, const float *y, int n) {
    float acc[16] = {0};
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int l = 0; l < 16; l++) acc[l] += x[j + l] * y[j + l];
    float s = 0.0f;
    for (; j < n; j++) s += x[j] * y[j];
    for (int l = 0; l < 16; l++) s += acc[l];
    return s;
}

/* masked softmax in place over one row of n scores; keep_* (n) flag the kept keys (both
   NULL: all). Masked entries become exactly 0; a row without kept keys becomes all zeros. */
static void softmax_row(float *row /* (n) */, const int32_t *keep_i32 /* (n) or NULL */,
                        const uint8_t *keep_u8 /* (n) or NULL */, int n) {
    float mx = -INFINITY;
    int any = 0;
    if (!keep_i32 && !keep_u8) {
        mx = row_max(row, n);
        any = 1;
        for (int j = 0; j < n; j++) row[j] = fastexp_neg(row[j] - mx);
    } else {
        for (int j = 0; j < n; j++) {
            int kj = keep_i32 ? keep_i32[j] != 0 : keep_u8[j] != 0;
            if (kj && (!any || row[j] > mx)) mx = row[j];
            any |= kj;
        }
        if (!any) {
            memset(row, 0, (size_t)n * sizeof(float));
            return;
        }
        if (keep_i32)
            for (int j = 0; j < n; j++) {
                float e = fastexp_neg(row[j] - mx);
                row[j] = keep_i32[j] != 0 ? e : 0.0f;
            }
        else
            for (int j = 0; j < n; j++) {
                float e = fastexp_neg(row[j] - mx);
                row[j] = keep_u8[j] != 0 ? e : 0.0f;
            }
    }
    /* sum >= 1: the max element contributes e^0 = 1 */
    float inv = 1.0f / row_sum(row, n);
    for (int j = 0; j < n; j++) row[j] *= inv;
}

/* the masked row softmax of P (N, N), row i over keys [0, N), or with causal over keys
   [0, i] (P_ij = 0 for j > i: the later keys are dropped exactly as masked ones) */
static void softmax_rows(float *P /* (N, N) */, const int32_t *keep_i32 /* (N) or NULL */,
                         const uint8_t *keep_u8 /* (N) or NULL */, int N, int causal) {
    for (int i = 0; i < N; i++) {
        float *row = P + (size_t)i * N;
        const int n = causal ? i + 1 : N;
        softmax_row(row, keep_i32, keep_u8, n);
        if (n < N) memset(row + n, 0, (size_t)(N - n) * sizeof(float));
    }
}

/* forward of one (b, h) pair; P (N, N) receives the probabilities. With dropout (Pd != NULL):
   Pd (N, N) receives P' = P .* [keep != 0] * kscale and the output is P' V. */
static void forward_pair(float *out, float *P, float *Pd, const uint8_t *keep, float kscale,
                         const float *q, const float *k, const float *v, AttnMask m, int b,
                         int h, int N, int H, int dh) {
    const int C = H * dh;
    const size_t base = (size_t)b * N * C + (size_t)h * dh;
    const float scale = 1.0f / sqrtf((float)dh);
    /* S = Q K^T / sqrt(dh): (N, dh) x (N, dh)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, dh, scale, q + base, C,
                k + base, C, 0.0f, P, N);
    const int32_t *mi = NULL;
    const uint8_t *mu = NULL;
    if (m.type == ATTN_MASK_I32) mi = (const int32_t *)m.data + (size_t)b * N;
    if (m.type == ATTN_MASK_U8) mu = (const uint8_t *)m.data + (size_t)b * N;
    softmax_rows(P, mi, mu, N, m.causal);
    const float *Pv = P;
    if (Pd) {
        /* P' = P .* keep / (1 - p) */
        const size_t NN = (size_t)N * N;
        for (size_t i = 0; i < NN; i++) Pd[i] = keep[i] ? P[i] * kscale : 0.0f;
        Pv = Pd;
    }
    /* O = P V (or P' V): (N, N) x (N, dh) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, dh, N, 1.0f, Pv, N, v + base, C,
                0.0f, out + base, C);
}

/* backward of one (b, h) pair; dP (N, N) is this thread's scratch. Pd: the dropped-out
   probabilities P' of the forward, or NULL without dropout (then P' = P). */
static void backward_pair(float *dq, float *dk, float *dv, float *dP, const float *dout,
                          const float *P, const float *Pd, const float *q, const float *k,
                          const float *v, int b, int h, int N, int H, int dh) {
    const int C = H * dh;
    const size_t base = (size_t)b * N * C + (size_t)h * dh;
    const float scale = 1.0f / sqrtf((float)dh);
    const float *Pv = Pd ? Pd : P;
    /* dV += P'^T dO: (N, N)^T x (N, dh) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, dh, N, 1.0f, Pv, N, dout + base, C,
                1.0f, dv + base, C);
    /* dP' = dO V^T: (N, dh) x (N, dh)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, dh, 1.0f, dout + base, C,
                v + base, C, 0.0f, dP, N);
    if (!Pd) {
        /* dS = P .* (dP - rowsum(dP .* P)), in place in dP */
        for (int i = 0; i < N; i++) {
            const float *p = P + (size_t)i * N;
            float *d = dP + (size_t)i * N;
            float s = row_dot(d, p, N);
            for (int j = 0; j < N; j++) d[j] = p[j] * (d[j] - s);
        }
    } else {
        /* dS = P' .* dP' - P .* rowsum(P' .* dP'), in place in dP (see attention.h) */
        for (int i = 0; i < N; i++) {
            const float *p = P + (size_t)i * N, *pd = Pd + (size_t)i * N;
            float *d = dP + (size_t)i * N;
            float s = row_dot(d, pd, N);
            for (int j = 0; j < N; j++) d[j] = pd[j] * d[j] - p[j] * s;
        }
    }
    /* dQ += dS K / sqrt(dh): (N, N) x (N, dh) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, dh, N, scale, dP, N, k + base, C,
                1.0f, dq + base, C);
    /* dK += dS^T Q / sqrt(dh): (N, N)^T x (N, dh) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, dh, N, scale, dP, N, q + base, C,
                1.0f, dk + base, C);
}

/* number of threads to use for `pairs` independent (b, h) items with `slices` scratch
   slices available (slices < 0: no scratch needed). 1 means: run serially, and let
   OpenBLAS thread each GEMM. */
static int team_size(int pairs, long long slices) {
    int nt = attention_max_threads();
    if (slices >= 0 && nt > slices) nt = (int)slices;
    if (pairs < nt) nt = 1; /* too few pairs: better to thread inside the GEMMs */
    return nt < 1 ? 1 : nt;
}

/* the forward of every (b, h) pair, threaded as described in attention.h; att_drop/keep
   NULL: no dropout */
static void forward_all(float *out, float *att, float *att_drop, const uint8_t *keep,
                        float kscale, float *scratch, size_t scratch_len, const float *q,
                        const float *k, const float *v, AttnMask key_mask, int B, int N, int H,
                        int dh) {
    if (B <= 0 || N <= 0 || H <= 0 || dh <= 0) return;
    const size_t NN = (size_t)N * N;
    const int pairs = B * H;
    const long long slices = att ? -1 : (long long)(scratch_len / NN);
    if (!att && slices < 1) return; /* caller error: no place for the scores */
    const int nt = team_size(pairs, slices);
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            float *mine = att ? NULL : scratch + (size_t)omp_get_thread_num() * NN;
#pragma omp for schedule(static)
            for (int bh = 0; bh < pairs; bh++) {
                float *P = att ? att + (size_t)bh * NN : mine;
                float *Pd = att_drop ? att_drop + (size_t)bh * NN : NULL;
                const uint8_t *kp = att_drop ? keep + (size_t)bh * NN : NULL;
                forward_pair(out, P, Pd, kp, kscale, q, k, v, key_mask, bh / H, bh % H, N, H,
                             dh);
            }
        }
        return;
    }
#endif
    (void)nt;
    for (int bh = 0; bh < pairs; bh++) {
        float *P = att ? att + (size_t)bh * NN : scratch;
        float *Pd = att_drop ? att_drop + (size_t)bh * NN : NULL;
        const uint8_t *kp = att_drop ? keep + (size_t)bh * NN : NULL;
        forward_pair(out, P, Pd, kp, kscale, q, k, v, key_mask, bh / H, bh % H, N, H, dh);
    }
}

void attention_forward(float *out, float *att, float *scratch, size_t scratch_len,
                       const float *q, const float *k, const float *v, AttnMask key_mask,
                       int B, int N, int H, int dh) {
    forward_all(out, att, NULL, NULL, 1.0f, scratch, scratch_len, q, k, v, key_mask, B, N, H,
                dh);
}

void attention_forward_dropout(float *out, float *att, float *att_drop, const uint8_t *keep,
                               float p, const float *q, const float *k, const float *v,
                               AttnMask key_mask, int B, int N, int H, int dh) {
    if (!att || !att_drop || !keep) return; /* caller error */
    float kscale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    forward_all(out, att, att_drop, keep, kscale, NULL, 0, q, k, v, key_mask, B, N, H, dh);
}

/* the backward of every (b, h) pair; att_drop NULL: no dropout */
static void backward_all(float *dq, float *dk, float *dv, float *scratch, size_t scratch_len,
                         const float *dout, const float *att, const float *att_drop,
                         const float *q, const float *k, const float *v, int B, int N, int H,
                         int dh) {
    if (B <= 0 || N <= 0 || H <= 0 || dh <= 0) return;
    const size_t NN = (size_t)N * N;
    const int pairs = B * H;
    const long long slices = (long long)(scratch_len / NN);
    if (slices < 1) return; /* caller error: no scratch */
    const int nt = team_size(pairs, slices);
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            float *dP = scratch + (size_t)omp_get_thread_num() * NN;
#pragma omp for schedule(static)
            for (int bh = 0; bh < pairs; bh++)
                backward_pair(dq, dk, dv, dP, dout, att + (size_t)bh * NN,
                              att_drop ? att_drop + (size_t)bh * NN : NULL, q, k, v, bh / H,
                              bh % H, N, H, dh);
        }
        return;
    }
#endif
    (void)nt;
    for (int bh = 0; bh < pairs; bh++)
        backward_pair(dq, dk, dv, scratch, dout, att + (size_t)bh * NN,
                      att_drop ? att_drop + (size_t)bh * NN : NULL, q, k, v, bh / H, bh % H, N,
                      H, dh);
}

void attention_backward(float *dq, float *dk, float *dv, float *scratch, size_t scratch_len,
                        const float *dout, const float *att, const float *q, const float *k,
                        const float *v, int B, int N, int H, int dh) {
    backward_all(dq, dk, dv, scratch, scratch_len, dout, att, NULL, q, k, v, B, N, H, dh);
}

void attention_backward_dropout(float *dq, float *dk, float *dv, float *scratch,
                                size_t scratch_len, const float *dout, const float *att,
                                const float *att_drop, const float *q, const float *k,
                                const float *v, int B, int N, int H, int dh) {
    backward_all(dq, dk, dv, scratch, scratch_len, dout, att, att_drop, q, k, v, B, N, H, dh);
}
