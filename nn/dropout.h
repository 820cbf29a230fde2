/* dropout.h: inverted dropout. Training: each element is kept with probability 1 - p and
 * scaled by 1 / (1 - p), otherwise zeroed; the keep mask is written so that backward reuses
 * it. p == 0 or eval mode is the identity (out = inp, mask all 1, no random numbers drawn). */
#ifndef DRRL_NN_DROPOUT_H
#define DRRL_NN_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

/* dropout_forward: out[i] = mask[i] ? inp[i] / (1 - p) : 0, mask[i] = (u_i >= p) with
 * u_i = rng_uniformf(rng) drawn in index order (same Rng state -> same mask).
 * 0 <= p <= 1 (p == 1 drops everything). training == 0 is the identity. mask may be NULL
 * only when no backward follows; rng may be NULL in the identity case. out may alias inp. */
void dropout_forward(float *out /* (n) */, uint8_t *mask /* (n) or NULL */,
                     const float *inp /* (n) */, float p, int training, Rng *rng, size_t n);

/* dropout_backward: ACCUMULATES dinp += dout * mask / (1 - p) (mask NULL = identity). */
void dropout_backward(float *dinp /* (n) */, const float *dout /* (n) */,
                      const uint8_t *mask /* (n) or NULL */, float p, size_t n);

#endif
