/* util.h: shared helpers of the attention tests: random MHSA weights, LayerNorm-shaped
 * inputs with a few dominant directions (as hidden states of a trained encoder have),
 * padding masks and relative errors; one layer case (TuCase: weights, inputs, mask) with the
 * exact layer nn/mhsa as its reference (TuRef), the padded-positions check, and a store file
 * in a temporary folder. Header-only (static functions), test code only. */
#ifndef DRRL_TESTS_ATTENTION_UTIL_H
#define DRRL_TESTS_ATTENTION_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "core/rng.h"
#include "core/store.h"
#include "nn/mhsa.h"
#include "tests/check.h"

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

/* tu_params_new: tu_params into a new buffer (4 d^2 + 4 d floats, the caller frees it) */
static inline float *tu_params_new(MhsaParams *p, int d, Rng *r, float wscale, float bscale) {
    size_t sz[MHSA_NPARAMS];
    float *buf = malloc(sizeof(float) * mhsa_param_sizes(sz, d));
    tu_params(p, buf, d, r, wscale, bscale);
    return buf;
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

/* TuCase: one attention layer case: weights p (tu_params, scales 1 and 0.5) then inputs
   x (B, N, d) (tu_ln_inputs, 8 directions, model seed `seed`) drawn from r seeded (seed, 1);
   mask (B, N) keeps the first len[b] tokens of row b; outputs y, yref (B, N, d). */
typedef struct {
    int B, N, d, H;
    float *pbuf, *x, *y, *yref;
    int32_t *mask;
    MhsaParams p;
} TuCase;

static inline void tu_case_init(TuCase *c, Rng *r, int B, int N, int d, int H, uint64_t seed,
                                const int *len) {
    c->B = B, c->N = N, c->d = d, c->H = H;
    rng_init(r, seed, 1);
    c->pbuf = tu_params_new(&c->p, d, r, 1.0f, 0.5f);
    const size_t bnd = (size_t)B * N * d;
    c->x = malloc(sizeof(float) * bnd);
    c->y = malloc(sizeof(float) * bnd);
    c->yref = malloc(sizeof(float) * bnd);
    tu_ln_inputs(c->x, B, N, d, 8, seed, r);
    c->mask = malloc(sizeof(int32_t) * B * N);
    tu_mask(c->mask, B, N, len);
}

static inline void tu_case_free(TuCase *c) {
    free(c->pbuf), free(c->x), free(c->y), free(c->yref), free(c->mask);
}

/* TuRef: the exact layer (nn/mhsa's mhsa_forward, itself checked against PyTorch) planned for
   a case's sizes: the reference of the attention layers */
typedef struct {
    MemPlan plan;
    MhsaActs acts;
} TuRef;

/* tu_ref_init: plans and allocates the reference for c (one CHECK) */
static inline void tu_ref_init(TuRef *ref, const TuCase *c) {
    mem_plan_init(&ref->plan);
    mhsa_plan(&ref->plan, &ref->acts, NULL, "ref", c->B, c->N, c->d, c->H,
              attention_max_threads(), 0);
    Err e;
    CHECK(mem_plan_alloc(&ref->plan, &e) == ST_OK, "alloc");
}

/* tu_ref_forward: y (B, N, d) = the exact layer on c's inputs and weights under mask */
static inline void tu_ref_forward(TuRef *ref, const TuCase *c, float *y, AttnMask mask) {
    mhsa_forward(y, &ref->acts, c->x, mask, &c->p, c->B, c->N, c->d, c->H);
}

static inline void tu_ref_free(TuRef *ref) { mem_plan_free(&ref->plan); }

/* tu_reference: y = the exact layer on c under mask, planned for this one call */
static inline void tu_reference(const TuCase *c, float *y, AttnMask mask) {
    TuRef ref;
    tu_ref_init(&ref, c);
    tu_ref_forward(&ref, c, y, mask);
    tu_ref_free(&ref);
}

/* tu_perturb_padded: the rows of x (rows, d) whose mask is 0 redrawn as N(0, scale^2) from r */
static inline void tu_perturb_padded(float *x, const int32_t *mask, size_t rows, int d,
                                     double scale, Rng *r) {
    for (size_t t = 0; t < rows; t++)
        if (!mask[t])
            for (int i = 0; i < d; i++) x[t * d + i] = (float)(scale * rng_normal(r));
}

/* tu_real_rows_same: whether the rows of a and b (rows, d) whose mask is set are equal bit for
   bit (padded positions must not reach real outputs) */
static inline int tu_real_rows_same(const float *a, const float *b, const int32_t *mask,
                                    size_t rows, int d) {
    for (size_t t = 0; t < rows; t++)
        if (mask[t] && memcmp(a + t * d, b + t * d, sizeof(float) * d) != 0) return 0;
    return 1;
}

/* tu_tmp_store: creates the folder dir (a mkdtemp template, filled in) and in it a new store
   file (format, version) named file, its path in path (cap bytes); two CHECKs.
   tu_tmp_remove removes them again once st is closed. */
static inline void tu_tmp_store(Store **st, char *dir, char *path, size_t cap, const char *file,
                                const char *format, int version) {
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, cap, "%s/%s", dir, file);
    Err e;
    CHECK(store_create(st, path, format, version, &e) == ST_OK, "%s", e.msg);
}

static inline void tu_tmp_remove(const char *path, const char *dir) {
    unlink(path);
    rmdir(dir);
}

#endif
