/* factors.c: per-head SVD factors of the bias-folded bilinear forms M_QK = F_q F_k^T and
 * M_VO = F_v G, plain or whitened by the calibration Cholesky factor L, through thin QRs of
 * the tall factors and an SVD of the dh x dh core (all in double; see factors.h):
 *     L^T F_1 = Q_1 R_1,  F_2' = Q_2 R_2,  R_1 R_2^T = U_c S V_c^T
 *     left  = L^{-T} Q_1 U_c sqrt(S),   right = (L^{-T}) Q_2 V_c sqrt(S)
 * where for QK F_1 = F_q, F_2' = L^T F_k (right side mapped back by L^{-T}), and for VO
 * F_1 = F_v, F_2' = G^T = Wo_h (right side D = Q_2 V_c sqrt(S), not mapped). */
#include "attention/factors.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attention/tasks.h"

#ifdef _OPENMP
#include <omp.h>
#endif

Status attn_factors_init(AttnFactors *f, int d, int H, Err *e) {
    memset(f, 0, sizeof *f);
    if (d < 1 || H < 1 || d % H != 0)
        return err_set(e, ST_INVALID,
                       "attn_factors_init: expected d >= 1 and H >= 1 dividing d, found d=%d "
                       "H=%d",
                       d, H);
    f->d = d;
    f->H = H;
    f->dh = d / H;
    const size_t D = (size_t)d + 1, dh = (size_t)f->dh;
    mem_plan_init(&f->plan);
    mem_plan_f32(&f->plan, &f->a, H * D * dh, "attn_factors.a");
    mem_plan_f32(&f->plan, &f->b, H * D * dh, "attn_factors.b");
    mem_plan_f32(&f->plan, &f->c, H * D * dh, "attn_factors.c");
    mem_plan_f32(&f->plan, &f->dm, H * (size_t)d * dh, "attn_factors.dm");
    mem_plan_f32(&f->plan, &f->bo, (size_t)d, "attn_factors.bo");
    mem_plan_f64(&f->plan, &f->s_qk, H * dh, "attn_factors.s_qk");
    mem_plan_f64(&f->plan, &f->s_vo, H * dh, "attn_factors.s_vo");
    return mem_plan_alloc(&f->plan, e);
}

void attn_factors_free(AttnFactors *f) {
    mem_plan_free(&f->plan);
    memset(f, 0, sizeof *f);
}

/* per-thread work (doubles): two tall (m, n) factors, two R (n, n), core, U, VT (n, n), tau */
typedef struct {
    double *f1, *f2, *r1, *r2, *core, *u, *vt, *tau, *t1, *t2;
} Work;

static size_t work_size(int m, int n) {
    return 4 * (size_t)m * n + 5 * (size_t)n * n + (size_t)n;
}

static void work_point(Work *w, double *base, int m, int n) {
    const size_t mn = (size_t)m * n, nn = (size_t)n * n;
    w->f1 = base;
    w->f2 = w->f1 + mn;
    w->t1 = w->f2 + mn;
    w->t2 = w->t1 + mn;
    w->r1 = w->t2 + mn;
    w->r2 = w->r1 + nn;
    w->core = w->r2 + nn;
    w->u = w->core + nn;
    w->vt = w->u + nn;
    w->tau = w->vt + nn;
}

/* thin QR in place: F (m, n) -> Q (m, n); R (n, n) upper triangular. m >= n. */
static int thin_qr(double *F, double *R, double *tau, int m, int n) {
    lapack_int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, n, F, n, tau);
    if (info) return (int)info;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) R[(size_t)i * n + j] = j >= i ? F[(size_t)i * n + j] : 0.0;
    return (int)LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, n, n, F, n, tau);
}

/* the SVD of F1 F2^T for tall F1 (m1, n), F2 (m2, n), both overwritten:
   left (m1, n) = Q1 U_c sqrt(S), right (m2, n) = Q2 V_c sqrt(S), s (n) = S.
   left/right are written to w->t1 / w->t2. */
static int tall_svd(Work *w, double *s, int m1, int m2, int n) {
    int info = thin_qr(w->f1, w->r1, w->tau, m1, n);
    if (!info) info = thin_qr(w->f2, w->r2, w->tau, m2, n);
    if (info) return info;
    /* core = R1 R2^T (n, n) */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0, w->r1, n, w->r2, n, 0.0,
                w->core, n);
    info = (int)LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', n, n, w->core, n, s, w->u, n, w->vt, n);
    if (info) return info;
    /* scale: U sqrt(S) and V sqrt(S) (columns of U, rows of VT) */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double sq = sqrt(s[j] > 0 ? s[j] : 0.0);
            w->u[(size_t)i * n + j] *= sq;
            w->vt[(size_t)j * n + i] *= sq;
        }
    /* left = Q1 (U sqrt S), right = Q2 (V sqrt S) = Q2 (VT)^T-scaled */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m1, n, n, 1.0, w->f1, n, w->u, n, 0.0,
                w->t1, n);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m2, n, n, 1.0, w->f2, n, w->vt, n, 0.0,
                w->t2, n);
    return 0;
}

/* F (d+1, dh) = [W_h^T ; b_h] for rows h*dh.. of W (C, C) stored (out, in) */
static void tall_factor(double *F, const float *W, const float *b, int h, int d, int dh) {
    for (int i = 0; i < d; i++)
        for (int j = 0; j < dh; j++)
            F[(size_t)i * dh + j] = W[(size_t)(h * dh + j) * d + i];
    for (int j = 0; j < dh; j++) F[(size_t)d * dh + j] = b[h * dh + j];
}

/* task t < H: QK of head t; t >= H: VO of head t - H */
static int one_task(AttnFactors *f, const MhsaParams *p, const double *L, int t, Work *w) {
    const int d = f->d, dh = f->dh, D = d + 1, h = t % f->H, qk = t < f->H;
    const size_t off = (size_t)h * D * dh;
    double *s = (qk ? f->s_qk : f->s_vo) + (size_t)h * dh;
    if (qk) {
        tall_factor(w->f1, p->wq, p->bq, h, d, dh);
        tall_factor(w->f2, p->wk, p->bk, h, d, dh);
    } else {
        tall_factor(w->f1, p->wv, p->bv, h, d, dh);
        /* G^T = Wo_h: (d, dh) with G^T[o][j] = Wo[o][h dh + j] */
        for (int o = 0; o < d; o++)
            for (int j = 0; j < dh; j++)
                w->f2[(size_t)o * dh + j] = p->wo[(size_t)o * d + h * dh + j];
    }
    if (L) { /* F1 <- L^T F1; for QK also F2 <- L^T F2 */
        cblas_dtrmm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, D, dh, 1.0,
                    L, D, w->f1, dh);
        if (qk)
            cblas_dtrmm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, D, dh,
                        1.0, L, D, w->f2, dh);
    }
    int info = tall_svd(w, s, D, qk ? D : d, dh);
    if (info) return info;
    if (L) { /* map back: left <- L^{-T} left; for QK right <- L^{-T} right */
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, D, dh, 1.0,
                    L, D, w->t1, dh);
        if (qk)
            cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, D, dh,
                        1.0, L, D, w->t2, dh);
    }
    float *left = (qk ? f->a : f->c) + off;
    float *right = qk ? f->b + off : f->dm + (size_t)h * d * dh;
    for (size_t i = 0; i < (size_t)D * dh; i++) left[i] = (float)w->t1[i];
    for (size_t i = 0; i < (size_t)(qk ? D : d) * dh; i++) right[i] = (float)w->t2[i];
    return 0;
}

/* the 2 H tasks of attn_factors_compute (one_task) on the workspace slices of their thread */
typedef struct {
    AttnFactors *f;
    const MhsaParams *p;
    const double *L;
    double *wbase;
    size_t ws;
    int D, dh;
} FactorTask;

static int factor_task(void *ctx, int t, int me) {
    const FactorTask *ft = ctx;
    Work w;
    work_point(&w, ft->wbase + ft->ws * me, ft->D, ft->dh);
    return one_task(ft->f, ft->p, ft->L, t, &w);
}

Status attn_factors_compute(AttnFactors *f, const MhsaParams *p, const double *L, double ridge,
                            const char *calib_hash, Err *e) {
    const int D = f->d + 1, dh = f->dh, tasks = 2 * f->H;
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    if (nt > tasks) nt = tasks;
    MemPlan wp;
    mem_plan_init(&wp);
    double *wbase = NULL;
    const size_t ws = work_size(D, dh);
    mem_plan_f64(&wp, &wbase, ws * nt, "attn_factors.work");
    Status st = mem_plan_alloc(&wp, e);
    if (st) return st;
    FactorTask ft = {f, p, L, wbase, ws, D, dh};
    int bad_task;
    const int bad_info = attn_tasks_run(tasks, nt, factor_task, &ft, &bad_task);
    mem_plan_free(&wp);
    if (bad_task >= 0)
        return err_set(e, ST_NUMERIC, "attn_factors_compute: head %d %s: LAPACK info %d",
                       bad_task % f->H, bad_task < f->H ? "QK" : "VO", bad_info);
    memcpy(f->bo, p->bo, sizeof(float) * f->d);
    f->kind = L ? ATTN_FACTORS_WHITENED : ATTN_FACTORS_PLAIN;
    f->ridge = L ? ridge : 0.0;
    snprintf(f->calib_hash, sizeof f->calib_hash, "%s", calib_hash ? calib_hash : "");
    return ST_OK;
}

double attn_factors_energy(const AttnFactors *f, AttnForm which, int h, int r) {
    const int dh = f->dh;
    const double *s = which == ATTN_QK ? f->s_qk : f->s_vo;
    int h0 = h < 0 ? 0 : h, h1 = h < 0 ? f->H : h + 1;
    if (r > dh) r = dh;
    double kept = 0, total = 0;
    for (int hh = h0; hh < h1; hh++)
        for (int i = 0; i < dh; i++) {
            double v = s[(size_t)hh * dh + i] * s[(size_t)hh * dh + i];
            total += v;
            if (i < r) kept += v;
        }
    return total > 0 ? kept / total : 1.0;
}
