/* bound_ref.h: the independent double-precision reference of test_bound.c. Per head it builds
 * the explicit bias-folded forms M_QK = F_q F_k^T ((d+1)^2) and M_VO = F_v Wo_h^T ((d+1) x d),
 * truncates them through LAPACKE dgesvd of the explicit (plain, or whitened L^T M L / L^T M)
 * matrices into the float factors the bound is given, keeps the rank-r forms those factors
 * make (r = 0..dh, in double), and computes a layer's output from them (ref_layer: softmax
 * and all, in double). Also bound_plan_alloc, the BoundLayer + BoundWork setup test_bound.c
 * and test_bound_errors.c share. Header-only (static), test code only. */
#ifndef DRRL_TESTS_ATTENTION_BOUND_REF_H
#define DRRL_TESTS_ATTENTION_BOUND_REF_H

#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attention/bound.h"
#include "core/mem.h"
#include "nn/mhsa.h"
#include "tests/check.h"
#include "tests/ref.h"

typedef struct {
    int d, H, dh, whiten;
    double *mqk, *mvo;   /* (H, d+1, d+1), (H, d+1, d) exact forms */
    double *rqk, *rvo;   /* (H, dh+1, d+1, d+1), (H, dh+1, d+1, d): rank-r forms (r = dh exact) */
    double *L;           /* (d+1, d+1) whitener (identity for plain) */
    float *fa, *fb, *fc, *fd; /* factors (H, d+1, dh) x3 and (H, d, dh) */
    uint64_t seed;       /* model seed of the LayerNorm-shaped inputs (tu_ln_inputs) */
} Model;

/* svd: A (m, n) row-major -> U (m, k), s (k), V (n, k) with k = min(m, n). */
static inline void svd(double *U, double *s, double *V, const double *A, int m, int n) {
    int k = m < n ? m : n;
    double *a = malloc(sizeof(double) * m * n), *vt = malloc(sizeof(double) * k * n);
    double *sup = malloc(sizeof(double) * k);
    memcpy(a, A, sizeof(double) * m * n);
    int info = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'S', 'S', m, n, a, n, s, U, k, vt, n, sup);
    CHECK(info == 0, "dgesvd info %d", info);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < n; j++) V[j * k + i] = vt[i * n + j];
    free(a), free(vt), free(sup);
}

/* lt_solve: X (n, k) <- L^-T X (L lower (n, n)). */
static inline void lt_solve(double *X, const double *L, int n, int k) {
    int info = LAPACKE_dtrtrs(LAPACK_ROW_MAJOR, 'L', 'T', 'N', n, k, L, n, X, k);
    CHECK(info == 0, "dtrtrs info %d", info);
}

/* model_build: weights p, whitener from calibration tokens xc (nc, d) if whiten. */
static inline void model_build(Model *m, const MhsaParams *p, const float *xc, int nc, int d,
                               int H, int whiten) {
    int D = d + 1, dh = d / H;
    m->d = d, m->H = H, m->dh = dh, m->whiten = whiten;
    m->mqk = calloc((size_t)H * D * D, sizeof(double));
    m->mvo = calloc((size_t)H * D * d, sizeof(double));
    m->rqk = calloc((size_t)H * (dh + 1) * D * D, sizeof(double));
    m->rvo = calloc((size_t)H * (dh + 1) * D * d, sizeof(double));
    m->L = calloc((size_t)D * D, sizeof(double));
    m->fa = malloc(sizeof(float) * H * D * dh), m->fb = malloc(sizeof(float) * H * D * dh);
    m->fc = malloc(sizeof(float) * H * D * dh), m->fd = malloc(sizeof(float) * H * d * dh);
    if (whiten) { /* M2 = mean x~^T x~ + 1e-3 tr/(d+1) I = L L^T */
        double tr = 0;
        for (int t = 0; t < nc; t++)
            for (int i = 0; i < D; i++)
                for (int j = 0; j <= i; j++) {
                    double xi = i < d ? xc[t * d + i] : 1, xj = j < d ? xc[t * d + j] : 1;
                    m->L[i * D + j] += xi * xj / nc;
                }
        for (int i = 0; i < D; i++) tr += m->L[i * D + i];
        for (int i = 0; i < D; i++) m->L[i * D + i] += 1e-3 * tr / D;
        int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', D, m->L, D);
        CHECK(info == 0, "dpotrf info %d", info);
    } else {
        for (int i = 0; i < D; i++) m->L[i * D + i] = 1;
    }
    double *Fq = malloc(sizeof(double) * D * dh), *Fk = malloc(sizeof(double) * D * dh);
    double *Fv = malloc(sizeof(double) * D * dh), *W = malloc(sizeof(double) * D * D);
    double *T = malloc(sizeof(double) * D * D), *U = malloc(sizeof(double) * D * D);
    double *V = malloc(sizeof(double) * D * D), *s = malloc(sizeof(double) * D);
    double *A = malloc(sizeof(double) * D * dh), *Bm = malloc(sizeof(double) * D * dh);
    for (int h = 0; h < H; h++) {
        double *mq = m->mqk + (size_t)h * D * D, *mv = m->mvo + (size_t)h * D * d;
        for (int i = 0; i < D; i++)
            for (int k = 0; k < dh; k++) {
                int o = h * dh + k;
                Fq[i * dh + k] = i < d ? p->wq[o * d + i] : p->bq[o];
                Fk[i * dh + k] = i < d ? p->wk[o * d + i] : p->bk[o];
                Fv[i * dh + k] = i < d ? p->wv[o * d + i] : p->bv[o];
            }
        ref_linear(mq, Fq, Fk, NULL, D, dh, D); /* M_QK = F_q F_k^T */
        for (int i = 0; i < D; i++)
            for (int c = 0; c < d; c++) {
                double a = 0;
                for (int k = 0; k < dh; k++) a += Fv[i * dh + k] * p->wo[c * d + h * dh + k];
                mv[i * d + c] = a;
            }
        for (int form = 0; form < 2; form++) {
            int nc2 = form == 0 ? D : d; /* columns of the form */
            const double *Mf = form == 0 ? mq : mv;
            /* W = L^T M (L for QK) */
            for (int i = 0; i < D; i++)
                for (int j = 0; j < nc2; j++) {
                    double a = 0;
                    for (int k = i; k < D; k++) a += m->L[k * D + i] * Mf[k * nc2 + j];
                    T[i * nc2 + j] = a;
                }
            if (form == 0) {
                for (int i = 0; i < D; i++)
                    for (int j = 0; j < D; j++) {
                        double a = 0;
                        for (int k = j; k < D; k++) a += T[i * D + k] * m->L[k * D + j];
                        W[i * D + j] = a;
                    }
            } else {
                memcpy(W, T, sizeof(double) * D * d);
            }
            svd(U, s, V, W, D, nc2);
            int kk = D < nc2 ? D : nc2;
            for (int i = 0; i < D; i++)
                for (int k = 0; k < dh; k++) A[i * dh + k] = U[i * kk + k] * sqrt(s[k]);
            for (int i = 0; i < nc2; i++)
                for (int k = 0; k < dh; k++) Bm[i * dh + k] = V[i * kk + k] * sqrt(s[k]);
            lt_solve(A, m->L, D, dh);
            if (form == 0) lt_solve(Bm, m->L, D, dh);
            /* the factors the bound gets are float; the reference truncates exactly those
             * (A B^T at rank dh is the exact form up to the factors' float rounding, ~1e-7,
             * which is kernel-level rounding the bound does not claim to cover) */
            float *fa = form == 0 ? m->fa : m->fc, *fb = form == 0 ? m->fb : m->fd;
            for (int i = 0; i < D * dh; i++) A[i] = fa[(size_t)h * D * dh + i] = (float)A[i];
            for (int i = 0; i < nc2 * dh; i++) Bm[i] = fb[(size_t)h * nc2 * dh + i] = (float)Bm[i];
            for (int r = 0; r <= dh; r++) {
                double *R = form == 0 ? m->rqk + ((size_t)h * (dh + 1) + r) * D * D
                                      : m->rvo + ((size_t)h * (dh + 1) + r) * D * d;
                for (int i = 0; i < D; i++)
                    for (int j = 0; j < nc2; j++) {
                        double a = 0;
                        for (int k = 0; k < r; k++) a += A[i * dh + k] * Bm[j * dh + k];
                        R[i * nc2 + j] = a;
                    }
            }
        }
    }
    free(Fq), free(Fk), free(Fv), free(W), free(T), free(U), free(V), free(s), free(A), free(Bm);
}

/* model_free: the arrays of model_build */
static inline void model_free(Model *m) {
    free(m->mqk), free(m->mvo), free(m->rqk), free(m->rvo), free(m->L);
    free(m->fa), free(m->fb), free(m->fc), free(m->fd);
}

/* ref_layer: y (N, d) = sum_h softmax_masked(x~ Mqk_h x~^T / sqrt(dh)) (x~ Mvo_h), double;
 * mqk(h), mvo(h) give head h's forms; keep (N) the key mask; causal: row i keeps only the
 * keys j <= i (a row without any kept key gives 0). */
static inline void ref_layer(double *y, const double *xt /* (N, d+1) */, const uint8_t *keep,
                             int causal, int N, const Model *m, int r,
                             double *tmp /* (N (d+1) + N N + N d) */) {
    int d = m->d, D = d + 1, dh = m->dh;
    double *XM = tmp, *P = XM + (size_t)N * D, *Uv = P + (size_t)N * N;
    memset(y, 0, sizeof(double) * N * d);
    for (int h = 0; h < m->H; h++) {
        const double *Mq = m->rqk + ((size_t)h * (dh + 1) + r) * D * D;
        const double *Mv = m->rvo + ((size_t)h * (dh + 1) + r) * D * d;
        ref_matmul(XM, xt, Mq, N, D, D); /* x~ Mqk (N, d+1) */
        for (int i = 0; i < N; i++) {
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < N; j++) {
                double a = 0;
                for (int k = 0; k < D; k++) a += XM[i * D + k] * xt[j * D + k];
                P[i * N + j] = a / sqrt((double)dh);
                if (keep[j] && (!causal || j <= i) && P[i * N + j] > mx) mx = P[i * N + j];
            }
            for (int j = 0; j < N; j++) {
                P[i * N + j] = keep[j] && (!causal || j <= i) ? exp(P[i * N + j] - mx) : 0;
                sum += P[i * N + j];
            }
            for (int j = 0; j < N; j++) P[i * N + j] = sum > 0 ? P[i * N + j] / sum : 0;
        }
        ref_matmul(Uv, xt, Mv, N, D, d); /* x~ Mvo (N, d) */
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                double pij = P[i * N + j];
                if (pij == 0) continue;
                for (int c = 0; c < d; c++) y[i * d + c] += pij * Uv[j * d + c];
            }
    }
}
/* bound_plan_alloc: plan (initialised here) holds a BoundLayer bl of width d with H heads of
   size dh and a BoundWork w for B sequences of N tokens at R ranks; one CHECK: the allocation.
   Free with mem_plan_free(plan). */
static inline void bound_plan_alloc(MemPlan *plan, BoundLayer *bl, BoundWork *w, int d, int H,
                                    int dh, int B, int N, int R) {
    Err e;
    mem_plan_init(plan);
    bound_layer_plan(plan, bl, d, H, dh);
    bound_work_plan(plan, w, B, N, R, dh);
    CHECK(mem_plan_alloc(plan, &e) == ST_OK, "%s", e.msg);
}

#endif
