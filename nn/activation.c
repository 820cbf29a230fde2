/* activation.c: elementwise GELU (exact erf form) and tanh, forward and backward.
 *
 * GELU (BERT, torch default approximate='none'):
 *   y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)),
 *   dy/dx = Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
 * tanh:
 *   y = tanh(x),  dy/dx = 1 - y^2 (computed from the saved output y).
 * Backward functions accumulate: dinp += dout * dy/dx. Large arrays run in parallel. */
#include "nn/activation.h"

#include <math.h>

#define ACT_PAR_MIN 65536 /* elements below which a parallel region does not pay */

static const float k_inv_sqrt2 = 0.70710678118654752440f;    /* 1 / sqrt(2) */
static const float k_inv_sqrt2pi = 0.39894228040143267794f;  /* 1 / sqrt(2 pi) */

void gelu_forward(float *out /* (n) */, const float *inp /* (n) */, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= ACT_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * k_inv_sqrt2));
    }
}

void gelu_backward(float *dinp /* (n) */, const float *dout /* (n) */,
                   const float *inp /* (n) */, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= ACT_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erff(x * k_inv_sqrt2));
        float pdf = k_inv_sqrt2pi * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

void tanh_forward(float *out /* (n) */, const float *inp /* (n) */, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= ACT_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) out[i] = tanhf(inp[i]);
}

void tanh_backward(float *dinp /* (n) */, const float *dout /* (n) */,
                   const float *out /* (n) */, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= ACT_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) {
        float y = out[i];
        dinp[i] += dout[i] * (1.0f - y * y);
    }
}
