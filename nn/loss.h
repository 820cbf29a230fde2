/* loss.h: softmax cross-entropy from logits with int32 class targets, mean reduction over
 * the examples whose target is not ignored (target == -1 means ignored). */
#ifndef DRRL_NN_LOSS_H
#define DRRL_NN_LOSS_H

#include <stdint.h>

#define CE_IGNORE (-1)

/* crossentropy_forward: for each row b, numerically stable log-softmax:
 *   probs[b][c] = exp(z_c - max) / sum_k exp(z_k - max)
 *   losses[b]   = log sum_k exp(z_k - max) + max - z_t   (0 for an ignored row)
 * Returns the mean loss over non-ignored rows (0 if all are ignored).
 * targets must be -1 or in [0, C) (asserted in debug builds). */
float crossentropy_forward(float *losses /* (B) */, float *probs /* (B, C) */,
                           const float *logits /* (B, C) */, const int32_t *targets /* (B) */,
                           int B, int C);

/* crossentropy_backward: gradient of dloss * mean loss:
 *   dlogits[b][c] += dloss * (probs[b][c] - [c == t_b]) / B_valid   for non-ignored b,
 * B_valid = number of non-ignored rows; ignored rows get nothing. ACCUMULATES. */
void crossentropy_backward(float *dlogits /* (B, C) */, const float *probs /* (B, C) */,
                           const int32_t *targets /* (B) */, float dloss, int B, int C);

#endif
