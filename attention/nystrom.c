/* nystrom.c: Nystromformer attention layer (see nystrom.h for the math and the FLOP count).
 * Per (b, h): segment-mean landmarks over the real tokens, the three softmax kernels
 * F = softmax(Q K~^T/sqrt(dh)), A = softmax(Q~ K~^T/sqrt(dh)), Bk = softmax(Q~ K^T/sqrt(dh))
 * (padded keys masked), Z = 6-iteration Newton-Schulz-type pseudoinverse of A, and
 * O = F (Z (Bk V)). Q, K, V, O are (N, dh) views with row stride C into (B, N, C) buffers. */
#include "attention/nystrom.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "attention/baseline_layer.h"
#include "nn/fastexp.h"


/* charged per probability, what softmax_rows executes: max (1 compare), subtract (1), exp
   (FASTEXP_FLOPS), sum (1), normalise (1) = 28; masked columns are zeroed by a select on
   their uint8 flag (no FLOP) */
#define PROB_FLOPS (1 + 1 + FASTEXP_FLOPS + 1 + 1)

size_t nystrom_work_size(int N, int m, int dh) {
    size_t n = (size_t)N, mm = (size_t)m, d = (size_t)dh;
    return 2 * mm * d + 2 * n * mm + 6 * mm * mm + 2 * mm * d;
}

AttnFlops nystrom_flops(int64_t N, int64_t n_real, int64_t C, int64_t H, int64_t m) {
    const int64_t dh = C / H, mm = m < n_real ? m : n_real;
    AttnFlops f;
    attn_flops_zero(&f);
    f.proj = 3 * (2 * N * C * C + N * C);
    f.out = 2 * N * C * C + N * C;
    if (mm <= 0) return f;
    f.factor = H * (2 * (n_real + mm) * dh + 2 * mm * mm * dh + PROB_FLOPS * mm * mm +
                     3 * mm * mm + NYSTROM_PINV_ITERS * (8 * mm * mm * mm + 3 * mm * mm));
    f.scores = H * (4 * N * mm * dh);
    f.softmax = H * (2 * PROB_FLOPS * N * mm);
    f.values = H * (4 * N * mm * dh + 2 * mm * mm * dh);
    return f;
}

Status nystrom_init(NystromLayer *L, int max_B, int max_N, int C, int H, int max_m, Err *e) {
    memset(L, 0, sizeof *L);
    Status st = baseline_check_plan("nystrom_init", max_B, max_N, max_m, C, H, e);
    if (st) return st;
    L->max_B = max_B, L->max_N = max_N, L->max_m = max_m;
    L->C = C, L->H = H, L->dh = C / H;
    L->iters = NYSTROM_PINV_ITERS;
    L->slices = attention_max_threads();
    L->work_len = nystrom_work_size(max_N, max_m, L->dh);
    const size_t bnc = (size_t)max_B * max_N * C, bn = (size_t)max_B * max_N;
    mem_plan_init(&L->plan);
    mem_plan_f32(&L->plan, &L->q, bnc, "nystrom.q");
    mem_plan_f32(&L->plan, &L->k, bnc, "nystrom.k");
    mem_plan_f32(&L->plan, &L->v, bnc, "nystrom.v");
    mem_plan_f32(&L->plan, &L->a, bnc, "nystrom.a");
    mem_plan_i32(&L->plan, &L->real, bn, "nystrom.real");
    mem_plan_i32(&L->plan, &L->n_real, (size_t)max_B, "nystrom.n_real");
    mem_plan_u8(&L->plan, &L->keep, bn, "nystrom.keep");
    mem_plan_f32(&L->plan, &L->work, (size_t)L->slices * L->work_len, "nystrom.work");
    return mem_plan_alloc(&L->plan, e);
}

void nystrom_free(NystromLayer *L) { mem_plan_free(&L->plan); }

/* row softmax in place over P (rows, w); keep (w) flags kept columns (NULL: all; at least one
   kept). Masked columns become exactly 0. */
static void softmax_rows(float *P /* (rows, w) */, const uint8_t *keep /* (w) or NULL */,
                         int rows, int w) {
    for (int i = 0; i < rows; i++) {
        float *r = P + (size_t)i * w;
        float mx = -INFINITY;
        for (int j = 0; j < w; j++)
            if ((!keep || keep[j]) && r[j] > mx) mx = r[j];
        float s = 0.0f;
        for (int j = 0; j < w; j++) {
            float x = fastexp_neg(r[j] - mx);
            r[j] = (!keep || keep[j]) ? x : 0.0f;
            s += r[j];
        }
        const float inv = 1.0f / s; /* s >= 1: the max contributes e^0 */
        for (int j = 0; j < w; j++) r[j] *= inv;
    }
}

/* X (m, m) = c I - X, in place; m^2 FLOPs */
static void sub_from_identity(float *X /* (m, m) */, float c, int m) {
    for (size_t i = 0; i < (size_t)m * m; i++) X[i] = -X[i];
    for (int i = 0; i < m; i++) X[(size_t)i * m + i] += c;
}

/* Z ~ A^+ by the iteration of nystrom.h; returns Z (one of Z, Zn after the swaps). The
   buffers are (m, m); T1 also holds the column sums while Z0 is formed. FLOPs to *fl. */
static float *pinv(float *Z, float *Zn, float *AZ, float *T1, float *T2,
                   const float *A /* (m, m) */, int m, int iters, int64_t *fl) {
    const size_t mm = (size_t)m * m;
    /* Z0 = A^T / (||A||_inf ||A||_1): max absolute row sum times max absolute column sum */
    float rmax = 0.0f, cmax = 0.0f;
    memset(T1, 0, (size_t)m * sizeof(float));
    for (int i = 0; i < m; i++) {
        float rs = 0.0f;
        for (int j = 0; j < m; j++) {
            float x = fabsf(A[(size_t)i * m + j]);
            rs += x;
            T1[j] += x;
        }
        rmax = rs > rmax ? rs : rmax;
    }
    for (int j = 0; j < m; j++) cmax = T1[j] > cmax ? T1[j] : cmax;
    const float scale = 1.0f / (rmax * cmax); /* rows of a softmax sum to 1: rmax >= 1 */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) Z[(size_t)j * m + i] = A[(size_t)i * m + j] * scale;
    *fl += 3 * (int64_t)mm;
    for (int it = 0; it < iters; it++) {
        /* AZ = A Z_k */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, m, m, 1.0f, A, m, Z, m, 0.0f,
                    AZ, m);
        /* T1 = 7 I - AZ */
        memcpy(T1, AZ, mm * sizeof(float));
        sub_from_identity(T1, 7.0f, m);
        /* T2 = 15 I - AZ T1 (T2 preset to 15 I, the GEMM subtracts: beta = 1) */
        memset(T2, 0, mm * sizeof(float));
        for (int i = 0; i < m; i++) T2[(size_t)i * m + i] = 15.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, m, m, -1.0f, AZ, m, T1, m,
                    1.0f, T2, m);
        /* T1 = 13 I - AZ T2 */
        memset(T1, 0, mm * sizeof(float));
        for (int i = 0; i < m; i++) T1[(size_t)i * m + i] = 13.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, m, m, -1.0f, AZ, m, T2, m,
                    1.0f, T1, m);
        /* Z_{k+1} = 1/4 Z_k T1 */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, m, m, 0.25f, Z, m, T1, m,
                    0.0f, Zn, m);
        float *t = Z;
        Z = Zn, Zn = t;
        *fl += 4 * 2 * (int64_t)mm * m + 3 * (int64_t)mm;
    }
    return Z;
}

/* the core for one (b, h): out rows (N, dh) of head h of sequence b. work: one work area.
   real (n_real) positions of the real tokens, keep (N) their flags. FLOPs added to f. */
static void nystrom_pair(float *out, float *work, const float *q, const float *k,
                         const float *v, const int32_t *real, const uint8_t *keep, int n_real,
                         int b, int h, int N, int H, int dh, int m, int iters, AttnFlops *f) {
    const int C = H * dh;
    const size_t base = (size_t)b * N * C + (size_t)h * dh;
    const int mm = m < n_real ? m : n_real; /* m' landmarks */
    if (mm == 0) { /* no real key: the core is 0, as in exact attention */
        for (int i = 0; i < N; i++) memset(out + base + (size_t)i * C, 0, (size_t)dh * 4);
        return;
    }
    const size_t md = (size_t)mm * dh, nm = (size_t)N * mm, m2 = (size_t)mm * mm;
    float *Qt = work;        /* (m', dh) query landmarks */
    float *Kt = Qt + md;     /* (m', dh) key landmarks */
    float *F = Kt + md;      /* (N, m') */
    float *Bk = F + nm;      /* (m', N) */
    float *A = Bk + nm;      /* (m', m') */
    float *Z = A + m2;       /* (m', m') */
    float *Zn = Z + m2;      /* (m', m') */
    float *AZ = Zn + m2;     /* (m', m') */
    float *T1 = AZ + m2;     /* (m', m') */
    float *T2 = T1 + m2;     /* (m', m') */
    float *BV = T2 + m2;     /* (m', dh) Bk V */
    float *W = BV + md;      /* (m', dh) Z Bk V */
    const float scale = 1.0f / sqrtf((float)dh);

    /* landmarks: Q~_s, K~_s = means over segment s of the real tokens */
    for (int s = 0; s < mm; s++) {
        const int lo = (int)((int64_t)s * n_real / mm), hi = (int)((int64_t)(s + 1) * n_real / mm);
        float *qs = Qt + (size_t)s * dh, *ks = Kt + (size_t)s * dh;
        memset(qs, 0, (size_t)dh * sizeof(float));
        memset(ks, 0, (size_t)dh * sizeof(float));
        for (int t = lo; t < hi; t++) {
            const float *qi = q + base + (size_t)real[t] * C, *ki = k + base + (size_t)real[t] * C;
            for (int c = 0; c < dh; c++) qs[c] += qi[c], ks[c] += ki[c];
        }
        const float inv = 1.0f / (float)(hi - lo);
        for (int c = 0; c < dh; c++) qs[c] *= inv, ks[c] *= inv;
    }
    f->factor += 2 * ((int64_t)n_real + mm) * dh;

    /* F = softmax(Q K~^T / sqrt(dh)): (N, dh) x (m', dh)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, mm, dh, scale, q + base, C, Kt, dh,
                0.0f, F, mm);
    softmax_rows(F, NULL, N, mm);
    /* Bk = softmax(Q~ K^T / sqrt(dh)) over the real keys: (m', dh) x (N, dh)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mm, N, dh, scale, Qt, dh, k + base, C,
                0.0f, Bk, N);
    softmax_rows(Bk, keep, mm, N);
    f->scores += 2 * 2 * (int64_t)nm * dh;
    f->softmax += 2 * PROB_FLOPS * (int64_t)nm;

    /* A = softmax(Q~ K~^T / sqrt(dh)): (m', dh) x (m', dh)^T, then Z ~ A^+ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mm, mm, dh, scale, Qt, dh, Kt, dh,
                0.0f, A, mm);
    softmax_rows(A, NULL, mm, mm);
    f->factor += 2 * (int64_t)m2 * dh + PROB_FLOPS * (int64_t)m2;
    float *Zp = pinv(Z, Zn, AZ, T1, T2, A, mm, iters, &f->factor);

    /* BV = Bk V: (m', N) x (N, dh); W = Z BV: (m', m') x (m', dh); O = F W: (N, m') x (m', dh) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mm, dh, N, 1.0f, Bk, N, v + base, C,
                0.0f, BV, dh);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mm, dh, mm, 1.0f, Zp, mm, BV, dh,
                0.0f, W, dh);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, dh, mm, 1.0f, F, mm, W, dh, 0.0f,
                out + base, C);
    f->values += 2 * 2 * (int64_t)nm * dh + 2 * (int64_t)m2 * dh;
}

/* NystromCtx: the arguments nystrom_pair shares across the (b, h) pairs of one call */
typedef struct {
    float *a;
    const float *q, *k, *v;
    const int32_t *real, *n_real;
    const uint8_t *keep;
    int N, H, dh, m, iters;
} NystromCtx;

static void nystrom_pair_fn(const void *ctx, float *scratch, int b, int h, AttnFlops *f) {
    const NystromCtx *c = ctx;
    nystrom_pair(c->a, scratch, c->q, c->k, c->v, c->real + (size_t)b * c->N,
                 c->keep + (size_t)b * c->N, c->n_real[b], b, h, c->N, c->H, c->dh, c->m,
                 c->iters, f);
}

Status nystrom_forward(float *out, NystromLayer *L, const float *inp, AttnMask key_mask,
                       const MhsaParams *p, int B, int N, int m, AttnFlops *flops, Err *e) {
    Status st = baseline_check("nystrom_forward", B, N, m, L->max_B, L->max_N, L->max_m, L->C,
                               L->H, e);
    if (st != ST_OK) return st;
    if (key_mask.causal) /* nystrom.h: no sound causal variant below exact attention's cost */
        return err_set(e, ST_INVALID,
                       "nystrom: no causal variant: its landmarks average queries and keys over "
                       "the whole sequence, so every output would depend on later tokens; use "
                       "performer or a weight-level kind");
    const int C = L->C, H = L->H, dh = L->dh, M = B * N, iters = L->iters;
    AttnFlops f;
    attn_flops_zero(&f);
    f.proj += baseline_project(L->q, L->k, L->v, inp, p, M, C);
    for (int b = 0; b < B; b++)
        L->n_real[b] = baseline_real_tokens(L->real + (size_t)b * N, L->keep + (size_t)b * N,
                                            key_mask, b, N);

    NystromCtx ctx = {L->a, L->q, L->k, L->v, L->real, L->n_real, L->keep, N, H, dh, m, iters};
    baseline_pairs(nystrom_pair_fn, &ctx, L->work, L->work_len, L->slices, B, H, &f);
    f.out += baseline_output(out, L->a, p, M, C);
    if (flops) attn_flops_add(flops, &f);
    return ST_OK;
}
