/* linear.h: fully connected layer, out = inp @ W^T + b, with W stored (OC, C) as in
 * PyTorch nn.Linear / BERT checkpoints (converted weights map one to one). */
#ifndef DRRL_NN_LINEAR_H
#define DRRL_NN_LINEAR_H

#include <stdint.h>

/* linear_forward: out[m][o] = b[o] + sum_c inp[m][c] * W[o][c]. b may be NULL (no bias).
 * out must not alias inp. One cblas_sgemm; do not call from inside an omp parallel region. */
void linear_forward(float *out /* (M, OC) */, const float *inp /* (M, C) */,
                    const float *W /* (OC, C) */, const float *b /* (OC) or NULL */,
                    int M, int C, int OC);

/* linear_backward: ACCUMULATES (+=)
 *   dinp += dout @ W          (M, C)
 *   dW   += dout^T @ inp      (OC, C)
 *   db   += column sums of dout (OC)
 * Any of dinp, dW, db may be NULL to skip that gradient (frozen weights, first layer). */
void linear_backward(float *dinp /* (M, C) or NULL */, float *dW /* (OC, C) or NULL */,
                     float *db /* (OC) or NULL */, const float *dout /* (M, OC) */,
                     const float *inp /* (M, C) */, const float *W /* (OC, C) */,
                     int M, int C, int OC);

/* linear_flops: multiply-add FLOPs of the forward matmul, 2*M*C*OC (no bias). */
int64_t linear_flops(int64_t M, int64_t C, int64_t OC);
/* linear_bias_flops: the bias add, M*OC; add it to linear_flops when the layer has a bias. */
int64_t linear_bias_flops(int64_t M, int64_t OC);

#endif
