/* baselines_util.h: what the tests of the static baselines (test_baselines.c,
 * test_baselines_approx.c) share: normal fills, random MHSA weights and the exact layer
 * (nn/mhsa.h) as the reference. Header-only (static), test code only. */
#ifndef DRRL_TESTS_ATTENTION_BASELINES_UTIL_H
#define DRRL_TESTS_ATTENTION_BASELINES_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/mhsa.h"

/* fill_normal: x (n) ~ N(0, s^2) */
static inline void fill_normal(float *x, size_t n, double s, Rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(s * rng_normal(r));
}

typedef struct {
    float *buf;   /* (4 C C + 4 C) */
    MhsaParams p; /* views into buf */
} Weights;

/* weights_init: weights ~ N(0, ws^2), biases ~ N(0, bs^2), in one buffer; free(w->buf) */
static inline void weights_init(Weights *w, int C, double ws, double bs, Rng *r) {
    size_t sz[MHSA_NPARAMS];
    size_t total = mhsa_param_sizes(sz, C);
    w->buf = calloc(total, sizeof(float));
    mhsa_params_point(&w->p, w->buf, C);
    float *off = w->buf;
    for (int i = 0; i < MHSA_NPARAMS; i++) {
        fill_normal(off, sz[i], i % 2 == 0 ? ws : bs, r);
        off += sz[i];
    }
}

/* exact layer (nn/mhsa.h) for reference: out (B, N, C), a (B, N, C) attention output */
static inline void exact_layer(float *out, float *a, const float *x, const int32_t *mask,
                               const MhsaParams *p, int B, int N, int C, int H) {
    MhsaSizes s = mhsa_buffer_sizes(B, N, C, H, attention_max_threads(), 0);
    MhsaActs acts = {calloc(s.q, 4), calloc(s.k, 4), calloc(s.v, 4), NULL, calloc(s.a, 4),
                     calloc(s.scratch, 4), s.scratch};
    mhsa_forward(out, &acts, x, attn_mask_i32(mask), p, B, N, C, H);
    if (a) memcpy(a, acts.a, s.a * sizeof(float));
    free(acts.q), free(acts.k), free(acts.v), free(acts.a), free(acts.scratch);
}

#endif
