/* test_factors.c: weight-level factors (attention/factors.h), the calibration moment and its
 * ridge (attention/moment.h), and the factors' store round trip (attention/factors_io.h).
 *  - A B^T = M_QK and C D^T = M_VO per head (references built in double from the weights):
 *    relative Frobenius error < 1e-5 (float32 factors), plain and whitened;
 *  - plain singular values equal an independent dgesdd of the full (d+1)-square M_QK and
 *    (d+1) x d M_VO; whitened ones equal a dgesdd of L^T M_QK L and L^T M_VO built here
 *    (relative 1e-9 of sigma_1); the whitened rank-r truncation error in the whitened norm,
 *    ||L^T (M - A_r B_r^T) L||_F^2, equals the optimal sum_{i>r} sigma_i^2 (to 1e-5 of the
 *    total) and is below the plain truncation's error in that norm;
 *  - energy per rank is monotone and reaches 1 at dh;
 *  - the moment of LayerNorm outputs plus the constant coordinate is singular: M w = 0 for
 *    w = [1/gamma; -sum beta/gamma] (|M w| / (|M| |w|) < 1e-6) and its smallest eigenvalue
 *    is below 1e-7 of the largest; Cholesky without ridge fails or has a pivot below 1e-6
 *    of the mean eigenvalue; with the default ridge it succeeds, L L^T = M + ridge mean I to
 *    1e-12, every pivot^2 >= the ridge; masked tokens are left out of the moment;
 *  - on a d=256, 4-head model (random weights, LayerNorm-shaped inputs with 16 dominant
 *    directions) whitened factors keep more QK and VO energy than plain ones at rank 8;
 *  - store round trip is bit-exact; wrong head count and stale calibration hash are errors. */
#include <lapacke.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attention/factors.h"
#include "attention/factors_io.h"
#include "attention/moment.h"
#include "tests/attention/util.h"
#include "tests/check.h"

#define NAME "test_factors"

/* M_QK (D, D) and M_VO (D, d) of head h in double */
static void forms(double *Mqk, double *Mvo, const MhsaParams *p, int d, int H, int h) {
    const int dh = d / H, D = d + 1;
    for (int i = 0; i < D; i++) {
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int c = 0; c < dh; c++) {
                const int o = h * dh + c;
                double fq = i < d ? p->wq[(size_t)o * d + i] : p->bq[o];
                double fk = j < d ? p->wk[(size_t)o * d + j] : p->bk[o];
                s += fq * fk;
            }
            Mqk[(size_t)i * D + j] = s;
        }
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int c = 0; c < dh; c++) {
                const int o = h * dh + c;
                double fv = i < d ? p->wv[(size_t)o * d + i] : p->bv[o];
                s += fv * p->wo[(size_t)j * d + o];
            }
            Mvo[(size_t)i * d + j] = s;
        }
    }
}

/* P (m, n) = left_r right_r^T from (H, m, dh) / (H, n, dh) float factors of head h */
static void product(double *P, const float *left, const float *right, int m, int n, int dh,
                    int h, int r) {
    const float *l = left + (size_t)h * m * dh, *rt = right + (size_t)h * n * dh;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int c = 0; c < r; c++) s += (double)l[(size_t)i * dh + c] * rt[(size_t)j * dh + c];
            P[(size_t)i * n + j] = s;
        }
}

static double frob2(const double *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * a[i];
    return s;
}

/* out (D, n) = L^T X (X (D, n)); if right, then out <- out L (X square D) */
static void whiten(double *out, const double *L, const double *X, int D, int n, int right) {
    double *t = malloc(sizeof(double) * D * n);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = i; k < D; k++) s += L[(size_t)k * D + i] * X[(size_t)k * n + j];
            t[(size_t)i * n + j] = s;
        }
    if (right) {
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++) {
                double s = 0;
                for (int k = j; k < D; k++) s += t[(size_t)i * D + k] * L[(size_t)k * D + j];
                out[(size_t)i * D + j] = s;
            }
    } else {
        memcpy(out, t, sizeof(double) * D * n);
    }
    free(t);
}

/* singular values of X (m, n) by dgesdd (X destroyed) */
static void svals(double *s, double *X, int m, int n) {
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', m, n, X, n, s, NULL, m, NULL, n);
    CHECK(info == 0, "dgesdd info %d", (int)info);
}

/* check_svals: the first dh singular values ours of head h (factor kind, form what) against
   those of X (m, n) by dgesdd (X destroyed; s (min(m, n)) receives them), relative to
   sigma_1, one CHECK each; returns the worst relative difference */
static double check_svals(double *s, double *X, int m, int n, const double *ours, int dh, int h,
                          int kind, const char *what) {
    svals(s, X, m, n);
    double worst = 0;
    for (int i = 0; i < dh; i++) {
        double dv = fabs(s[i] - ours[i]) / s[0];
        worst = fmax(worst, dv);
        CHECK(dv < 1e-9, "head %d kind %d %s sigma_%d: %g vs %g", h, kind, what, i, ours[i], s[i]);
    }
    return worst;
}

/* the moment of B x N LayerNorm-shaped inputs (some padded) and its whitener */
static void calibrate(double *M, double *L, int d, int k, uint64_t seed, int B, int N) {
    Rng r;
    rng_init(&r, seed, 5);
    float *x = malloc(sizeof(float) * B * N * d);
    tu_ln_inputs(x, B, N, d, k, seed, &r);
    int32_t *mask = malloc(sizeof(int32_t) * B * N);
    int len[64];
    for (int b = 0; b < B; b++) len[b] = N - b % 7;
    tu_mask(mask, B, N, len);
    AttnMoment m;
    Err e;
    CHECK(attn_moment_init(&m, d, &e) == ST_OK, "%s", e.msg);
    attn_moment_add(&m, x, attn_mask_i32(mask), B, N);
    CHECK(attn_moment_get(M, &m, &e) == ST_OK, "%s", e.msg);
    if (L) CHECK(attn_whitener(L, M, d, ATTN_RIDGE_DEFAULT, &e) == ST_OK, "%s", e.msg);
    attn_moment_free(&m);
    free(x), free(mask);
}

static void test_factors_exact(int d, int H, uint64_t seed) {
    const int dh = d / H, D = d + 1;
    Rng r;
    rng_init(&r, seed, 1);
    MhsaParams p;
    float *pbuf = tu_params_new(&p, d, &r, 1.0f, 0.5f);
    double *M = malloc(sizeof(double) * D * D), *L = malloc(sizeof(double) * D * D);
    calibrate(M, L, d, 8, seed, 8, 40);
    AttnFactors fp, fw;
    Err e;
    CHECK(attn_factors_init(&fp, d, H, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_init(&fw, d, H, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_compute(&fp, &p, NULL, 0, NULL, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_compute(&fw, &p, L, ATTN_RIDGE_DEFAULT, "abc", &e) == ST_OK, "%s", e.msg);
    double *Mqk = malloc(sizeof(double) * D * D), *Mvo = malloc(sizeof(double) * D * d);
    double *P = malloc(sizeof(double) * D * D), *W = malloc(sizeof(double) * D * D);
    double *s = malloc(sizeof(double) * D);
    double worst_rep = 0, worst_sv = 0, worst_opt = 0;
    for (int h = 0; h < H; h++) {
        forms(Mqk, Mvo, &p, d, H, h);
        const double nqk = frob2(Mqk, (size_t)D * D), nvo = frob2(Mvo, (size_t)D * d);
        for (int kind = 0; kind < 2; kind++) {
            const AttnFactors *f = kind ? &fw : &fp;
            /* reproduction at full rank */
            product(P, f->a, f->b, D, D, dh, h, dh);
            for (size_t i = 0; i < (size_t)D * D; i++) P[i] -= Mqk[i];
            double eq = sqrt(frob2(P, (size_t)D * D) / nqk);
            product(P, f->c, f->dm, D, d, dh, h, dh);
            for (size_t i = 0; i < (size_t)D * d; i++) P[i] -= Mvo[i];
            double ev = sqrt(frob2(P, (size_t)D * d) / nvo);
            CHECK(eq < 1e-5 && ev < 1e-5, "head %d kind %d: A B^T err %g, C D^T err %g", h, kind,
                  eq, ev);
            worst_rep = fmax(worst_rep, fmax(eq, ev));
            /* singular values against an independent SVD of the (whitened) full matrix */
            if (kind) whiten(W, L, Mqk, D, D, 1);
            else memcpy(W, Mqk, sizeof(double) * D * D);
            worst_sv = fmax(worst_sv, check_svals(s, W, D, D, f->s_qk + (size_t)h * dh, dh, h,
                                                  kind, "QK"));
            if (kind) whiten(W, L, Mvo, D, d, 0);
            else memcpy(W, Mvo, sizeof(double) * D * d);
            worst_sv = fmax(worst_sv, check_svals(s, W, D, d, f->s_vo + (size_t)h * dh, dh, h,
                                                  kind, "VO"));
            /* energy monotone, 1 at dh */
            for (int which = 0; which < 2; which++) {
                double prev = 0;
                for (int rr = 0; rr <= dh; rr++) {
                    double en = attn_factors_energy(f, (AttnForm)which, h, rr);
                    CHECK(en >= prev - 1e-15, "energy not monotone at rank %d", rr);
                    prev = en;
                }
                CHECK_CLOSE(prev, 1.0, 0, 1e-12, "energy at rank dh");
            }
        }
        /* whitened truncation is optimal in the whitened norm; plain is not better there */
        whiten(W, L, Mqk, D, D, 1);
        svals(s, W, D, D);
        double stot = 0;
        for (int i = 0; i < D; i++) stot += s[i] * s[i];
        for (int rr = 1; rr < dh; rr *= 2) {
            double opt = 0;
            for (int i = rr; i < D; i++) opt += s[i] * s[i];
            double errk[2];
            for (int kind = 0; kind < 2; kind++) {
                const AttnFactors *f = kind ? &fw : &fp;
                product(P, f->a, f->b, D, D, dh, h, rr);
                for (size_t i = 0; i < (size_t)D * D; i++) P[i] -= Mqk[i];
                whiten(W, L, P, D, D, 1);
                errk[kind] = frob2(W, (size_t)D * D);
            }
            double gap = fabs(errk[1] - opt) / stot;
            worst_opt = fmax(worst_opt, gap);
            CHECK(gap < 1e-5, "head %d rank %d: whitened error %g vs optimal %g", h, rr, errk[1],
                  opt);
            CHECK(errk[0] >= errk[1] * (1 - 1e-6), "plain beats whitened in the whitened norm");
        }
    }
    printf("d=%d H=%d: reproduction err <= %.2g, singular values <= %.2g, whitened optimality "
           "gap <= %.2g\n",
           d, H, worst_rep, worst_sv, worst_opt);
    attn_factors_free(&fp);
    attn_factors_free(&fw);
    free(pbuf), free(M), free(L), free(Mqk), free(Mvo), free(P), free(W), free(s);
}

static void test_moment(void) {
    const int d = 48, D = d + 1, k = 6;
    const uint64_t seed = 41;
    double *M = malloc(sizeof(double) * D * D), *L = malloc(sizeof(double) * D * D);
    calibrate(M, NULL, d, k, seed, 16, 50);
    /* the null vector of LayerNorm outputs plus the constant coordinate */
    double gamma[48], beta[48], w[49], Mw[49];
    tu_gamma_beta(gamma, beta, d, k, seed);
    w[d] = 0;
    for (int i = 0; i < d; i++) {
        w[i] = 1.0 / gamma[i];
        w[d] -= beta[i] / gamma[i];
    }
    double nM = sqrt(frob2(M, (size_t)D * D)), nw = sqrt(frob2(w, D));
    for (int i = 0; i < D; i++) {
        Mw[i] = 0;
        for (int j = 0; j < D; j++) Mw[i] += M[(size_t)i * D + j] * w[j];
    }
    double rel = sqrt(frob2(Mw, D)) / (nM * nw);
    printf("moment: |M w| / (|M| |w|) = %.3g for the LayerNorm null vector\n", rel);
    CHECK(rel < 1e-6, "M w = %g", rel);
    double *ev = malloc(sizeof(double) * D), *Mc = malloc(sizeof(double) * D * D);
    memcpy(Mc, M, sizeof(double) * D * D);
    CHECK(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'L', D, Mc, D, ev) == 0, "dsyevd");
    printf("moment: eigenvalues min %.3g, max %.3g\n", ev[0], ev[D - 1]);
    CHECK(fabs(ev[0]) < 1e-7 * ev[D - 1], "smallest eigenvalue %g vs largest %g", ev[0],
          ev[D - 1]);
    double tr = 0;
    for (int i = 0; i < D; i++) tr += M[(size_t)i * D + i];
    const double mean = tr / D;
    Err e;
    Status st = attn_whitener(L, M, d, 0.0, &e);
    if (st == ST_OK) {
        double mind = 1e300;
        for (int i = 0; i < D; i++) mind = fmin(mind, L[(size_t)i * D + i] * L[(size_t)i * D + i]);
        printf("moment: no ridge: Cholesky succeeded with smallest pivot^2 %.3g (mean eig %.3g)\n",
               mind, mean);
        CHECK(mind < 1e-6 * mean, "no ridge: smallest pivot^2 %g not tiny", mind);
    } else {
        printf("moment: no ridge: %s\n", e.msg);
        CHECK(st == ST_NUMERIC, "no ridge: status %d", (int)st);
    }
    CHECK(attn_whitener(L, M, d, ATTN_RIDGE_DEFAULT, &e) == ST_OK, "%s", e.msg);
    double worst = 0, mind = 1e300;
    for (int i = 0; i < D; i++) {
        mind = fmin(mind, L[(size_t)i * D + i] * L[(size_t)i * D + i]);
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int c = 0; c < D; c++) s += L[(size_t)i * D + c] * L[(size_t)j * D + c];
            double want = M[(size_t)i * D + j] + (i == j ? ATTN_RIDGE_DEFAULT * mean : 0.0);
            worst = fmax(worst, fabs(s - want) / ev[D - 1]);
        }
    }
    CHECK(worst < 1e-12, "L L^T vs M + ridge: %g", worst);
    CHECK(mind >= ATTN_RIDGE_DEFAULT * mean * (1 - 1e-9), "pivot^2 %g below ridge %g", mind,
          ATTN_RIDGE_DEFAULT * mean);
    printf("moment: ridge %g: L L^T = M + ridge mean I to %.2g, smallest pivot^2 %.3g >= %.3g\n",
           ATTN_RIDGE_DEFAULT, worst, mind, ATTN_RIDGE_DEFAULT * mean);
    /* padded tokens are left out: all-real batch of the same tokens gives the same moment */
    AttnMoment m1, m2;
    CHECK(attn_moment_init(&m1, d, &e) == ST_OK && attn_moment_init(&m2, d, &e) == ST_OK, "init");
    Rng r;
    rng_init(&r, 3, 3);
    const int B = 2, N = 300; /* more than one chunk */
    float *x = malloc(sizeof(float) * B * N * d);
    tu_normal(x, (size_t)B * N * d, 1.0f, &r);
    int32_t mask[2 * 300];
    int len[2] = {300, 123};
    tu_mask(mask, B, N, len);
    attn_moment_add(&m1, x, attn_mask_i32(mask), B, N);
    attn_moment_add(&m2, x, attn_mask_none(), 1, 300);        /* sequence 0 */
    attn_moment_add(&m2, x + (size_t)N * d, attn_mask_none(), 1, 123); /* real part of 1 */
    double *M1 = malloc(sizeof(double) * D * D), *M2 = malloc(sizeof(double) * D * D);
    CHECK(attn_moment_get(M1, &m1, &e) == ST_OK && attn_moment_get(M2, &m2, &e) == ST_OK, "get");
    double dm = 0;
    for (size_t i = 0; i < (size_t)D * D; i++) dm = fmax(dm, fabs(M1[i] - M2[i]));
    CHECK(dm < 1e-12 && m1.count == 423, "masked moment differs by %g (count %g)", dm, m1.count);
    attn_moment_reset(&m1);
    CHECK(attn_moment_get(M1, &m1, &e) == ST_INVALID, "empty moment accepted");
    attn_moment_free(&m1);
    attn_moment_free(&m2);
    free(M), free(L), free(ev), free(Mc), free(x), free(M1), free(M2);
}

/* energies of plain vs whitened factors on a d=256, 4-head model (the SST-2 model's shape) */
static void test_energy(AttnFactors *fw_out_for_store) {
    const int d = 256, H = 4, D = d + 1;
    MhsaParams p;
    Rng r;
    rng_init(&r, 51, 1);
    float *pbuf = tu_params_new(&p, d, &r, 1.0f, 0.1f);
    double *M = malloc(sizeof(double) * D * D), *L = malloc(sizeof(double) * D * D);
    calibrate(M, L, d, 16, 51, 32, 64);
    char hash[65];
    attn_moment_hash(hash, M, d, ATTN_RIDGE_DEFAULT);
    AttnFactors fp;
    Err e;
    CHECK(attn_factors_init(&fp, d, H, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_compute(&fp, &p, NULL, 0, NULL, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_compute(fw_out_for_store, &p, L, ATTN_RIDGE_DEFAULT, hash, &e) == ST_OK,
          "%s", e.msg);
    int ranks[3] = {8, 16, 32};
    for (int g = 0; g < 3; g++) {
        double pq = attn_factors_energy(&fp, ATTN_QK, -1, ranks[g]);
        double wq = attn_factors_energy(fw_out_for_store, ATTN_QK, -1, ranks[g]);
        double pv = attn_factors_energy(&fp, ATTN_VO, -1, ranks[g]);
        double wv = attn_factors_energy(fw_out_for_store, ATTN_VO, -1, ranks[g]);
        printf("energy d=256 H=4 rank %2d: QK plain %.3f whitened %.3f | VO plain %.3f whitened "
               "%.3f\n",
               ranks[g], pq, wq, pv, wv);
        if (ranks[g] == 8) CHECK(wq > pq && wv > pv, "whitened keeps less energy at rank 8");
    }
    attn_factors_free(&fp);
    free(M), free(L), free(pbuf);
}

static void test_store(const AttnFactors *f) {
    char dir[] = "/tmp/drrl-factors-XXXXXX", path[256];
    Store *st;
    tu_tmp_store(&st, dir, path, sizeof path, "f.h5", "drrl-model", 1);
    Err e;
    CHECK(attn_factors_write(st, "/factors/layer/0/whitened", f, &e) == ST_OK, "%s", e.msg);
    CHECK(store_commit(st, &e) == ST_OK, "%s", e.msg);
    CHECK(store_open(&st, path, "drrl-model", 1, 1, &e) == ST_OK, "%s", e.msg);
    AttnFactors g;
    CHECK(attn_factors_init(&g, f->d, f->H, &e) == ST_OK, "%s", e.msg);
    CHECK(attn_factors_read(st, "/factors/layer/0/whitened", &g, f->calib_hash, &e) == ST_OK,
          "%s", e.msg);
    const size_t D = (size_t)f->d + 1, dh = (size_t)f->dh, H = (size_t)f->H;
    CHECK(memcmp(g.a, f->a, sizeof(float) * H * D * dh) == 0 &&
              memcmp(g.b, f->b, sizeof(float) * H * D * dh) == 0 &&
              memcmp(g.c, f->c, sizeof(float) * H * D * dh) == 0 &&
              memcmp(g.dm, f->dm, sizeof(float) * H * f->d * dh) == 0 &&
              memcmp(g.bo, f->bo, sizeof(float) * f->d) == 0 &&
              memcmp(g.s_qk, f->s_qk, sizeof(double) * H * dh) == 0 &&
              memcmp(g.s_vo, f->s_vo, sizeof(double) * H * dh) == 0,
          "round trip differs");
    CHECK(g.kind == ATTN_FACTORS_WHITENED && g.ridge == f->ridge &&
              strcmp(g.calib_hash, f->calib_hash) == 0,
          "attributes differ");
    Status s = attn_factors_read(st, "/factors/layer/0/whitened", &g, "0123", &e);
    CHECK(s == ST_FORMAT && strstr(e.msg, "calib_hash"), "stale hash: %d %s", (int)s, e.msg);
    attn_factors_free(&g);
    CHECK(attn_factors_init(&g, f->d, f->H * 2, &e) == ST_OK, "%s", e.msg);
    s = attn_factors_read(st, "/factors/layer/0/whitened", &g, NULL, &e);
    CHECK(s == ST_SHAPE && strstr(e.msg, "n_heads"), "wrong heads: %d %s", (int)s, e.msg);
    printf("store: %s\n", e.msg);
    attn_factors_free(&g);
    store_close(st);
    tu_tmp_remove(path, dir);
}

int main(void) {
    test_factors_exact(64, 4, 61);
    test_factors_exact(60, 3, 62);
    test_moment();
    AttnFactors fw;
    Err e;
    CHECK(attn_factors_init(&fw, 256, 4, &e) == ST_OK, "%s", e.msg);
    test_energy(&fw);
    test_store(&fw);
    attn_factors_free(&fw);
    return check_exit(NAME);
}
