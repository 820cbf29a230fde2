/* bench_model.h: the random layer drrl-bench times: seeded MHSA weights and biases
 * N(0, wstd^2), LayerNorm-shaped inputs, the plain and whitened weight-level factors (the
 * whitened ones from the second moment of a separate calibration draw of the same input
 * distribution) and their perturbation-bound layers (attention/bound.h).
 *
 * Inputs: x = gamma .* (z - mean(z)) / std(z) + beta per token, with
 * z = mu + sum_{l<8} s_l g_l + 0.3 n  (8 fixed latent directions g_l ~ N(0, I), s ~ N(0, 1),
 * noise n ~ N(0, I), a fixed offset mu ~ N(0, I)), gamma ~ 1 + 0.2 N(0, 1), beta ~ 0.1 N(0, 1)
 * fixed per model: a few dominant directions, as hidden states of a trained encoder have. */
#ifndef DRRL_BENCH_MODEL_H
#define DRRL_BENCH_MODEL_H

#include <stdint.h>

#include "attention/bound.h"
#include "attention/factors.h"
#include "core/err.h"
#include "core/mem.h"
#include "nn/mhsa.h"

#define BENCH_LATENT 8
#define BENCH_CALIB_TOKENS 4096

typedef struct {
    int d, H;
    uint64_t seed;
    float *pbuf;               /* the parameters, p points into it */
    MhsaParams p;
    double *G, *mu, *gamma, *beta; /* (BENCH_LATENT, d), (d), (d), (d): the input distribution */
    AttnFactors plain, whitened;
    BoundLayer bound[2];       /* [0] plain, [1] whitened */
    MemPlan plan;              /* the bound layers' arrays */
} BenchModel;

/* bench_model_init: draw the layer and input distribution from seed, estimate the moment on
   BENCH_CALIB_TOKENS calibration tokens, compute both factor kinds and their bound layers. */
Status bench_model_init(BenchModel *m, int d, int H, double wstd, uint64_t seed, Err *e);
void bench_model_free(BenchModel *m);

/* bench_model_inputs: x (n_tokens, d) drawn from the input distribution with stream id. */
void bench_model_inputs(const BenchModel *m, float *x, size_t n_tokens, uint64_t stream);

#endif
