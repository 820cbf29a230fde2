/* bench_model.c: drrl-bench's random layer, its LayerNorm-shaped inputs, the calibration
 * moment, the plain and whitened factors and their bound layers (bench_model.h). */
#include "bench/bench_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/moment.h"
#include "core/rng.h"

#define STREAM_PARAMS 1
#define STREAM_DIST 2
#define STREAM_CALIB 3

void bench_model_inputs(const BenchModel *m, float *x, size_t n_tokens, uint64_t stream) {
    const int d = m->d;
    Rng r;
    rng_init(&r, m->seed, stream);
    double *z = malloc(sizeof(double) * (size_t)d);
    if (!z) abort();
    for (size_t t = 0; t < n_tokens; t++) {
        for (int i = 0; i < d; i++) z[i] = m->mu[i] + 0.3 * rng_normal(&r);
        for (int l = 0; l < BENCH_LATENT; l++) {
            double s = rng_normal(&r);
            const double *g = m->G + (size_t)l * d;
            for (int i = 0; i < d; i++) z[i] += s * g[i];
        }
        double mean = 0, var = 0;
        for (int i = 0; i < d; i++) mean += z[i];
        mean /= d;
        for (int i = 0; i < d; i++) var += (z[i] - mean) * (z[i] - mean);
        var /= d;
        const double is = 1.0 / sqrt(var + 1e-12);
        float *xt = x + t * d;
        for (int i = 0; i < d; i++) xt[i] = (float)(m->gamma[i] * (z[i] - mean) * is + m->beta[i]);
    }
    free(z);
}

/* whiten: the whitened factors from the moment of BENCH_CALIB_TOKENS calibration tokens. */
static Status whiten(BenchModel *m, Err *e) {
    const int d = m->d, D = d + 1;
    AttnMoment mom;
    Status s = attn_moment_init(&mom, d, e);
    if (s) return s;
    float *cal = malloc(sizeof(float) * (size_t)BENCH_CALIB_TOKENS * d);
    double *M = malloc(sizeof(double) * D * D), *L = malloc(sizeof(double) * D * D);
    if (!cal || !M || !L) s = err_set(e, ST_NOMEM, "bench: out of memory (calibration)");
    if (!s) {
        bench_model_inputs(m, cal, BENCH_CALIB_TOKENS, STREAM_CALIB);
        attn_moment_add(&mom, cal, attn_mask_none(), 1, BENCH_CALIB_TOKENS);
        s = attn_moment_get(M, &mom, e);
    }
    if (!s) s = attn_whitener(L, M, d, ATTN_RIDGE_DEFAULT, e);
    if (!s) {
        char hash[65];
        attn_moment_hash(hash, M, d, ATTN_RIDGE_DEFAULT);
        s = attn_factors_compute(&m->whitened, &m->p, L, ATTN_RIDGE_DEFAULT, hash, e);
    }
    attn_moment_free(&mom);
    free(cal), free(M), free(L);
    return s;
}

Status bench_model_init(BenchModel *m, int d, int H, double wstd, uint64_t seed, Err *e) {
    memset(m, 0, sizeof *m);
    m->d = d, m->H = H, m->seed = seed;
    size_t sizes[MHSA_NPARAMS];
    const size_t np = mhsa_param_sizes(sizes, d);
    m->pbuf = malloc(sizeof(float) * np);
    m->G = malloc(sizeof(double) * (size_t)BENCH_LATENT * d);
    m->mu = malloc(sizeof(double) * d);
    m->gamma = malloc(sizeof(double) * d);
    m->beta = malloc(sizeof(double) * d);
    if (!m->pbuf || !m->G || !m->mu || !m->gamma || !m->beta)
        return err_set(e, ST_NOMEM, "bench: out of memory (layer)");
    Rng r;
    rng_init(&r, seed, STREAM_PARAMS);
    for (size_t i = 0; i < np; i++) m->pbuf[i] = (float)(wstd * rng_normal(&r));
    mhsa_params_point(&m->p, m->pbuf, d);
    rng_init(&r, seed, STREAM_DIST);
    for (int i = 0; i < BENCH_LATENT * d; i++) m->G[i] = rng_normal(&r);
    for (int i = 0; i < d; i++) {
        m->mu[i] = rng_normal(&r);
        m->gamma[i] = 1.0 + 0.2 * rng_normal(&r);
        m->beta[i] = 0.1 * rng_normal(&r);
    }
    Status s = attn_factors_init(&m->plain, d, H, e);
    if (!s) s = attn_factors_init(&m->whitened, d, H, e);
    if (!s) s = attn_factors_compute(&m->plain, &m->p, NULL, 0.0, NULL, e);
    if (!s) s = whiten(m, e);
    if (s) return s;
    mem_plan_init(&m->plan);
    for (int k = 0; k < 2; k++) bound_layer_plan(&m->plan, &m->bound[k], d, H, d / H);
    s = mem_plan_alloc(&m->plan, e);
    const AttnFactors *f[2] = {&m->plain, &m->whitened};
    for (int k = 0; k < 2 && !s; k++) {
        BoundFactors bf = bound_factors_attn(f[k]);
        s = bound_layer_prepare(&m->bound[k], &bf, e);
    }
    return s;
}

void bench_model_free(BenchModel *m) {
    attn_factors_free(&m->plain);
    attn_factors_free(&m->whitened);
    mem_plan_free(&m->plan);
    free(m->pbuf), free(m->G), free(m->mu), free(m->gamma), free(m->beta);
    memset(m, 0, sizeof *m);
}
