/* attn_grad_util.h: what the gradient tests of the attention block (test_attention_grad.c)
 * and of the self-attention layer (test_mhsa_grad.c) share: the naive double backward of the
 * attention block, normal fills, int32 -> uint8 masks, and the comparisons with their
 * tolerances.
 *
 * Tolerance for gradients: |ours - fd| <= GRAD_TOL * max(|fd|, scale), scale = the largest
 * |fd| of that tensor. The finite differences are taken in double on the same inputs, so their
 * own error is ~h^2 * |f'''| + 1e-16 / h ~ 1e-10: the comparison measures our float32
 * arithmetic, whose error is a few float ulps (6e-8) times the length of the sums involved
 * (<= N*dh or C terms here) relative to the tensor's gradient scale, i.e. ~1e-6. GRAD_TOL = 1e-4
 * leaves a 100x margin while any wrong or missing term (O(scale)) is caught. Forward values
 * (O(1)) are compared with |a - b| <= 1e-5 + 1e-5 |b| for the same reason.
 * Header-only (static), test code only. */
#ifndef DRRL_TESTS_NN_ATTN_GRAD_UTIL_H
#define DRRL_TESTS_NN_ATTN_GRAD_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"
#include "tests/check.h"
#include "tests/ref.h"

#define GRAD_TOL 1e-4
#define FWD_RTOL 1e-5
#define FWD_ATOL 1e-5

/* ---------------------------------------------------------------- naive double reference */

/* naive double backward of the attention block (the formulas of attention.h written out
   element by element); validated against finite differences in test_attention_small
   (test_attention_grad.c). The forward, ref_attention, is in tests/ref.h. */
static inline void ref_attention_backward(double *dq, double *dk, double *dv, const double *g,
                                          const double *P, const double *q, const double *k,
                                          const double *v, int B, int N, int H, int dh) {
    int C = H * dh;
    double sc = 1.0 / sqrt((double)dh);
    double *dS = malloc(sizeof(double) * (size_t)N * N);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const double *Pb = P + ((size_t)b * H + h) * N * N;
#define AT(x, n, c) x[((size_t)b * N + (n)) * C + h * dh + (c)]
            for (int i = 0; i < N; i++) {
                double rs = 0;
                for (int j = 0; j < N; j++) {
                    double dp = 0;
                    for (int c = 0; c < dh; c++) dp += AT(g, i, c) * AT(v, j, c);
                    dS[i * N + j] = dp;
                    rs += dp * Pb[i * N + j];
                }
                for (int j = 0; j < N; j++) dS[i * N + j] = Pb[i * N + j] * (dS[i * N + j] - rs);
            }
            for (int j = 0; j < N; j++)
                for (int c = 0; c < dh; c++) {
                    double a = 0, kk = 0;
                    for (int i = 0; i < N; i++) {
                        a += Pb[i * N + j] * AT(g, i, c);
                        kk += dS[i * N + j] * AT(q, i, c);
                    }
                    AT(dv, j, c) += a;
                    AT(dk, j, c) += kk * sc;
                }
            for (int i = 0; i < N; i++)
                for (int c = 0; c < dh; c++) {
                    double a = 0;
                    for (int j = 0; j < N; j++) a += dS[i * N + j] * AT(k, j, c);
                    AT(dq, i, c) += a * sc;
                }
#undef AT
        }
    free(dS);
}

/* ---------------------------------------------------------------- helpers */

/* m8 (n) = m (n): the uint8 copy of an int32 key mask, for ref_attention */
static inline void mask_to_u8(uint8_t *m8, const int32_t *m, size_t n) {
    for (size_t i = 0; i < n; i++) m8[i] = (uint8_t)m[i];
}

static inline void fill_normal(Rng *r, float *x, size_t n, double sd) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(sd * rng_normal(r));
}

/* compare a float gradient with a double reference; returns the worst scaled error.
   scale = max(largest |want|, floor): floor is for tensors whose true gradient is 0 (or tiny)
   while the float computation sums O(floor) terms that cancel. */
static inline double check_grad_floor(const float *got, const double *want, size_t n,
                                      double floor, const char *what) {
    double scale = fmax(ref_max_abs(want, n), floor), worst = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double den = fabs(want[i]) > scale ? fabs(want[i]) : scale;
        if (den == 0) den = 1;
        double err = fabs((double)got[i] - want[i]) / den;
        if (err > worst) worst = err;
        if (err > GRAD_TOL && bad++ < 5)
            CHECK(0, "%s[%zu]: got %.9g, expected %.9g (scale %.3g)", what, i, (double)got[i],
                  want[i], scale);
    }
    CHECK(bad == 0, "%s: %d of %zu elements off", what, bad, n);
    return worst;
}
static inline double check_grad(const float *got, const double *want, size_t n,
                                const char *what) {
    return check_grad_floor(got, want, n, 0.0, what);
}

/* after a second identical backward, now == 2 * first up to float rounding of the sums
   (relative to the tensor's scale: entries that are 0 up to cancellation stay ~0) */
static inline int count_not_doubled(const float *now, const float *first, size_t n) {
    double scale = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(first[i]));
    /* n counts all the parameter gradients at once in the mhsa check: the key bias gradient
       is 0 up to cancellation noise that depends on the starting value of the sum */
    for (size_t i = 0; i < n; i++) bad += fabs(now[i] - 2.0 * first[i]) > 1e-6 * scale;
    return bad;
}

static inline void check_fwd(const float *got, const double *want, size_t n, const char *what) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)got[i] - want[i]) > FWD_ATOL + FWD_RTOL * fabs(want[i]) && bad++ < 5)
            CHECK(0, "%s[%zu]: got %.9g, expected %.9g", what, i, (double)got[i], want[i]);
    }
    CHECK(bad == 0, "%s: %d of %zu elements off", what, bad, n);
}

/* count_masked_kv: nonzero entries of dK and dV (B, N, C) in the rows of masked keys
   (mask (B, N), 0 = padding); the attention gives those keys no gradient, so 0 is exact */
static inline int count_masked_kv(const float *dk, const float *dv, const int32_t *mask, int B,
                                  int N, int C) {
    int nz = 0;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N; j++)
            if (!mask[b * N + j])
                for (int c = 0; c < C; c++) {
                    size_t at = ((size_t)b * N + j) * C + c;
                    nz += (dk[at] != 0.0f) + (dv[at] != 0.0f);
                }
    return nz;
}

#endif
