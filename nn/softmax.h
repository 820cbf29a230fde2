/* softmax.h: row-wise softmax over the last dimension with an optional column (key) mask.
 * Rows are grouped: rows [g*group_rows, (g+1)*group_rows) share mask row g (length cols),
 * e.g. attention probabilities (B, H, N, N) with a key mask (B, N): group_rows = H*N.
 * mask[j] = 1 keeps column j, 0 masks it out (probability exactly 0, gradient 0). A row whose
 * columns are all masked produces all zeros (and zero gradient). */
#ifndef DRRL_NN_SOFTMAX_H
#define DRRL_NN_SOFTMAX_H

#include <stdint.h>

/* softmax_forward: out[r][j] = mask ? exp(x_j - max) / sum_k exp(x_k - max) over kept k.
 * mask may be NULL (everything kept; group_rows then ignored). out may alias inp.
 * group_rows >= 1 when mask != NULL; mask holds rows / group_rows (rounded up) rows. */
void softmax_forward(float *out /* (rows, cols) */, const float *inp /* (rows, cols) */,
                     const uint8_t *mask /* (ceil(rows / group_rows), cols) or NULL */,
                     int rows, int cols, int group_rows);

/* softmax_backward: ACCUMULATES dinp += y * (dout - sum_k dout_k y_k) per row, using the
 * forward OUTPUT y. Masked columns have y = 0 and so get exactly 0 gradient; no mask needed. */
void softmax_backward(float *dinp /* (rows, cols) */, const float *dout /* (rows, cols) */,
                      const float *out /* (rows, cols) */, int rows, int cols);

#endif
