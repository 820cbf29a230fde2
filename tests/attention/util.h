/* util.h: shared helpers of the attention tests: random MHSA weights, LayerNorm-shaped
 * inputs with a few dominant directions (as hidden states of a trained encoder have),
 * padding masks and relative errors. Header-only (static functions), test code only. */
#ifndef DRRL_TESTS_ATTENTION_UTIL_H
#define DRRL_TESTS_ATTENTION_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/mhsa.h"

/* tu_params: weights ~ N(0, wscale^2 / d), biases ~ N(0, bscale^2), into buf (4 d^2 + 4 d). */
static inline void tu_params(MhsaParams *p, float *buf, int d, Rng *r, float wscale,
                             float bscale) {
    mhsa_params_point(p, buf, d);
    float *w[4] = {p->wq, p->wk, p->wv, p->wo}, *b[4] = {p->bq, p->bk, p->bv, p->bo};
    for (int t = 0; t < 4; t++) {
        for (size_t i = 0; i < (size_t)d * d; i++)
            w[t][i] = (float)(rng_normal(r) * wscale / sqrt((double)d));
        for (int i = 0; i < d; i++) b[t][i] = (float)(rng_normal(r) * bscale);
    }
}

/* tu_ln_inputs: x (B, N, d) = gamma .* LN(z) + beta with z = s G + 0.3 n + mu, s ~ N(0, I_k)
   (k latent directions G (k, d) ~ N(0, 1)), n ~ N(0, I_d), mu ~ N(0, 1) a fixed offset;
   gamma ~ 1 + 0.2 N(0,1), beta ~ 0.1 N(0, 1) drawn from seed `model_seed` (the same for all
   inputs of one model), s and n from r. */
static inline void tu_ln_inputs(float *x, int B, int N, int d, int k, uint64_t model_seed,
                                Rng *r) {
    Rng mr;
    rng_init(&mr, model_seed, 77);
    double *G = malloc(sizeof(double) * (size_t)k * d), *mu = malloc(sizeof(double) * d);
    double *gamma = malloc(sizeof(double) * d), *beta = malloc(sizeof(double) * d);
    double *z = malloc(sizeof(double) * d);
    for (int i = 0; i < k * d; i++) G[i] = rng_normal(&mr);
    for (int i = 0; i < d; i++) {
        mu[i] = rng_normal(&mr);
        gamma[i] = 1.0 + 0.2 * rng_normal(&mr);
        beta[i] = 0.1 * rng_normal(&mr);
    }
    for (size_t t = 0; t < (size_t)B * N; t++) {
        for (int i = 0; i < d; i++) z[i] = mu[i] + 0.3 * rng_normal(r);
        for (int l = 0; l < k; l++) {
            double s = rng_normal(r);
            for (int i = 0; i < d; i++) z[i] += s * G[(size_t)l * d + i];
        }
        double m = 0, v = 0;
        for (int i = 0; i < d; i++) m += z[i];
        m /= d;
        for (int i = 0; i < d; i++) v += (z[i] - m) * (z[i] - m);
        v /= d;
        double is = 1.0 / sqrt(v + 1e-12);
        for (int i = 0; i < d; i++) x[t * d + i] = (float)(gamma[i] * (z[i] - m) * is + beta[i]);
    }
    free(G), free(mu), free(gamma), free(beta), free(z);
}

/* tu_gamma_beta: the gamma, beta tu_ln_inputs uses for model_seed (for the null vector). */
static inline void tu_gamma_beta(double *gamma, double *beta, int d, int k, uint64_t model_seed) {
    Rng mr;
    rng_init(&mr, model_seed, 77);
    for (int i = 0; i < k * d; i++) (void)rng_normal(&mr);
    for (int i = 0; i < d; i++) {
        (void)rng_normal(&mr);
        gamma[i] = 1.0 + 0.2 * rng_normal(&mr);
        beta[i] = 0.1 * rng_normal(&mr);
    }
}

/* tu_normal: x[i] ~ N(0, s^2) */
static inline void tu_normal(float *x, size_t n, float s, Rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_normal(r) * s);
}

/* tu_rel_err: ||a - b||_F / ||b||_F over the rows (B*N of width d) whose mask is set
   (mask NULL: all rows) */
static inline double tu_rel_err(const float *a, const float *b, size_t rows, int d,
                                const int32_t *mask) {
    double num = 0, den = 0;
    for (size_t t = 0; t < rows; t++) {
        if (mask && !mask[t]) continue;
        for (int i = 0; i < d; i++) {
            double df = (double)a[t * d + i] - b[t * d + i];
            num += df * df;
            den += (double)b[t * d + i] * b[t * d + i];
        }
    }
    return sqrt(num / (den > 0 ? den : 1));
}

/* tu_mask: row b keeps its first len[b] tokens */
static inline void tu_mask(int32_t *m, int B, int N, const int *len) {
    for (int b = 0; b < B; b++)
        for (int i = 0; i < N; i++) m[(size_t)b * N + i] = i < len[b];
}

#endif
