/* softmax.c: row-wise softmax with an optional column (key) mask, forward and backward.
 *
 * Forward, per row x (cols) with keep set K = {j : mask[j] = 1}:
 *   y_j = exp(x_j - max_K x) / sum_{k in K} exp(x_k - max_K x)  for j in K,  y_j = 0 otherwise.
 * Subtracting the row max keeps exp in range (largest term is exp(0) = 1, so sum >= 1).
 * An all-masked row (K empty) gives y = 0.
 * Backward (Jacobian dy_j/dx_i = y_j (delta_ij - y_i)):
 *   dL/dx_i = y_i (g_i - sum_j g_j y_j);  masked columns have y_i = 0 -> exactly 0.
 * Rows are independent and run in parallel (OpenMP) when the work is large. */
#include "nn/softmax.h"

#include <math.h>
#include <stddef.h>

#define SM_PAR_MIN 32768 /* rows*cols below which a parallel region does not pay */

void softmax_forward(float *out /* (rows, cols) */, const float *inp /* (rows, cols) */,
                     const uint8_t *mask /* (ceil(rows / group_rows), cols) or NULL */,
                     int rows, int cols, int group_rows) {
    if (rows <= 0 || cols <= 0) return;
    if (group_rows < 1) group_rows = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)rows * (size_t)cols >= SM_PAR_MIN)
#endif
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * cols;
        float *y = out + (size_t)r * cols;
        const uint8_t *mk = mask ? mask + (size_t)(r / group_rows) * cols : NULL;
        float mx = -INFINITY;
        int any = 0;
        for (int j = 0; j < cols; j++) {
            if (mk && !mk[j]) continue;
            if (!any || x[j] > mx) mx = x[j];
            any = 1;
        }
        if (!any) {
            for (int j = 0; j < cols; j++) y[j] = 0.0f;
            continue;
        }
        float sum = 0.0f;
        for (int j = 0; j < cols; j++) {
            /* read x[j] before writing y[j]: out may alias inp */
            float v = (mk && !mk[j]) ? 0.0f : expf(x[j] - mx);
            y[j] = v;
            sum += v;
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < cols; j++) y[j] *= inv;
    }
}

void softmax_backward(float *dinp /* (rows, cols) */, const float *dout /* (rows, cols) */,
                      const float *out /* (rows, cols) */, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)rows * (size_t)cols >= SM_PAR_MIN)
#endif
    for (int r = 0; r < rows; r++) {
        const float *g = dout + (size_t)r * cols;
        const float *y = out + (size_t)r * cols;
        float *dx = dinp + (size_t)r * cols;
        float dot = 0.0f;
        for (int j = 0; j < cols; j++) dot += g[j] * y[j];
        for (int j = 0; j < cols; j++) dx[j] += y[j] * (g[j] - dot);
    }
}
