/* conv1d.c: the depthwise 1-D convolution along the sequence of conv1d.h, forward and
 * backward (math there). h = (k - 1) / 2 (centred) or k - 1 (causal), the left reach.
 *
 * Forward, per output row (b, n), vectorised over the C channels:
 *   y[b, n, :] = bias + sum_{j : 0 <= t = n + j - h < N, m[b, t] = 1} w[j, :] * x[b, t, :]
 * Backward:
 *   input rows (b, t) with m[b, t] = 1:  dx[b, t, :] += sum_{j : 0 <= n = t - j + h < N}
 *                                                        w[j, :] * g[b, n, :]
 *   channel blocks [c0, c0 + CONV_CB):  dw[j, c] += sum_{b, n} g[b, n, c] m[b, t] x[b, t, c]
 *                                      dbias[c] += sum_{b, n} g[b, n, c]
 * Rows (forward, dx) and channel blocks (dw, dbias) are independent and run in parallel
 * (OpenMP) when the work is large; each is summed by one thread in a fixed order, so the
 * result is the same for any thread count. Nothing allocates. */
#include "nn/conv1d.h"

#include <assert.h>
#include <stddef.h>

#define CONV_PAR_MIN 32768 /* B*N*C*k below which a parallel region costs more than it saves */
#define CONV_CB 32         /* channels per weight-gradient block (one thread each) */

static int real(const uint8_t *mask, size_t bt) { return mask == NULL || mask[bt] != 0; }

int conv1d_reach(int k, int causal) { return causal ? k - 1 : (k - 1) / 2; }

void conv1d_dw_forward(float *y /* (B, N, C) */, const float *x /* (B, N, C) */,
                       const uint8_t *mask /* (B, N) or NULL */, const float *w /* (k, C) */,
                       const float *bias /* (C) */, int B, int N, int C, int k, int causal) {
    if (B <= 0 || N <= 0 || C <= 0) return;
    assert(k >= 1 && (causal || k % 2 == 1) && y != x);
    const int h = conv1d_reach(k, causal);
    const long M = (long)B * N;
    const int par = (size_t)M * (size_t)C * (size_t)k >= CONV_PAR_MIN;
    (void)par;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
    for (long r = 0; r < M; r++) {
        const long b = r / N;
        const int n = (int)(r - b * N);
        float *yr = y + (size_t)r * C; /* (C) */
        for (int c = 0; c < C; c++) yr[c] = bias[c];
        for (int j = 0; j < k; j++) {
            const int t = n + j - h;
            if (t < 0 || t >= N) continue;
            const size_t bt = (size_t)b * N + t;
            if (!real(mask, bt)) continue;
            const float *xt = x + bt * C, *wj = w + (size_t)j * C; /* (C), (C) */
            for (int c = 0; c < C; c++) yr[c] += wj[c] * xt[c];
        }
    }
}

void conv1d_dw_backward(float *dx /* (B, N, C) or NULL */, float *dw /* (k, C) or NULL */,
                        float *dbias /* (C) or NULL */, const float *dy /* (B, N, C) */,
                        const float *x /* (B, N, C) */, const uint8_t *mask /* (B, N) or NULL */,
                        const float *w /* (k, C) */, int B, int N, int C, int k,
                        int causal) {
    if (B <= 0 || N <= 0 || C <= 0) return;
    assert(k >= 1 && (causal || k % 2 == 1) && dx != dy);
    const int h = conv1d_reach(k, causal);
    const long M = (long)B * N;
    const int par = (size_t)M * (size_t)C * (size_t)k >= CONV_PAR_MIN;
    (void)par;
    if (dx) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
        for (long r = 0; r < M; r++) {
            if (!real(mask, (size_t)r)) continue;
            const long b = r / N;
            const int t = (int)(r - b * N);
            float *dxr = dx + (size_t)r * C; /* (C) */
            for (int j = 0; j < k; j++) {
                const int n = t - j + h;
                if (n < 0 || n >= N) continue;
                const float *g = dy + ((size_t)b * N + n) * C, *wj = w + (size_t)j * C;
                for (int c = 0; c < C; c++) dxr[c] += wj[c] * g[c];
            }
        }
    }
    if (dw || dbias) {
        const int nblk = (C + CONV_CB - 1) / CONV_CB;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par && nblk > 1)
#endif
        for (int blk = 0; blk < nblk; blk++) {
            const int c0 = blk * CONV_CB, c1 = c0 + CONV_CB < C ? c0 + CONV_CB : C;
            for (long r = 0; r < M; r++) {
                const long b = r / N;
                const int n = (int)(r - b * N);
                const float *g = dy + (size_t)r * C; /* (C) */
                if (dbias)
                    for (int c = c0; c < c1; c++) dbias[c] += g[c];
                if (!dw) continue;
                for (int j = 0; j < k; j++) {
                    const int t = n + j - h;
                    if (t < 0 || t >= N) continue;
                    const size_t bt = (size_t)b * N + t;
                    if (!real(mask, bt)) continue;
                    const float *xt = x + bt * C;
                    float *dwj = dw + (size_t)j * C;
                    for (int c = c0; c < c1; c++) dwj[c] += g[c] * xt[c];
                }
            }
        }
    }
}
