/* dropout.h: inverted dropout. Training: each element is kept with probability 1 - p and
 * scaled by 1 / (1 - p), otherwise zeroed; the keep mask is written so that backward reuses
 * it. p == 0 or eval mode is the identity (out = inp, mask all DROPOUT_PASS, no random
 * numbers drawn), and backward through such a mask is the identity whatever p it is given. */
#ifndef DRRL_NN_DROPOUT_H
#define DRRL_NN_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

/* mask values (nonzero = the element survives) */
#define DROPOUT_DROP 0 /* dropped: y = 0, no gradient */
#define DROPOUT_KEEP 1 /* kept in training: y = x / (1 - p) */
#define DROPOUT_PASS 2 /* identity (eval mode or p == 0): y = x */

/* dropout_forward: mask[i] = u_i >= p ? DROPOUT_KEEP : DROPOUT_DROP with u_i = rng_uniformf(rng)
 * drawn in index order (same Rng state -> same mask); out[i] = mask[i] ? inp[i] / (1 - p) : 0.
 * 0 <= p <= 1 (p == 1 drops everything). training == 0 is the identity. mask may be NULL
 * only when no backward follows; rng may be NULL in the identity case. out may alias inp. */
void dropout_forward(float *out /* (n) */, uint8_t *mask /* (n) or NULL */,
                     const float *inp /* (n) */, float p, int training, Rng *rng, size_t n);

/* dropout_backward: ACCUMULATES dinp += dout / (1 - p) where mask == DROPOUT_KEEP,
 * dinp += dout where mask == DROPOUT_PASS (or mask == NULL), nothing where dropped.
 * Pass the same p as the forward. */
void dropout_backward(float *dinp /* (n) */, const float *dout /* (n) */,
                      const uint8_t *mask /* (n) or NULL */, float p, size_t n);

#endif
