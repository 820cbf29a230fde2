/* ref.h: double-precision reference helpers shared by the gradient and forward tests:
 * plain loops, no BLAS, no fast exp, so they are independent of the float32 code they check.
 *   ref_linear     y (M, O) = x (M, K) W^T + b,       W (O, K), b (O) or NULL (= 0)
 *   ref_matmul     y (M, O) = x (M, K) A,             A (K, O)
 *   ref_layernorm  y[m, c] = (x[m, c] - mu_m) / sqrt(var_m + eps) * w[c] + b[c],
 *                  mu_m = mean_c x[m, c], var_m = mean_c (x[m, c] - mu_m)^2 (biased)
 *   ref_attention  masked multi-head softmax(q k^T / sqrt(dh)) v, optional P out, dropout on P
 *   ref_max_abs    max_i |x_i|;  ref_dot  sum_i a_i b_i;  ref_to_double  float -> double
 *   ref_fill_randn normal deviates with a random per-element scale and an offset
 *   ref_check_vec  |a_i - b_i| <= rtol * max(|b_i|, frac * max_j |b_j|, floor) for every i
 * Header-only (static inline), test code only, in the style of tests/check.h. */
#ifndef DRRL_TESTS_REF_H
#define DRRL_TESTS_REF_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"
#include "tests/check.h"

/* ref_max_abs: max_i |x_i| over x (n); 0 for n = 0 */
static inline double ref_max_abs(const double *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* ref_dot: sum_i a_i b_i over a, b (n), summed in index order */
static inline double ref_dot(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ref_to_double: y (n) = x (n), exactly (every float is a double) */
static inline void ref_to_double(double *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i];
}

/* ref_fill_randn: x_i = offset + z_i * (lo + (hi - lo) u_i), z_i ~ N(0, 1), u_i ~ U[0, 1):
   non-uniform inputs (each element its own spread) */
static inline void ref_fill_randn(Rng *r, float *x, size_t n, double lo, double hi,
                                  double offset) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(offset + rng_normal(r) * (lo + (hi - lo) * rng_uniform(r)));
}

/* ref_linear: y (M, O) = x (M, K) W^T + b with W (O, K) row-major (the nn/linear.h layout),
   b (O) or NULL for no bias; acc = b_o + sum_k x_mk W_ok in index order */
static inline void ref_linear(double *y, const double *x, const double *W, const double *b,
                              int M, int K, int O) {
    for (int m = 0; m < M; m++)
        for (int o = 0; o < O; o++) {
            double acc = b ? b[o] : 0.0;
            for (int k = 0; k < K; k++) acc += x[(size_t)m * K + k] * W[(size_t)o * K + k];
            y[(size_t)m * O + o] = acc;
        }
}

/* ref_matmul: y (M, O) = x (M, K) A with A (K, O) row-major; acc = sum_k x_mk A_ko in index
   order (K, not I: <complex.h>, which lapacke.h includes, defines I) */
static inline void ref_matmul(double *y, const double *x, const double *A, int M, int K, int O) {
    for (int m = 0; m < M; m++)
        for (int o = 0; o < O; o++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) acc += x[(size_t)m * K + k] * A[(size_t)k * O + o];
            y[(size_t)m * O + o] = acc;
        }
}

/* ref_layernorm: per row m of x (M, C): mu = sum_c x / C, var = sum_c (x - mu)^2 / C,
   y (M, C) = (x - mu) / sqrt(var + eps) * w + b, w, b (C) */
static inline void ref_layernorm(double *y, const double *x, const double *w, const double *b,
                                 int M, int C, double eps) {
    for (int m = 0; m < M; m++) {
        const double *xr = x + (size_t)m * C;
        double mu = 0, var = 0;
        for (int c = 0; c < C; c++) mu += xr[c];
        mu /= C;
        for (int c = 0; c < C; c++) var += (xr[c] - mu) * (xr[c] - mu);
        var /= C;
        double rs = 1.0 / sqrt(var + eps);
        for (int c = 0; c < C; c++) y[(size_t)m * C + c] = (xr[c] - mu) * rs * w[c] + b[c];
    }
}

/* ref_attention: out (B, N, C = H dh) of masked multi-head attention on q, k, v (B, N, C),
   head h in columns [h dh, (h + 1) dh):
     s_ij = q_i . k_j / sqrt(dh),  P_ij = m_j exp(s_ij - max_{j': m_j'} s_ij') / sum_j (...),
     out_i = sum_j P_ij pm_ij v_j
   m = mask (B, N) of keys (1 = present; NULL: all present; a row without a present key gets
   P = 0), P (B, H, N, N) the probabilities (before pm) or NULL, pm (B, H, N, N) a multiplier
   on P (dropout) or NULL, s (N) scratch. */
static inline void ref_attention(double *out, double *P, const double *q, const double *k,
                                 const double *v, const uint8_t *mask, const double *pm,
                                 double *s, int B, int N, int H, int dh) {
    const int C = H * dh;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < N; j++) {
                    double d = 0;
                    for (int c = 0; c < dh; c++)
                        d += q[((size_t)b * N + i) * C + h * dh + c] *
                             k[((size_t)b * N + j) * C + h * dh + c];
                    s[j] = d / sqrt((double)dh);
                    if ((!mask || mask[b * N + j]) && s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < N; j++) {
                    s[j] = (!mask || mask[b * N + j]) && mx > -INFINITY ? exp(s[j] - mx) : 0.0;
                    sum += s[j];
                }
                for (int j = 0; j < N; j++) {
                    size_t at = (((size_t)b * H + h) * N + i) * N + j;
                    s[j] = sum > 0 ? s[j] / sum : 0.0;
                    if (P) P[at] = s[j];
                    if (pm) s[j] *= pm[at];
                }
                for (int c = 0; c < dh; c++) {
                    double o = 0;
                    for (int j = 0; j < N; j++) o += s[j] * v[((size_t)b * N + j) * C + h * dh + c];
                    out[((size_t)b * N + i) * C + h * dh + c] = o;
                }
            }
}

/* ref_check_vec: a float result a (n) against its double reference b (n):
   |a_i - b_i| <= rtol * max(|b_i|, scale), scale = max(frac * max_j |b_j|, floor_).
   One CHECK per failing element (the first three) and one for the whole vector; returns the
   worst |a_i - b_i| / max(|b_i|, scale). */
static inline double ref_check_vec(const char *what, const float *a, const double *b, size_t n,
                                   double rtol, double frac, double floor_) {
    double scale = fmax(frac * ref_max_abs(b, n), floor_), worst = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double tol = rtol * fmax(fabs(b[i]), scale);
        double err = fabs((double)a[i] - b[i]);
        worst = fmax(worst, err / fmax(fabs(b[i]), scale));
        if (!(err <= tol) && bad++ < 3)
            CHECK(0, "%s[%zu]: got %.9g, expected %.9g (tol %.3g)", what, i, (double)a[i], b[i],
                  tol);
    }
    CHECK(bad == 0, "%s: %d of %zu elements off", what, bad, n);
    return worst;
}

/* ref_check_scaled: |a_i - b_i| <= rtol |b_i| + atol scale for every i (scale: the tensor's,
   given by the caller); one CHECK per failing element (the first three) and one for the
   whole vector; returns the worst error / its limit (the PyTorch comparisons of the models) */
static inline double ref_check_scaled(const char *what, const float *a, const double *b,
                                      size_t n, double scale, double rtol, double atol) {
    double worst = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const double err = fabs((double)a[i] - b[i]), lim = rtol * fabs(b[i]) + atol * scale;
        const double r = lim > 0 ? err / lim : (err > 0 ? INFINITY : 0);
        worst = r > worst ? r : worst;
        if (err > lim && bad++ < 3)
            CHECK(0, "%s[%zu]: ours %.9g, reference %.9g", what, i, (double)a[i], b[i]);
    }
    CHECK(bad == 0, "%s: %d of %zu elements outside tolerance", what, bad, n);
    return worst;
}

#endif
