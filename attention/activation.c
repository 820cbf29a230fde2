/* activation.c: activation-level rank-r logits per (b, h) (math in activation.h):
 *     Q_h = Q_q R_q, K_h = Q_k R_k (thin QR, column-major LAPACK on per-thread copies with
 *     padded rows zeroed);  R_q R_k^T = U S V^T (double);  q~ = Q_q U_r S_r, k~ = Q_k V_r
 * then the blocked attention kernel with query/key width r and the exact values, and the
 * output projection. (b, h) pairs are spread over OpenMP threads, each with workspace
 * allocated once at init (LAPACK's *_work routines, column-major: no hidden allocation). */
#include "attention/activation.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "attention/kernel.h"
#include "attention/tasks.h"
#include "nn/linear.h"

Status attn_activation_init(AttnActivation *A, int max_B, int max_N, int d, int H, Err *e) {
    memset(A, 0, sizeof *A);
    Status st = mhsa_check(max_B, max_N, d, H, e);
    if (st) return err_prefix(e, "attn_activation_init");
    A->max_B = max_B, A->max_N = max_N, A->d = d, A->H = H, A->dh = d / H;
    A->threads = attn_kernel_threads();
    const int N = max_N, dh = A->dh;
    /* workspace queries (lwork = -1) for the largest problem */
    float wq = 0, wo = 0;
    double wd = 0;
    lapack_int iw[1];
    if (LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, N, dh, NULL, N, NULL, &wq, -1) ||
        LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, N, dh < N ? dh : N, dh < N ? dh : N, NULL, N, NULL,
                            &wo, -1) ||
        LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', dh, dh, NULL, dh, NULL, NULL, dh, NULL, dh, &wd,
                            -1, iw))
        return err_set(e, ST_NUMERIC, "attn_activation_init: LAPACK workspace query failed");
    A->lwork_s = (int)(wq > wo ? wq : wo) + 1;
    A->lwork_d = (int)wd + 1;
    const size_t Ndh = (size_t)N * dh, dd = (size_t)dh * dh;
    A->fwork_len = 2 * Ndh + 2 * (size_t)dh + (size_t)A->lwork_s + 2 * dd;
    A->dwork_len = 5 * dd + (size_t)dh + (size_t)A->lwork_d;
    const size_t bnd = (size_t)max_B * max_N * d;
    mem_plan_init(&A->plan);
    mem_plan_f32(&A->plan, &A->q, bnd, "attn_activation.q");
    mem_plan_f32(&A->plan, &A->k, bnd, "attn_activation.k");
    mem_plan_f32(&A->plan, &A->v, bnd, "attn_activation.v");
    mem_plan_f32(&A->plan, &A->a, bnd, "attn_activation.a");
    mem_plan_f32(&A->plan, &A->qr, bnd, "attn_activation.qr");
    mem_plan_f32(&A->plan, &A->kr, bnd, "attn_activation.kr");
    mem_plan_f32(&A->plan, &A->fwork, A->fwork_len * A->threads, "attn_activation.fwork");
    mem_plan_f64(&A->plan, &A->dwork, A->dwork_len * A->threads, "attn_activation.dwork");
    mem_plan_i32(&A->plan, &A->iwork, (size_t)8 * dh * A->threads, "attn_activation.iwork");
    A->scratch_len = attn_kernel_scratch_size(max_N, A->threads);
    mem_plan_f32(&A->plan, &A->scratch, A->scratch_len, "attn_activation.scratch");
    return mem_plan_alloc(&A->plan, e);
}

void attn_activation_free(AttnActivation *A) {
    mem_plan_free(&A->plan);
    memset(A, 0, sizeof *A);
}

static int kept(AttnMask m, size_t t) {
    if (m.type == ATTN_MASK_I32) return ((const int32_t *)m.data)[t] != 0;
    if (m.type == ATTN_MASK_U8) return ((const uint8_t *)m.data)[t] != 0;
    return 1;
}

/* thin QR of the column-major copy X (N, dh) of head h of src (B, N, d) for batch b, padded
   rows zeroed: X <- Q (N, kk), R (kk, dh) row-major double. Returns LAPACK's info. */
static int head_qr(float *X, double *R, float *tau, float *work, int lwork, const float *src,
                   AttnMask m, int b, int h, int N, int d, int dh) {
    const int kk = N < dh ? N : dh;
    for (int i = 0; i < N; i++) {
        const size_t t = (size_t)b * N + i;
        const float *row = src + t * d + (size_t)h * dh;
        const int keep = kept(m, t);
        for (int j = 0; j < dh; j++) X[i + (size_t)j * N] = keep ? row[j] : 0.0f;
    }
    int info = (int)LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, N, dh, X, N, tau, work, lwork);
    if (info) return info;
    for (int i = 0; i < kk; i++)
        for (int j = 0; j < dh; j++) R[(size_t)i * dh + j] = j >= i ? X[i + (size_t)j * N] : 0.0;
    return (int)LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, N, kk, kk, X, N, tau, work, lwork);
}

/* one (b, h): the rank-r coordinates into A->qr, A->kr; returns LAPACK's info */
static int pair_factor(AttnActivation *A, AttnMask m, int b, int h, int N, int r, float *fw,
                       double *dw, lapack_int *iw) {
    const int d = A->d, dh = A->dh, kk = N < dh ? N : dh, H = A->H;
    const size_t Ndh = (size_t)N * dh, dd = (size_t)dh * dh;
    float *Xq = fw, *Xk = fw + Ndh, *tau = Xk + Ndh, *work = tau + 2 * dh;
    float *Wq = work + A->lwork_s, *Wk = Wq + dd;
    double *Rq = dw, *Rk = Rq + dd, *core = Rk + dd, *U = core + dd, *VT = U + dd, *S = VT + dd;
    double *dwork = S + dh;
    int info = head_qr(Xq, Rq, tau, work, A->lwork_s, A->q, m, b, h, N, d, dh);
    if (!info) info = head_qr(Xk, Rk, tau + dh, work, A->lwork_s, A->k, m, b, h, N, d, dh);
    if (info) return info;
    /* core (kk, kk) = R_q R_k^T, row-major; dgesdd column-major sees core^T = V S U^T, so
       its "U" (column-major) is V and its "VT" is U^T */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, kk, kk, dh, 1.0, Rq, dh, Rk, dh, 0.0,
                core, kk);
    info = (int)LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', kk, kk, core, kk, S, U, kk, VT, kk,
                                    dwork, A->lwork_d, iw);
    if (info) return info;
    /* Wq (kk, r) = U_r S_r with U[i][j] = VT_cm[j + i kk]; Wk (kk, r) = V_r, V[i][j] = U_cm[i + j kk];
       columns beyond kk (when N < r) are zero */
    for (int i = 0; i < kk; i++)
        for (int j = 0; j < r; j++) {
            Wq[(size_t)i * r + j] = j < kk ? (float)(VT[j + (size_t)i * kk] * S[j]) : 0.0f;
            Wk[(size_t)i * r + j] = j < kk ? (float)U[i + (size_t)j * kk] : 0.0f;
        }
    /* q~ (N, r) = Q_q (N, kk) Wq; Q_q column-major = row-major (kk, N) transposed */
    const size_t off = (size_t)b * N * H * r + (size_t)h * r;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, r, kk, 1.0f, Xq, N, Wq, r, 0.0f,
                A->qr + off, H * r);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, r, kk, 1.0f, Xk, N, Wk, r, 0.0f,
                A->kr + off, H * r);
    return 0;
}

/* the (b, h) pairs of one forward, as tasks of attn_tasks_run: pair bh = b H + h on the
   workspace slices of its thread */
typedef struct {
    AttnActivation *A;
    AttnMask m;
    int N, r;
} PairTask;

static int pair_task(void *ctx, int bh, int me) {
    const PairTask *pt = ctx;
    AttnActivation *A = pt->A;
    float *fw = A->fwork + A->fwork_len * me;
    double *dw = A->dwork + A->dwork_len * me;
    lapack_int *iw = (lapack_int *)A->iwork + (size_t)8 * A->dh * me;
    return pair_factor(A, pt->m, bh / A->H, bh % A->H, pt->N, pt->r, fw, dw, iw);
}

/* LAPACK operation counts (see activation.h) for one (b, h) with k = min(N, dh):
   geqrf of (N, dh): 2 N dh^2 - 2 dh^3 / 3 (N >= dh) or 2 dh N^2 - 2 N^3 / 3; orgqr of
   (N, k): 2 N k^2 - 2 k^3 / 3; twice each (Q and K); core 2 k^2 dh; SVD 22 k^3;
   coordinates 2 (2 N k r) */
static int64_t factor_flops(int64_t N, int64_t dh, int64_t r) {
    const int64_t k = N < dh ? N : dh;
    const int64_t geqrf = N >= dh ? 2 * N * dh * dh - 2 * dh * dh * dh / 3
                                  : 2 * dh * N * N - 2 * N * N * N / 3;
    const int64_t orgqr = 2 * N * k * k - 2 * k * k * k / 3;
    return 2 * (geqrf + orgqr) + 2 * k * k * dh + 22 * k * k * k + 2 * 2 * N * k * r;
}

Status attn_activation_forward(float *y, AttnActivation *A, const float *x, AttnMask key_mask,
                               const MhsaParams *p, int B, int N, int r, AttnFlops *fl, Err *e) {
    if (B < 1 || N < 1 || B > A->max_B || N > A->max_N || r < 1 || r > A->dh)
        return err_set(e, ST_INVALID,
                       "attn_activation_forward: expected 1 <= B <= %d, 1 <= N <= %d, "
                       "1 <= r <= %d, found B=%d N=%d r=%d",
                       A->max_B, A->max_N, A->dh, B, N, r);
    if (key_mask.causal)
        return err_set(e, ST_INVALID,
                       "attn_activation_forward: expected a non-causal key mask, found a causal "
                       "one: no causal variant: its QRs and SVD factor the whole sequence's "
                       "queries and keys, so every output would depend on later tokens; use a "
                       "weight-level kind (lowrank) or exact");
    const int M = B * N, d = A->d, H = A->H, dh = A->dh, pairs = B * H;
    AttnFlops f;
    attn_flops_zero(&f);
    linear_forward(A->q, x, p->wq, p->bq, M, d, d);
    linear_forward(A->k, x, p->wk, p->bk, M, d, d);
    linear_forward(A->v, x, p->wv, p->bv, M, d, d);
    f.proj += 3 * (linear_flops(M, d, d) + linear_bias_flops(M, d));
    int nt = A->threads;
    if (pairs < nt) nt = 1;
    PairTask pt = {A, key_mask, N, r};
    int bad_pair;
    const int bad = attn_tasks_run(pairs, nt, pair_task, &pt, &bad_pair);
    if (bad)
        return err_set(e, ST_NUMERIC, "attn_activation_forward: (b %d, h %d): LAPACK info %d",
                       bad_pair / H, bad_pair % H, bad);
    f.factor += (int64_t)pairs * factor_flops(N, dh, r);
    const size_t bs = (size_t)N * d, bsr = (size_t)N * H * r;
    AttnSegment seg = {{A->qr, bsr, H * r, r}, {A->a, bs, d, dh}, N, r, dh, 0};
    AttnView kv = {A->kr, bsr, H * r, r}, vv = {A->v, bs, d, dh};
    attn_kernel_forward(&seg, 1, kv, vv, key_mask, B, H, N, 1.0f / sqrtf((float)dh), A->scratch,
                        A->scratch_len, &f);
    linear_forward(y, A->a, p->wo, p->bo, M, d, d);
    f.out += linear_flops(M, d, d) + linear_bias_flops(M, d);
    if (fl) attn_flops_add(fl, &f);
    return ST_OK;
}
