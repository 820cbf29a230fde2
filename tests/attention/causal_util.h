/* causal_util.h: what the causal tests of the attention layers share (test_causal_layers.c,
 * test_performer_causal.c): installing one kernel variant everywhere, the blocked kernel's
 * causal FLOPs written out item by item (independently of attn_variant_flops_causal), the
 * double-precision causal softmax of one query row, and the "later tokens change no earlier
 * row" check on a layer's inputs and outputs. Header-only (static), test code only. */
#ifndef DRRL_TESTS_ATTENTION_CAUSAL_UTIL_H
#define DRRL_TESTS_ATTENTION_CAUSAL_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attention/kernel.h"
#include "attention/tune.h"
#include "core/rng.h"

/* cu_use_variant: attn_kernel_forward runs v at every shape (one tuning entry: every lookup
   lands on it); cu_use_variant with kind < 0 restores the default */
static inline void cu_use_variant(AttnVariant v) {
    static AttnTune t;
    if (v.kind < 0) {
        attn_tune_use(NULL);
        return;
    }
    memset(&t, 0, sizeof t);
    t.n = 1, t.N[0] = 1 << 20, t.k[0] = 64, t.v[0] = v, t.sec[0] = t.sec_default[0] = 1e-3;
    attn_tune_use(&t);
}

/* cu_items_closed: f += the blocked kernel's causal FLOPs for `copies` (b, h) pairs of a
   segment of `rows` query rows at positions q0.. against N keys: items of R rows (flash: its
   rows; tiled, sgemm: block / N down to a multiple of 8 within [8, 128]; then at most N / 8
   down to a multiple of 8, but at least 8); per item of m rows
   at [P0, P1): products over min(N, P1) keys (2 m Nk kq + 2 m Nk kv), per row p the softmax
   over n = min(N, p + 1) keys (27 n) and its normalisation (kv), and for flash, per key
   block after the first holding one of its n keys, 1 + 1 + 24 + 2 + kv */
static inline void cu_items_closed(AttnFlops *f, AttnVariant v, int64_t copies, int64_t q0,
                                   int64_t rows, int64_t N, int64_t kq, int64_t kv) {
    int64_t R = v.kind == ATTN_VAR_FLASH ? v.rows : v.block / N / 8 * 8;
    if (v.kind != ATTN_VAR_FLASH) R = R < 8 ? 8 : R > 128 ? 128 : R;
    const int64_t cap = N / 64 * 8; /* causal: at most N / 8 rows (a multiple of 8, >= 8) */
    R = R < cap ? R : cap > 8 ? cap : 8;
    for (int64_t i0 = 0; i0 < rows; i0 += R) {
        const int64_t m = rows - i0 < R ? rows - i0 : R, P0 = q0 + i0, P1 = P0 + m;
        const int64_t Nk = P1 < N ? P1 : N;
        f->scores += copies * 2 * m * Nk * kq;
        f->values += copies * 2 * m * Nk * kv;
        for (int64_t p = P0; p < P1; p++) {
            const int64_t n = p + 1 < N ? p + 1 : N;
            f->softmax += copies * ((1 + 1 + 24 + 1) * n + kv);
            if (v.kind == ATTN_VAR_FLASH)
                for (int64_t j0 = v.block; j0 < n; j0 += v.block)
                    f->softmax += copies * (1 + 1 + 24 + 2 + kv);
        }
    }
}

/* cu_softmax_row: p[0..i] = the causal softmax of scores s[0..i] (position i keeps j <= i)
   over the keys keep (NULL: all) keeps; returns 0 if none is kept (p = 0) */
static inline int cu_softmax_row(double *p, const double *s, const int32_t *keep, int i) {
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j <= i; j++)
        if ((!keep || keep[j]) && s[j] > mx) mx = s[j];
    for (int j = 0; j <= i; j++) {
        p[j] = (!keep || keep[j]) ? exp(s[j] - mx) : 0.0;
        sum += p[j];
    }
    for (int j = 0; j <= i; j++) p[j] = sum > 0 ? p[j] / sum : 0.0;
    return sum > 0;
}

/* cu_perturb: rows t and N - 1 of every sequence of x (B, N, d) redrawn ~ N(0, 9) */
static inline void cu_perturb(float *x, int B, int N, int d, int t, Rng *r) {
    for (int b = 0; b < B; b++)
        for (int u = 0; u < 2; u++) {
            float *row = x + ((size_t)b * N + (u ? N - 1 : t)) * d;
            for (int c = 0; c < d; c++) row[c] = (float)(3 * rng_normal(r));
        }
}

/* cu_prefix_same: whether rows [0, t) of every sequence of a and b (B, N, d) are equal bit
   for bit; *changed: whether row t of sequence 0 differs */
static inline int cu_prefix_same(const float *a, const float *b, int B, int N, int d, int t,
                                 int *changed) {
    int same = 1;
    for (int s = 0; s < B; s++)
        same &= memcmp(a + (size_t)s * N * d, b + (size_t)s * N * d, sizeof(float) * t * d) == 0;
    *changed = memcmp(a + (size_t)t * d, b + (size_t)t * d, sizeof(float) * d) != 0;
    return same;
}

static inline int cu_flops_eq(const AttnFlops *a, const AttnFlops *b) {
    return a->proj == b->proj && a->factor == b->factor && a->scores == b->scores &&
           a->softmax == b->softmax && a->values == b->values && a->out == b->out;
}

#endif
