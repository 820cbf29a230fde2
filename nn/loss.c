/* loss.c: softmax cross-entropy from logits, mean over non-ignored examples.
 * Per row z (C) with target t, using m = max_k z_k for numerical stability:
 *   lse = m + log sum_k exp(z_k - m),   loss = lse - z_t = -log softmax(z)_t,
 *   probs_c = exp(z_c - m) / sum_k exp(z_k - m).
 * Mean loss L = (1 / B_valid) sum_{t_b != -1} loss_b, and
 *   dL/dz_{b,c} = (probs_{b,c} - [c == t_b]) / B_valid   (0 for ignored rows).
 * The row sums use double accumulation. */
#include "nn/loss.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

float crossentropy_forward(float *losses /* (B) */, float *probs /* (B, C) */,
                           const float *logits /* (B, C) */, const int32_t *targets /* (B) */,
                           int B, int C) {
    double total = 0.0;
    int valid = 0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * C;
        float *p = probs + (size_t)b * C;
        int32_t t = targets[b];
        assert(t == CE_IGNORE || (t >= 0 && t < C));
        float m = z[0];
        for (int c = 1; c < C; c++)
            if (z[c] > m) m = z[c];
        double s = 0.0;
        for (int c = 0; c < C; c++) {
            float e = expf(z[c] - m);
            p[c] = e;
            s += e;
        }
        float inv = (float)(1.0 / s);
        for (int c = 0; c < C; c++) p[c] *= inv;
        if (t == CE_IGNORE) {
            losses[b] = 0.0f;
        } else {
            double l = log(s) + (double)m - (double)z[t];
            losses[b] = (float)l;
            total += l;
            valid++;
        }
    }
    return valid ? (float)(total / valid) : 0.0f;
}

void crossentropy_backward(float *dlogits /* (B, C) */, const float *probs /* (B, C) */,
                           const int32_t *targets /* (B) */, float dloss, int B, int C) {
    int valid = 0;
    for (int b = 0; b < B; b++) valid += targets[b] != CE_IGNORE;
    if (!valid) return;
    float s = dloss / (float)valid;
    for (int b = 0; b < B; b++) {
        int32_t t = targets[b];
        if (t == CE_IGNORE) continue;
        const float *p = probs + (size_t)b * C;
        float *d = dlogits + (size_t)b * C;
        for (int c = 0; c < C; c++) d[c] += s * (p[c] - (c == t ? 1.0f : 0.0f));
    }
}
