/* linear.c: fully connected layer on explicit buffers (llm.c style), all products via
 * cblas_sgemm, row-major.
 *
 * Forward:  out = inp W^T + b          out[m][o] = b[o] + sum_c inp[m][c] W[o][c]
 * Backward (L a scalar, dout = dL/dout):
 *   dL/dinp = dout W            (M, OC) x (OC, C)
 *   dL/dW   = dout^T inp        (OC, M) x (M, C)
 *   dL/db   = sum_m dout[m][:]
 * All gradients are accumulated (beta = 1 in sgemm). */
#include "nn/linear.h"

#include <cblas.h>
#include <stddef.h>

void linear_forward(float *out /* (M, OC) */, const float *inp /* (M, C) */,
                    const float *W /* (OC, C) */, const float *b /* (OC) or NULL */,
                    int M, int C, int OC) {
    if (M <= 0 || OC <= 0) return;
    float beta = 0.0f;
    if (b) {
        /* preload the bias into every row, then sgemm adds inp W^T (beta = 1) */
        for (int m = 0; m < M; m++) {
            float *o = out + (size_t)m * OC;
            for (int j = 0; j < OC; j++) o[j] = b[j];
        }
        beta = 1.0f;
    }
    if (C <= 0) {
        if (!b)
            for (size_t i = 0; i < (size_t)M * OC; i++) out[i] = 0.0f;
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, OC, C, 1.0f, inp, C, W, C, beta,
                out, OC);
}

void linear_backward(float *dinp /* (M, C) or NULL */, float *dW /* (OC, C) or NULL */,
                     float *db /* (OC) or NULL */, const float *dout /* (M, OC) */,
                     const float *inp /* (M, C) */, const float *W /* (OC, C) */,
                     int M, int C, int OC) {
    if (M <= 0 || OC <= 0) return;
    if (C > 0) {
        /* dinp (M, C) += dout (M, OC) @ W (OC, C) */
        if (dinp)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, C, OC, 1.0f, dout, OC, W,
                        C, 1.0f, dinp, C);
        /* dW (OC, C) += dout^T (OC, M) @ inp (M, C) */
        if (dW)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, M, 1.0f, dout, OC, inp,
                        C, 1.0f, dW, C);
    }
    /* db (OC) += sum over rows of dout */
    if (db) {
        for (int m = 0; m < M; m++) {
            const float *d = dout + (size_t)m * OC;
            for (int j = 0; j < OC; j++) db[j] += d[j];
        }
    }
}

int64_t linear_flops(int64_t M, int64_t C, int64_t OC) { return 2 * M * C * OC; }

int64_t linear_bias_flops(int64_t M, int64_t OC) { return M * OC; }
