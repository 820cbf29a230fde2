/* layernorm.c: layer normalisation over the last dimension C, forward and backward.
 *
 * Forward, per row x (C):
 *   mean = (1/C) sum_c x_c,  var = (1/C) sum_c (x_c - mean)^2 (biased, as torch),
 *   rstd = 1 / sqrt(var + eps),  xhat_c = (x_c - mean) rstd,  y_c = xhat_c w_c + b_c.
 * mean and var use double accumulation and two passes (no catastrophic cancellation).
 *
 * Backward, with g_c = dL/dy_c and dxhat_c = g_c w_c:
 *   dL/dx_c = rstd * (dxhat_c - mean_k(dxhat_k) - xhat_c * mean_k(dxhat_k xhat_k))
 *   dL/dw_c = sum_rows g_c xhat_c,   dL/db_c = sum_rows g_c.
 * Rows are independent and run in parallel (OpenMP) when the work is large; dw and db are
 * summed over rows serially afterwards (no races, deterministic). */
#include "nn/layernorm.h"

#include <math.h>
#include <stddef.h>

#define LN_PAR_MIN 32768 /* M*C below which a parallel region costs more than it saves */

void layernorm_forward(float *out /* (M, C) */, float *mean /* (M) or NULL */,
                       float *rstd /* (M) or NULL */, const float *inp /* (M, C) */,
                       const float *w /* (C) */, const float *b /* (C) */,
                       int M, int C, float eps) {
    if (M <= 0 || C <= 0) return;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)M * (size_t)C >= LN_PAR_MIN)
#endif
    for (int m = 0; m < M; m++) {
        const float *x = inp + (size_t)m * C;
        float *y = out + (size_t)m * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += x[c];
        double mu = s / C;
        double v = 0.0;
        for (int c = 0; c < C; c++) {
            double d = x[c] - mu;
            v += d * d;
        }
        v /= C;
        float r = (float)(1.0 / sqrt(v + (double)eps));
        float muf = (float)mu;
        for (int c = 0; c < C; c++) y[c] = (x[c] - muf) * r * w[c] + b[c];
        if (mean) mean[m] = muf;
        if (rstd) rstd[m] = r;
    }
}

void layernorm_backward(float *dinp /* (M, C) or NULL */, float *dw /* (C) or NULL */,
                        float *db /* (C) or NULL */, const float *dout /* (M, C) */,
                        const float *inp /* (M, C) */, const float *w /* (C) */,
                        const float *mean /* (M) */, const float *rstd /* (M) */,
                        int M, int C) {
    if (M <= 0 || C <= 0) return;
    if (dinp) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)M * (size_t)C >= LN_PAR_MIN)
#endif
        for (int m = 0; m < M; m++) {
            const float *x = inp + (size_t)m * C;
            const float *g = dout + (size_t)m * C;
            float *dx = dinp + (size_t)m * C;
            float mu = mean[m], r = rstd[m];
            /* mean_k dxhat_k and mean_k dxhat_k xhat_k */
            float s1 = 0.0f, s2 = 0.0f;
            for (int c = 0; c < C; c++) {
                float xh = (x[c] - mu) * r;
                float dxh = g[c] * w[c];
                s1 += dxh;
                s2 += dxh * xh;
            }
            s1 /= (float)C;
            s2 /= (float)C;
            for (int c = 0; c < C; c++) {
                float xh = (x[c] - mu) * r;
                float dxh = g[c] * w[c];
                dx[c] += r * (dxh - s1 - xh * s2);
            }
        }
    }
    if (dw || db) {
        for (int m = 0; m < M; m++) {
            const float *x = inp + (size_t)m * C;
            const float *g = dout + (size_t)m * C;
            float mu = mean[m], r = rstd[m];
            if (dw)
                for (int c = 0; c < C; c++) dw[c] += g[c] * (x[c] - mu) * r;
            if (db)
                for (int c = 0; c < C; c++) db[c] += g[c];
        }
    }
}
