/* activation.c: elementwise GELU (exact erf form and tanh approximation) and tanh, forward and
 * backward.
 *
 * GELU (BERT, torch default approximate='none'):
 *   y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2),
 *   dy/dx = Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
 * Phi is computed from erfc, not from libm's erff (a call per element, which does not
 * vectorise: 3.0 ns per element against 1.3 here, and it loses the negative tail, where
 * 1 + erf cancels): with a = |x| / sqrt 2, t = 1 / (1 + a / 2),
 *   erfc(a) = t exp(-a^2 + P(t)),  P the degree-9 polynomial of Numerical Recipes (Press et
 *   al., 6.2; fractional error below 1.2e-7 for every a >= 0),
 *   Phi(x) = erfc(a) / 2 for x < 0, 1 - erfc(a) / 2 otherwise,
 * with nn/fastexp.h's exp (its argument is <= 0 up to rounding). Against double erf, GELU's
 * error measured over [-10, 10] (4M points): at most 3.8e-7 absolute (erff's form: 4.5e-7) and
 * 1.9e-6 relative where |y| > 1e-6 |x| (erff's form: 1.4e-2, in the negative tail).
 * GELU, tanh approximation (GPT-2's "gelu_new", torch approximate='tanh'):
 *   u = sqrt(2 / pi) (x + 0.044715 x^3),  y = 0.5 x (1 + tanh u),
 *   dy/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2 / pi) (1 + 3 * 0.044715 x^2).
 * tanh:
 *   y = tanh(x),  dy/dx = 1 - y^2 (computed from the saved output y).
 * Backward functions accumulate: dinp += dout * dy/dx. Large arrays run in parallel. */
#include "nn/activation.h"

#include <math.h>

#include "nn/fastexp.h"

#define ACT_PAR_MIN 65536 /* elements below which a parallel region does not pay */

static const float k_inv_sqrt2 = 0.70710678118654752440f;    /* 1 / sqrt(2) */
static const float k_inv_sqrt2pi = 0.39894228040143267794f;  /* 1 / sqrt(2 pi) */

/* Phi(x), the standard normal CDF, by the erfc form above (branch-free: vectorises) */
static inline float gelu_phi(float x) {
    const float a = fabsf(x) * k_inv_sqrt2, t = 1.0f / (1.0f + 0.5f * a);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const float h = 0.5f * t * fastexp_neg(p - a * a); /* erfc(a) / 2 */
    return x < 0.0f ? h : 1.0f - h;
}

void gelu_forward(float *out /* (n) */, const float *inp /* (n) */, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= ACT_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = x * gelu_phi(x);
    }
}

void gelu_backward(float *dinp /* (n) */, const float *dout /* (n) */,
                   const float *inp /* (n) */, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= ACT_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = gelu_phi(x);
        float pdf = k_inv_sqrt2pi * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

static const float k_sqrt2_pi = 0.79788456080286535588f; /* sqrt(2 / pi) */
static const float k_gelu_c = 0.044715f;

void gelu_tanh_forward(float *out /* (n) */, const float *inp /* (n) */, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= ACT_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(k_sqrt2_pi * (x + k_gelu_c * x * x * x)));
    }
}

void gelu_tanh_backward(float *dinp /* (n) */, const float *dout /* (n) */,
                        const float *inp /* (n) */, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= ACT_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float t = tanhf(k_sqrt2_pi * (x + k_gelu_c * x * x * x));
        float du = k_sqrt2_pi * (1.0f + 3.0f * k_gelu_c * x * x);
        dinp[i] += dout[i] * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
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
