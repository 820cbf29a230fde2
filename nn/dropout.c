/* dropout.c: inverted dropout on flat arrays.
 * Training with drop probability p: mask_i ~ Bernoulli(1 - p) (mask_i = [u_i >= p],
 * u_i = rng_uniformf in index order, so the same Rng state gives the same mask), and
 *   y_i = mask_i x_i / (1 - p),        E[y_i] = x_i;
 *   dL/dx_i = mask_i g_i / (1 - p)     (backward reuses the stored mask).
 * p == 0 or eval mode: y = x, mask = DROPOUT_PASS everywhere (backward then passes dout
 * through unscaled even if given p > 0), no random numbers are consumed.
 * p == 1: everything is dropped (scale taken as 0, no division by zero).
 * The loop is serial: the mask depends on the order random numbers are drawn. */
#include "nn/dropout.h"

#include <assert.h>
#include <string.h>

static float keep_scale(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }

void dropout_forward(float *out /* (n) */, uint8_t *mask /* (n) or NULL */,
                     const float *inp /* (n) */, float p, int training, Rng *rng, size_t n) {
    if (!training || p <= 0.0f) {
        if (out != inp) memmove(out, inp, n * sizeof(float));
        if (mask) memset(mask, DROPOUT_PASS, n);
        return;
    }
    assert(rng != NULL);
    float s = keep_scale(p);
    for (size_t i = 0; i < n; i++) {
        uint8_t k = rng_uniformf(rng) >= p ? DROPOUT_KEEP : DROPOUT_DROP;
        if (mask) mask[i] = k;
        out[i] = k ? inp[i] * s : 0.0f;
    }
}

void dropout_backward(float *dinp /* (n) */, const float *dout /* (n) */,
                      const uint8_t *mask /* (n) or NULL */, float p, size_t n) {
    if (!mask) {
        for (size_t i = 0; i < n; i++) dinp[i] += dout[i];
        return;
    }
    float s = p > 0.0f ? keep_scale(p) : 1.0f;
    for (size_t i = 0; i < n; i++) {
        if (mask[i] == DROPOUT_KEEP)
            dinp[i] += dout[i] * s;
        else if (mask[i] == DROPOUT_PASS)
            dinp[i] += dout[i];
    }
}
