/* conv1d.h: a depthwise 1-D convolution along the sequence, over (B, N, C) activations with a
 * key mask: the frozen model's convolutional position encoding (model/bert.h,
 * BERT_POS_CONV). Each channel c is convolved with its own kernel of odd width k, centred
 * ("same" output length, zero padding), with masked (padded) tokens zeroed in the input:
 *
 *   y[b, n, c] = bias[c] + sum_{j=0}^{k-1} w[j, c] * m[b, t] * x[b, t, c],   t = n + j - h,
 *
 * h = (k - 1) / 2, m the mask (1 real, 0 padding; NULL: every token real) and terms with
 * t outside [0, N) zero. The causal variant (a decoder's positions: no output depends on a
 * later token) has h = k - 1, so tap j reads t = n - (k - 1) + j <= n; k may be even there. This is torch.nn.functional.conv1d(x^T * m, weight, bias,
 * padding = h, groups = C) with torch's weight[c, 0, j] = w[j, c] (cross-correlation, no
 * kernel flip). The output does not depend on the values of masked inputs, and with the
 * padding at the end of a row, a row's output at its real tokens does not depend on how
 * long the padded row is (N): the layer applies unchanged at any length.
 *
 * Backward (L a scalar, g = dL/dy):
 *   dL/dx[b, t, c] = m[b, t] * sum_j w[j, c] g[b, t - j + h, c]   (0 <= t - j + h < N)
 *   dL/dw[j, c]    = sum_{b, n} g[b, n, c] m[b, t] x[b, t, c]     (t = n + j - h in [0, N))
 *   dL/dbias[c]    = sum_{b, n} g[b, n, c]
 * Every output row is computed by one thread in a fixed order and the weight gradient is
 * summed per channel block in a fixed order, so results do not depend on the thread count.
 * FLOPs: 2 k C per token (uncounted by the model: embedding-stage work, < 1% of a layer). */
#ifndef DRRL_NN_CONV1D_H
#define DRRL_NN_CONV1D_H

#include <stdint.h>

/* conv1d_reach: h, the taps reaching before the output position: (k - 1) / 2, or k - 1 for
 * the causal variant. */
int conv1d_reach(int k, int causal);

/* conv1d_dw_forward: y = the convolution above, centred (causal 0; k odd, >= 1) or causal
 * (causal 1; k >= 1). y must not alias x. */
void conv1d_dw_forward(float *y /* (B, N, C) */, const float *x /* (B, N, C) */,
                       const uint8_t *mask /* (B, N) or NULL */, const float *w /* (k, C) */,
                       const float *bias /* (C) */, int B, int N, int C, int k, int causal);

/* conv1d_dw_backward: ACCUMULATES dL/dx into dx, dL/dw into dw and dL/dbias into dbias,
 * from dy = dL/dy; any of dx, dw, dbias may be NULL (not wanted). dx must not alias dy.
 * Masked tokens get no input gradient (dx += 0 there). */
void conv1d_dw_backward(float *dx /* (B, N, C) or NULL */, float *dw /* (k, C) or NULL */,
                        float *dbias /* (C) or NULL */, const float *dy /* (B, N, C) */,
                        const float *x /* (B, N, C) */, const uint8_t *mask /* (B, N) or NULL */,
                        const float *w /* (k, C) */, int B, int N, int C, int k,
                        int causal);

#endif
